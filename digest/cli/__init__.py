"""The command line: a thin click layer over the library (digest.pipeline, digest.compose,
digest.deliver, digest.preview)."""

from digest.cli import compose, deliver, site  # noqa: F401 - each registers its commands on main
from digest.cli.common import main
from digest.cli.site import serve

__all__ = ["main", "serve"]
