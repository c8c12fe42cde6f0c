"""Local images (issue 21): image.src as a file in images/, checked at its line, part of the issue's
cache key, published once per content as images/<hash>.<ext>, resized and stripped of metadata."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, build, run
from PIL import Image, PngImagePlugin

from digest.core import images
from digest.core.cachedir import newsletter_cache
from digest.core.config import load_config
from digest.core.issues import load_issue
from digest.pipeline.build import context, read_sources
from digest.pipeline.cache import Cache, issue_keys
from digest.render.images import publish

SERIAL = "CAM-SERIAL-0042917"
ISSUE = """\
    date: 2024-01-05
    sections:
      - title: News
        items:
          - title: The market
            url: https://example.com/a
            image:
              src: {src}
              alt: The market square at noon
    """
SRC_LINE = 8


def photo(size: tuple[int, int] = (3000, 2000), orientation: int | None = None, colour: int = 0) -> bytes:
    """A JPEG as a phone writes one: EXIF with GPS position, camera make and serial number, and XMP."""
    im = Image.new("RGB", size, (200, 30 + colour, 30))
    im.paste((20, 20, 160), (0, 0, size[0] // 3, size[1] // 2))  # a corner to tell orientation by
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0131] = "Firmware 1.2"  # Software
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber
    exif.get_ifd(0x8825).update({1: "N", 2: (41.0, 19.0, 42.5), 3: "E", 4: (19.0, 49.0, 7.25)})  # GPS: Tirana
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description serial="{SERIAL}"/></rdf:RDF></x:xmpmeta>'
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), xmp=xmp.encode(), comment=f"shot by {SERIAL}", quality=90)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Photographer")
    info.add_itxt("Comment", f"camera {SERIAL}")
    out = io.BytesIO()
    Image.new("RGBA", (1600, 400), (0, 128, 0, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def local(newsletter) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    root = newsletter(issues={"0001.yaml": ISSUE.format(src="images/tirana.jpg")})
    (root / "images").mkdir()
    (root / "images" / "tirana.jpg").write_bytes(photo())
    yield root


def problems_of(root: Path) -> list[str]:
    config = load_config(root)
    issue, problems = load_issue(config, 1, root / "issues" / "0001.yaml", "issues/0001.yaml")
    return [str(p) for p in problems]


# --- validation ---------------------------------------------------------------------------------


def test_a_local_image_becomes_its_published_name_and_size(local: Path) -> None:
    config = load_config(local)
    issue, problems = load_issue(config, 1, local / "issues" / "0001.yaml", "issues/0001.yaml")
    assert problems == [] and issue is not None
    (image,) = issue.local_images
    name = images.published_name(photo(), "jpg")
    assert (image.path, image.file, image.width, image.height) == ("images/tirana.jpg", name, 1200, 800)
    assert image.src == config.url + name and image.alt == "The market square at noon"


@pytest.mark.parametrize(
    ("src", "files", "message"),
    [
        (
            "images/gone.jpg",
            {},
            "images/gone.jpg not found: put the file in the newsletter's images/ folder, or correct the path",
        ),
        (
            "images/notes.jpg",
            {"notes.jpg": b"just text\n"},
            "images/notes.jpg is not an image digest can publish (JPEG, PNG, GIF or WebP), judged by its bytes",
        ),
        (
            "images/../config.yaml",
            {},
            "'images/../config.yaml' may not use '..', '.' or '//': a local image is a"
            " file in the newsletter's images/ folder, written like images/photo.jpg",
        ),
        (
            "/etc/passwd",
            {},
            "'/etc/passwd' is an absolute path: a local image is a file in the newsletter's"
            " images/ folder, written like images/photo.jpg (or an http(s) URL)",
        ),
        (
            "photo.jpg",
            {},
            "must be an http(s) URL or a file in the newsletter's images/ folder (like"
            " images/photo.jpg), got 'photo.jpg'",
        ),
    ],
)
def test_a_bad_local_image_is_an_error_at_its_src_line(
    newsletter,
    src: str,
    files: dict[str, bytes],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    root = newsletter(issues={"0001.yaml": ISSUE.format(src=src)})
    (root / "images").mkdir()
    for name, data in files.items():
        (root / "images" / name).write_bytes(data)
    assert problems_of(root) == [f"issues/0001.yaml:{SRC_LINE}: sections[1].items[1].image.src: {message}"]


def test_an_image_over_10_mb_is_an_error_and_is_not_read(local: Path) -> None:
    with (local / "images" / "tirana.jpg").open("r+b") as f:
        f.truncate(images.MAX_BYTES + 1)
    assert problems_of(local) == [
        f"issues/0001.yaml:{SRC_LINE}: sections[1].items[1].image.src: images/tirana.jpg is 10,000,001 bytes; an"
        " image may be at most 10 MB (10,000,000 bytes): make it smaller (it is published at most 1,200 pixels"
        " wide anyway)"
    ]


def test_an_unused_file_in_images_is_ignored(local: Path) -> None:
    (local / "images" / "notes.txt").write_text("not an image, and nobody's\n")
    (local / "images" / "huge.jpg").write_bytes(b"\0" * (images.MAX_BYTES + 1))
    assert problems_of(local) == []
    assert run("build", "--root", str(local)).exit_code == 0
    assert sorted(p.name for p in (local / "site" / "images").iterdir()) == [
        images.published_name(photo(), "jpg").removeprefix("images/")
    ]


def test_the_cli_reports_a_missing_image_in_digests_form(newsletter) -> None:  # type: ignore[no-untyped-def]
    root = newsletter(issues={"0001.yaml": ISSUE.format(src="images/gone.jpg")})
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"issues/0001.yaml:{SRC_LINE}: sections[1].items[1].image.src: images/gone.jpg not found: put the file in"
        " the newsletter's images/ folder, or correct the path"
    )


# --- the published file -------------------------------------------------------------------------


def test_the_published_image_has_no_metadata_at_all() -> None:
    data = photo()
    out = publish(data, (1200, 800), "jpg")
    im = Image.open(io.BytesIO(out))
    assert im.format == "JPEG" and im.size == (1200, 800)
    assert dict(im.getexif()) == {}
    assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(im.info)
    for leak in (SERIAL.encode(), b"PhoneMaker", b"Model X", b"Firmware", b"Exif", b"xmpmeta", b"GPS"):
        assert leak not in out, leak
    assert SERIAL.encode() in data and b"Exif" in data  # the source had them


def test_png_text_chunks_and_icc_profiles_are_dropped_and_transparency_kept() -> None:
    from PIL import ImageCms

    source = Image.open(io.BytesIO(png_with_text()))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    source.save(buf, "PNG", pnginfo=PngImagePlugin.PngInfo(), icc_profile=profile)
    text_png = png_with_text()
    for data in (text_png, buf.getvalue()):
        out = publish(data, (1200, 300), "png")
        im = Image.open(io.BytesIO(out))
        assert im.size == (1200, 300) and im.mode == "RGBA" and im.getpixel((10, 10))[3] == 128
        assert not {"icc_profile", "exif", "Author", "Comment"} & set(im.info)
        for chunk in (b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"eXIf", b"Jane", SERIAL.encode()):
            assert chunk not in out, chunk


def test_a_3000_px_image_is_published_1200_px_wide_with_its_aspect_ratio() -> None:
    for size, expected in [((3000, 2000), (1200, 800)), ((3001, 1999), (1200, 799)), ((800, 600), (800, 600))]:
        data = photo(size)
        local = images.inspect("images/x.jpg", data)
        assert (local.width, local.height) == expected
        assert Image.open(io.BytesIO(publish(data, expected, "jpg"))).size == expected


def test_the_orientation_is_applied_before_the_metadata_goes() -> None:
    data = photo((3000, 2000), orientation=6)  # stored landscape, shown portrait (turned 90° clockwise)
    local = images.inspect("images/x.jpg", data)
    assert (local.width, local.height) == (1200, 1800)
    im = Image.open(io.BytesIO(publish(data, (1200, 1800), "jpg"))).convert("RGB")
    assert im.size == (1200, 1800) and dict(im.getexif()) == {}
    # The blue corner, top left as stored, is top right once turned clockwise.
    r, g, b = im.getpixel((1200 - 50, 50))  # type: ignore[misc]
    assert b > 120 and r < 80


def test_the_same_image_gives_the_same_bytes_here_and_in_another_process(tmp_path: Path) -> None:
    data = photo()
    first = publish(data, (1200, 800), "jpg")
    assert publish(data, (1200, 800), "jpg") == first
    (tmp_path / "in.jpg").write_bytes(data)
    code = (
        "import sys; from pathlib import Path; from digest.render.images import publish;"
        "sys.stdout.buffer.write(publish(Path(sys.argv[1]).read_bytes(), (1200, 800), 'jpg'))"
    )
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path / "in.jpg")], capture_output=True, check=True)
    assert other.stdout == first


# --- the build ----------------------------------------------------------------------------------


def _html(root: Path, name: str) -> str:
    return (root / "site" / "issues" / "1" / name).read_text(encoding="utf-8")


def test_the_build_publishes_the_image_and_names_its_size_in_the_html(local: Path) -> None:
    build(local)
    name = images.published_name(photo(), "jpg")
    url = load_config(local).url + name
    email, page, text = _html(local, "email.html"), _html(local, "index.html"), _html(local, "email.txt")
    assert f'<img alt="The market square at noon" height="368" src="{url}" width="552"' in email
    assert "height:auto" in email.split(url)[1].split(">")[0]  # the style leaves the height to the width
    assert f'<img src="{url}" alt="The market square at noon" width="1200" height="800"' in page
    assert "tirana" not in email + page and "images/" not in text
    assert Image.open(local / "site" / name).size == (1200, 800)


def test_a_changed_image_gets_a_new_name_and_rebuilds_the_issue(local: Path) -> None:
    build(local)
    old = images.published_name(photo(), "jpg")
    (local / "images" / "tirana.jpg").write_bytes(photo(colour=90))
    new = images.published_name(photo(colour=90), "jpg")
    assert new != old
    report = build(local)
    assert report.changed == 1
    assert sorted(str(p.relative_to(local / "site")) for p in (local / "site" / "images").iterdir()) == [new]
    assert new in _html(local, "email.html") and old not in _html(local, "email.html")


def test_an_unchanged_build_rewrites_nothing_and_an_edit_reuses_the_image(local: Path) -> None:
    build(local)
    name = images.published_name(photo(), "jpg")

    def stamps() -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(local / "site")): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (local / "site").rglob("*")
            if p.is_file()
        }

    before = stamps()
    assert build(local).changed == 0
    assert stamps() == before
    issue = local / "issues" / "0001.yaml"
    issue.write_text(issue.read_text().replace("The market", "The old market"))
    assert build(local).changed == 1
    after = stamps()
    assert after[name] == before[name]  # not made again: same content, same key
    assert after["issues/1/email.html"] != before["issues/1/email.html"]


def test_an_image_used_by_two_issues_is_published_once(local: Path) -> None:
    text = (local / "issues" / "0001.yaml").read_text()
    (local / "issues" / "0002.yaml").write_text(text.replace("2024-01-05", "2024-01-12"))
    build(local)
    assert len(list((local / "site" / "images").iterdir())) == 1


def test_drafts_images_never_reach_the_site(local: Path) -> None:
    text = (local / "issues" / "0001.yaml").read_text()
    (local / "issues" / "0002.yaml").write_text("draft: true\n" + text.replace("tirana", "draft"))
    (local / "images" / "draft.jpg").write_bytes(photo(colour=60))
    build(local)
    assert [p.name for p in (local / "site" / "images").iterdir()] == [
        images.published_name(photo(), "jpg").removeprefix("images/")
    ]


def test_the_cache_key_follows_the_images_an_issue_names_and_no_other_file(local: Path) -> None:
    ctx = context(load_config(local))
    sources = read_sources(ctx.config)
    cache = Cache(newsletter_cache(local))
    before = issue_keys(ctx, sources, cache)
    (local / "images" / "unused.jpg").write_bytes(photo(colour=10))
    assert issue_keys(ctx, sources, cache) == before == issue_keys(ctx, sources)
    (local / "images" / "tirana.jpg").write_bytes(photo(colour=10))
    assert issue_keys(ctx, sources, cache) != before


def test_a_path_the_key_cannot_see_is_an_error(newsletter) -> None:  # type: ignore[no-untyped-def]
    # YAML escapes spell images/tirana.jpg without its letters in a row: the key would not follow the file.
    root = newsletter(issues={"0001.yaml": ISSUE.format(src='"images/tir\\x61na.jpg"')})
    (root / "images").mkdir()
    (root / "images" / "tirana.jpg").write_bytes(photo())
    assert problems_of(root) == [f"issues/0001.yaml:{SRC_LINE}: sections[1].items[1].image.src: {images.HIDDEN}"]


def test_paths_with_spaces_and_other_scripts_are_found_for_the_key() -> None:
    text = "src: images/Tirana market (1).jpg  # the square\n{src: 'images/بازار.png', alt: x}\n"
    assert images.referenced(text.encode()) == ["images/Tirana market (1).jpg", "images/بازار.png"]


# --- data safety --------------------------------------------------------------------------------


def watched(command: str, root: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``digest command --root root`` in a process whose audit hook writes "OPENED path" on stderr for
    every file opened under ``folder`` (Python's open and os.open both raise the "open" event)."""
    watcher = (
        "import runpy, sys\n"
        f"folder = {str(folder)!r}\n"
        "def hook(event, args):\n"
        "    if event == 'open' and str(args[0]).startswith(folder):\n"
        "        sys.stderr.write(f'OPENED {args[0]}\\n')\n"
        "sys.addaudithook(hook)\n"
        f"sys.argv = ['digest', {command!r}, '--root', sys.argv[1]]\n"
        "runpy.run_module('digest', run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", watcher, str(root)], capture_output=True, text=True, env=env)


def test_a_no_op_build_does_not_read_the_images_again(local: Path) -> None:
    first = watched("build", local, local / "images")
    assert first.returncode == 0 and "OPENED" in first.stderr  # the hook sees the image being read
    again = watched("build", local, local / "images")
    assert again.returncode == 0 and "OPENED" not in again.stderr, again.stderr  # known by its stat
    assert "(0 changed)" in again.stdout


def test_a_symlink_out_of_the_newsletter_is_an_error_and_nothing_outside_is_opened(local: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(photo(colour=40))
    os.mkfifo(outside / "pipe.jpg")  # opened for reading, it would wait for a writer: the build would hang
    (local / "images" / "tirana.jpg").unlink()
    (local / "images" / "tirana.jpg").symlink_to(outside / "secret.jpg")
    (local / "images" / "pipe.jpg").symlink_to(outside / "pipe.jpg")
    (local / "images" / "album").symlink_to(outside, target_is_directory=True)
    two = ISSUE.format(src="images/pipe.jpg").replace("2024-01-05", "2024-01-12")
    three = ISSUE.format(src="images/album/secret.jpg").replace("2024-01-05", "2024-01-19")
    (local / "issues" / "0002.yaml").write_text(textwrap.dedent(two))
    (local / "issues" / "0003.yaml").write_text(textwrap.dedent(three))
    done = watched("build", local, outside)
    assert done.returncode == 1 and "OPENED" not in done.stderr, done.stderr
    key = "sections[1].items[1].image.src"
    assert done.stderr.splitlines() == [
        f"issues/0001.yaml:{SRC_LINE}: {key}: images/tirana.jpg is a symlink to a file outside the newsletter folder;"
        " refusing to read it",
        f"issues/0002.yaml:{SRC_LINE}: {key}: images/pipe.jpg is a symlink to a file outside the newsletter folder;"
        " refusing to read it",
        f"issues/0003.yaml:{SRC_LINE}: {key}: images/album is a symlink to a folder outside the newsletter folder;"
        " refusing to read it",
        "3 errors; nothing was written",
    ]
    assert not (local / "site").exists()


# --- the preview --------------------------------------------------------------------------------


def test_the_preview_serves_local_images_and_follows_a_replaced_one(local: Path) -> None:
    from digest.preview.pages import local_images
    from digest.preview.site import PreviewSite

    site = PreviewSite(local)
    assert site.reload()
    email = site.render(1).outputs["email.html"]  # type: ignore[index]
    name = images.published_name(photo(), "jpg")
    assert site.file(name) == publish(photo(), (1200, 800), "jpg")
    shown = local_images(email, site.config)
    assert f'src="/{name}"'.encode() in shown and b"https://" not in shown.split(b"<img")[1].split(b">")[0]
    (local / "images" / "tirana.jpg").write_bytes(photo(colour=90))
    assert site.update([local / "images" / "tirana.jpg"]) == {1}
    new = images.published_name(photo(colour=90), "jpg")
    assert new.encode() in site.render(1).outputs["email.html"]  # type: ignore[index]
    assert site.file(new) is not None and site.file(name) is None


@pytest.mark.slow  # a server on 127.0.0.1
def test_the_preview_server_answers_the_image_and_points_the_email_at_it(local: Path) -> None:
    from test_server import fetch, running

    from digest.preview.server import Reloader, make_preview_server
    from digest.preview.site import PreviewSite

    site = PreviewSite(local)
    assert site.reload()
    reloader = Reloader()
    name = images.published_name(photo(), "jpg")
    with running(make_preview_server(site, reloader, port=0), reloader) as port:
        status, headers, body = fetch(port, "/preview/1/email.html")
        assert status == 200 and f'src="/{name}"'.encode() in body and b"https://test.example.org/images" not in body
        status, headers, page = fetch(port, "/issues/1/")
        assert status == 200 and f'src="/{name}"'.encode() in page
        status, headers, image = fetch(port, f"/{name}")
        assert (status, headers["content-type"]) == (200, "image/jpeg")
        assert Image.open(io.BytesIO(image)).size == (1200, 800)
        assert fetch(port, "/images/tirana.jpg")[0] == 404  # only what the site publishes, never a source file
