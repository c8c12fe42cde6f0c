"""digest: a weekly curated newsletter from YAML to email, web archive and feeds.

The library API is :func:`digest.build.build` and :func:`digest.build.check`.
"""

__version__ = "0.1.0"
