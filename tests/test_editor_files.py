"""The editor's other writes: images into images/ (digest.compose.images) and git commits (digest.compose.git)."""

from __future__ import annotations

import io
import os
import subprocess
from email.message import Message
from pathlib import Path

import pytest
from conftest import run
from editorkit import REL, editor_newsletter
from PIL import Image

from digest.compose import git
from digest.compose.images import safe_stem, save_image
from digest.core import images
from digest.core.errors import DigestError
from digest.preview.guard import Guard, body_length, is_loopback


def _image(kind: str = "JPEG", size: tuple[int, int] = (4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


def test_an_image_is_saved_under_a_safe_name_with_its_formats_extension(tmp_path: Path) -> None:
    jpeg = _image()
    assert save_image(tmp_path, "Tirana Square.JPEG", jpeg) == "images/tirana-square.jpg"
    assert (tmp_path / "images" / "tirana-square.jpg").read_bytes() == jpeg
    assert (
        save_image(tmp_path, "tirana-square.png", jpeg) == "images/tirana-square.jpg"
    )  # the same bytes: the same file
    other = _image(size=(5, 5))
    assert save_image(tmp_path, "tirana-square.jpg", other) == "images/tirana-square-2.jpg"  # never replaced
    assert (tmp_path / "images" / "tirana-square.jpg").read_bytes() == jpeg
    assert save_image(tmp_path, "x.jpg", _image("PNG")) == "images/x.png"
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "tirana-square-2.jpg",
        "tirana-square.jpg",
        "x.png",
    ]


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("../../etc/passwd", "passwd"),
        (".hidden.jpg", "hidden"),
        ("Ünïcode ñame.jpg", "unicode-name"),
        ("..\\win\\x.jpg", "x"),
        ("???.jpg", "image"),
        ("", "image"),
        ("عکسِ آب و میدان\u200cها.jpg", "عکس-آب-و-میدان-ها"),  # Persian stays Persian: its vowel signs and ZWNJ go
        ("Ωmega_ΣIGMA.png", "ωmega_σigma"),
    ],
)
def test_names_are_made_safe(name: str, stem: str) -> None:
    assert safe_stem(name) == stem


def test_what_is_not_an_image_or_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="is not an image"):
        save_image(tmp_path, "a.jpg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(DigestError, match="is not an image"):
        save_image(tmp_path, "a.jpg", _image()[:40])  # cut short
    with pytest.raises(DigestError, match=r"^images: a\.jpg is 10,000,\d{3} bytes; an image may be at most 10 MB "):
        save_image(tmp_path, "a.jpg", _image() + b"\0" * images.MAX_BYTES)
    assert not (tmp_path / "images").exists()


def test_an_upload_is_refused_in_the_words_build_uses(tmp_path: Path) -> None:
    bmp = _image("BMP")
    with pytest.raises(DigestError) as caught:
        save_image(tmp_path, "../scans/Map.bmp", bmp)
    assert [str(p) for p in caught.value.problems] == [
        "images: Map.bmp is not an image digest can publish (JPEG, PNG, GIF or WebP), judged by its bytes"
    ]
    with pytest.raises(images.Unusable) as build_says:
        images.examine("Map.bmp", bmp)
    assert caught.value.problems[0].message == str(build_says.value)
    assert not (tmp_path / "images").exists()


@pytest.mark.parametrize(
    "name",
    ["Tirana Square.JPEG", "../../x.png", "تیرانا.jpg", "a" * 70 + "-b.jpg", "-_-.gif", "photo (1) [final].webp"],
)
def test_an_uploaded_image_saved_into_an_item_passes_validation(tmp_path: Path, name: str) -> None:
    root = editor_newsletter(tmp_path / "news")
    rel = save_image(root, name, _image())
    assert images.path_problem(rel) is None and images.written_plainly(rel), rel
    issue = root / REL
    text = issue.read_text(encoding="utf-8")
    old = "image: {src: https://example.org/a.jpg, alt: A photo}"
    assert text.count(old) == 1
    issue.write_text(text.replace(old, f"image: {{src: {rel}, alt: A photo}}"), encoding="utf-8")
    result = run("check", "--root", str(root))
    assert result.exit_code == 0, result.output


def test_a_symlinked_images_folder_or_file_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "news"
    root.mkdir()
    os.symlink(outside, root / "images")
    with pytest.raises(DigestError, match="is not a folder"):
        save_image(root, "a.jpg", _image())
    os.unlink(root / "images")
    (root / "images").mkdir()
    os.symlink(outside / "a.jpg", root / "images" / "a.jpg")  # a dangling link in the way
    assert save_image(root, "a.jpg", _image()) == "images/a-2.jpg"
    assert list(outside.iterdir()) == []


def test_commit_message_and_commit(tmp_path: Path) -> None:
    root = editor_newsletter(tmp_path / "news", git=True)
    text = (root / REL).read_text(encoding="utf-8")
    text = text.replace("summary: Short and plain.", "summary: Edited.").replace("draft: true", "draft: false")
    more = "  - title: More\n    items:\n      - title: A\n        url: https://a.example/\n"
    more += "      - title: B\n        url: https://b.example/\n"
    text = text.replace("\noutro:", more + "\noutro:")
    (root / REL).write_text(text, encoding="utf-8")
    (root / "images").mkdir()
    (root / "images" / "a.jpg").write_bytes(_image())
    (root / "notes.txt").write_text("not the editor's", encoding="utf-8")
    assert git.is_repository(root)
    assert git.changed(root, REL) == ["images/a.jpg", REL]
    message = git.default_message(root, 5, REL)
    assert message == "Issue 5: publish, add 2 links, edit 1, add 1 section, add 1 image"
    assert git.commit(root, REL, message).endswith(" " + message)
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert status == "?? notes.txt\n"  # only the issue and images/ were committed
    with pytest.raises(DigestError, match="has no changes to commit"):
        git.commit(root, REL, "again")


def test_not_a_repository(tmp_path: Path) -> None:
    assert not git.is_repository(editor_newsletter(tmp_path / "news"))


def test_the_default_message_counts_what_a_reviewer_would() -> None:
    from digest.compose.git import _changes

    def issue(*sections: tuple[str, list[str]], draft: bool = True) -> dict[str, object]:
        return {"draft": draft, "sections": [{"title": t, "items": [{"url": u} for u in urls]} for t, urls in sections]}

    before = issue(("A", ["1", "2", "3"]), ("B", ["4"]))
    assert _changes(before, issue(("A", ["2", "3"]), ("B", ["4", "1"]), draft=False)) == ["publish", "move 1"]
    assert _changes(before, issue(("A", ["2", "1", "3"]), ("B", ["4"]), ("C", []))) == ["move 1", "add 1 section"]
    assert _changes(before, issue(("A", ["1", "5", "6"]), ("B2", ["4"]))) == ["add 2 links", "remove 2", "edit 1"]
    assert _changes(before, before) == []


def _headers(**given: str) -> Message:
    m = Message()
    for k, v in given.items():
        m[k.replace("_", "-")] = v
    return m


def test_the_guard_of_editor_requests() -> None:
    guard = Guard("127.0.0.1", 8000)
    token = {"X_Digest_Token": guard.token}
    assert guard.refusal(_headers(Host="127.0.0.1:8000", **token), changing=True) is None
    assert (
        guard.refusal(_headers(Host="localhost:8000", Origin="http://localhost:8000", **token), changing=True) is None
    )
    assert guard.refusal(_headers(Host="127.0.0.1:8000"), changing=False) is None  # the page: no token yet
    refused = {
        "no Host": _headers(**token),
        "rebound": _headers(Host="attacker.example:8000", **token),
        "other port": _headers(Host="127.0.0.1:8001", **token),
        "other origin": _headers(Host="127.0.0.1:8000", Origin="http://127.0.0.1:8001", **token),
        "https origin": _headers(Host="127.0.0.1:8000", Origin="https://127.0.0.1:8000", **token),
        "cross-site": _headers(Host="127.0.0.1:8000", Sec_Fetch_Site="same-site", **token),
        "no token": _headers(Host="127.0.0.1:8000"),
        "a token's prefix": _headers(Host="127.0.0.1:8000", X_Digest_Token=guard.token[:-1]),
    }
    for why, headers in refused.items():
        assert guard.refusal(headers, changing=True) is not None, why
    assert Guard("127.0.0.1", 8000).token != guard.token  # one per start
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")
    assert Guard("::1", 8000).hosts == {"[::1]:8000", "localhost:8000", "127.0.0.1:8000"}
    assert body_length(_headers(Content_Length="10"), 5) == (None, "the body is larger than 5 bytes")
    assert body_length(_headers(Content_Length="-1"), 5)[0] is None
    assert body_length(_headers(Content_Length="5"), 5) == (5, "")
