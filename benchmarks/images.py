"""What local images cost a build: ``python -m benchmarks.images [--issues 200] [--images 20]``.

The synthetic newsletter of ``benchmarks.bench`` with a local photo (3000 × 2000 JPEG with EXIF,
made here) on every issue's first item, ``--images`` photos shared round robin.  Each build runs
in a fresh process (benchmarks.builds): a full build, a no-op, an edit of the newest issue's text,
and one photo replaced (every issue that shows it is rendered again).  For each it prints the CPU
seconds, the issues rendered, and the published images written (the others were left as they were:
an image is made once per content, not per issue, and not when nothing changed).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
from pathlib import Path

from benchmarks.builds import Digest
from benchmarks.newsletter import edit_newest, make_newsletter


def photo(seed: int) -> bytes:
    """A 3000 × 2000 camera-like JPEG (gradients and grain, EXIF with GPS and a serial), about 1-2 MB."""
    from PIL import Image

    rng = random.Random(seed)
    small = Image.new("RGB", (60, 40))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(60 * 40)])
    im = small.resize((3000, 2000), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((3000, 2000), 24).convert("RGB")
    im = Image.blend(im, grain, 0.15)
    exif = Image.Exif()
    exif[0x010F] = "Bench Camera"
    exif.get_ifd(0x8769)[0xA431] = f"SERIAL-{seed:06d}"
    exif.get_ifd(0x8825).update({1: "N", 2: (41.0, 19.0, 42.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def make(root: Path, issues: int, photos: int) -> None:
    make_newsletter(root, issues)
    (root / "images").mkdir()
    for n in range(photos):
        (root / "images" / f"photo-{n}.jpg").write_bytes(photo(n))
    for path in sorted((root / "issues").glob("*.yaml")):
        number = int(path.stem)
        text = path.read_text(encoding="utf-8")
        first = text.index("        source: ")  # the first item's source line: its image goes before it
        image = f"        image: {{src: images/photo-{number % photos}.jpg, alt: A photo from the bench}}\n"
        path.write_text(text[:first] + image + text[first:], encoding="utf-8")


def _stamps(site: Path) -> dict[str, tuple[int, int]]:
    folder = site / "images"
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()} if folder.is_dir() else {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=200, help="synthetic issues (default 200)")
    parser.add_argument("--images", type=int, default=20, help="photos, shared round robin (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="digest-images-bench-") as tmp:
        root = Path(tmp) / "news"
        make(root, args.issues, args.images)
        size = sum(p.stat().st_size for p in (root / "images").iterdir())
        print(f"{args.issues} issues, {args.images} photos of 3000 × 2000 ({size / 1e6:.1f} MB in images/)")
        ours = Digest("this checkout", sys.executable, Path(tmp) / "home", str(Path(__file__).resolve().parents[1]))
        steps = [
            ("full build", lambda: None),
            ("no-op", lambda: None),
            ("edit the newest issue's text", lambda: edit_newest(root, 1)),
            ("replace one photo", lambda: (root / "images" / "photo-0.jpg").write_bytes(photo(10_000))),
        ]
        print("| build | CPU s | wall s | issues rendered | images written |\n|---|---|---|---|---|")
        for name, change in steps:
            change()
            before = _stamps(root / "site")
            run = ours.timed_build(root)
            after = _stamps(root / "site")
            written = sum(1 for k, v in after.items() if before.get(k) != v)
            print(
                f"| {name} | {run['cpu']:.2f} | {run['seconds']:.2f} | {run['changed']} | {written} of {len(after)} |"
            )


if __name__ == "__main__":
    main()
