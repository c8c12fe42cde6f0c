"""`digest new`: the next issue as a draft file that already passes `digest check`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL_CONFIG, MINIMAL_ISSUE, immutable, run, tree

from digest.compose.new import new_issue
from digest.core.errors import DigestError


def issue_with_date(date: str) -> str:
    return MINIMAL_ISSUE.replace("date: 2024-01-05", f"date: {date}")


def test_new_starts_the_next_issue_as_a_draft_a_week_after_the_last(example: Path) -> None:
    before = tree(example)
    result = run("new", "--root", str(example))
    assert result.exit_code == 0, result.output
    created = example / "issues" / "0045.yaml"
    assert result.stdout == f"created {created}\n"
    assert result.stderr == ""
    after = tree(example)
    assert set(after) - set(before) == {"issues/0045.yaml"}  # one new file, nothing else touched
    assert {k: v for k, v in after.items() if k in before} == before
    text = created.read_text(encoding="utf-8")
    assert "number: 45\n" in text
    assert "date: 2026-04-03\n" in text  # 2026-03-27 + 7 days
    assert "draft: true\n" in text


def test_the_new_file_passes_check_and_stays_out_of_the_archive(example: Path) -> None:
    assert run("new", "--root", str(example)).exit_code == 0
    result = run("check", "--root", str(example))
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 5 issues: no errors, 1 note\n"
    # The only remark: an empty draft may not be published (the skeleton's hints are comments).
    assert (
        result.stderr
        == "issues/0045.yaml:24: note: sections: has no sections (fine for a draft; it must have some before"
        " publishing)\n"
    )
    # init's CI workflow runs check --strict on pull requests: a fresh draft must pass it.
    assert run("check", "--strict", "--root", str(example)).exit_code == 0
    assert run("build", "--root", str(example)).exit_code == 0
    assert not (example / "site" / "issues" / "45").exists()  # a draft is previewed (digest serve), never published
    assert "/issues/45/" not in (example / "site" / "index.html").read_text(encoding="utf-8")
    assert "/issues/45/" not in (example / "site" / "feed.xml").read_text(encoding="utf-8")


def test_relative_root_prints_a_relative_path(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(example)
    result = run("new")
    assert result.exit_code == 0, result.output
    assert result.stdout == "created issues/0045.yaml\n"


@pytest.mark.parametrize(
    ("existing", "created"),
    [
        (["0041.yaml", "0042.yaml"], "0043.yaml"),
        (["263.yaml"], "264.yaml"),
        (["07.yaml", "08.yaml"], "09.yaml"),
        (["1.yaml", "2.yaml"], "3.yaml"),
        (["9.yaml"], "10.yaml"),
        (["0999.yaml"], "1000.yaml"),
        (["7.yaml", "0008.yaml"], "0009.yaml"),
        ([], "0001.yaml"),
    ],
)
def test_new_file_is_padded_like_the_existing_ones(
    newsletter: Callable[..., Path], existing: list[str], created: str
) -> None:
    root = newsletter(issues={name: issue_with_date(f"2024-01-{i + 1:02d}") for i, name in enumerate(existing)})
    result = run("new", "--root", str(root), "--date", "2024-06-07")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {root / 'issues' / created}\n"
    assert sorted(p.name for p in (root / "issues").iterdir()) == sorted([*existing, created])
    assert run("check", "--root", str(root)).exit_code == 0


def test_date_option_wins_over_the_weekly_rhythm(example: Path) -> None:
    result = run("new", "--root", str(example), "--date", "2026-12-04")
    assert result.exit_code == 0, result.output
    assert "date: 2026-12-04\n" in (example / "issues" / "0045.yaml").read_text(encoding="utf-8")


EMPTY = (
    "is a draft with no items yet: fill it (digest add URL, digest collect) rather than start another;"
    " digest new --force starts one anyway"
)


def test_a_second_new_is_refused_while_the_first_draft_is_empty(example: Path) -> None:
    """Issue 19: `new` twice made a third draft without a word, and `add` filled the newest."""
    assert run("new", "--root", str(example)).exit_code == 0
    first = (example / "issues" / "0045.yaml").read_bytes()
    before = tree(example)
    result = run("new", "--root", str(example))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"issues/0045.yaml: {EMPTY}\n1 error; nothing was written\n"
    assert tree(example) == before
    # --force starts another anyway: the next number, never overwriting.
    result = run("new", "--root", str(example), "--force")
    assert result.stdout == f"created {example / 'issues' / '0046.yaml'}\n"
    assert (example / "issues" / "0045.yaml").read_bytes() == first
    # Dated a week after 0045, the newest issue now.
    assert "date: 2026-04-10\n" in (example / "issues" / "0046.yaml").read_text(encoding="utf-8")


def test_new_after_init_is_refused_until_the_first_draft_has_items(tmp_path: Path) -> None:
    folder = tmp_path / "weekly"
    assert run("init", str(folder)).exit_code == 0
    result = run("new", "--root", str(folder))
    assert (result.exit_code, result.stderr) == (1, f"issues/0001.yaml: {EMPTY}\n1 error; nothing was written\n")
    draft = folder / "issues" / "0001.yaml"
    draft.write_text(draft.read_text(encoding="utf-8") + "  - items:\n      - title: One\n", encoding="utf-8")
    result = run("new", "--root", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {folder / 'issues' / '0002.yaml'}\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "--date: '2026-02-30' is not a valid date"),
        ("2026-13-01", "--date: '2026-13-01' is not a valid date"),
        ("04/12/2026", "--date: must be a date like 2019-11-08, got '04/12/2026'"),
        ("20261204", "--date: must be a date like 2019-11-08, got '20261204'"),
    ],
)
def test_a_wrong_date_is_a_user_error_in_the_words_of_the_yaml(example: Path, value: str, message: str) -> None:
    before = tree(example)
    result = run("new", "--root", str(example), "--date", value)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{message}\n1 error; nothing was written\n"
    assert tree(example) == before


def test_concurrent_news_never_overwrite_each_other(example: Path) -> None:
    """Eight `new`s at once, twice: numbering and creating happen under the issues folder's lock.

    Without --force exactly one creates a draft and the others are told it is empty; with
    --force each creates its own file; none writes a file twice.
    """
    created: list[Path] = []
    for force in (False, True):
        barrier = threading.Barrier(8)
        results: list[Path | str] = []

        def start(
            barrier: threading.Barrier = barrier, results: list[Path | str] = results, force: bool = force
        ) -> None:
            barrier.wait()
            try:
                results.append(new_issue(example, force=force))
            except DigestError as e:
                results.append(str(e))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 8
        made = [r for r in results if isinstance(r, Path)]
        refused = [r for r in results if isinstance(r, str)]
        assert (len(made), refused) == ((8, []) if force else (1, [f"issues/0045.yaml: {EMPTY}"] * 7))
        created += made
    assert len(set(created)) == len(created)
    assert sorted(p.name for p in created) == [f"{n:04d}.yaml" for n in range(45, 54)]
    for path in created:
        assert f"number: {int(path.stem)}\n" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "stderr"),
    [
        (
            {"0043.yaml": "2024-01-05", "0044.yaml": "2024-01-12", "44.yaml": "2024-01-12"},
            (
                "issues/0044.yaml: issue 44 has more than one file: issues/0044.yaml and issues/44.yaml\n"
                "issues/44.yaml: issue 44 has more than one file: issues/0044.yaml and issues/44.yaml\n"
                "2 errors; nothing was written\n"
            ),
        ),
        (
            {"0001.yaml": "2024-01-05", "issue-2.yaml": "2024-01-12"},
            (
                "issues/issue-2.yaml: issue files are named by their number, like 0263.yaml\n"
                "1 error; nothing was written\n"
            ),
        ),
    ],
)
def test_new_refuses_while_issue_files_are_misnamed(
    newsletter: Callable[..., Path], files: dict[str, str], stderr: str
) -> None:
    # With a file the numbering cannot see, "the next number" would be wrong (and could
    # collide with a file that is there): fix the folder first.
    root = newsletter(issues={name: issue_with_date(d) for name, d in files.items()})
    before = tree(root)
    result = run("new", "--root", str(root))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == stderr
    assert tree(root) == before


def test_new_outside_a_newsletter_folder_writes_nothing(tmp_path: Path) -> None:
    result = run("new", "--root", str(tmp_path))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"config.yaml: not found in {tmp_path}: is this a newsletter folder? (see --root)\n1 error; nothing was"
        " written\n"
    )
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "typo"
    assert run("new", "--root", str(missing)).exit_code == 1
    assert not missing.exists()


def test_new_creates_the_issues_folder_in_a_fresh_newsletter(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    (root / "config.yaml").write_text(MINIMAL_CONFIG, encoding="utf-8")
    result = run("new", "--root", str(root), "--date", "2024-06-07")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {root / 'issues' / '0001.yaml'}\n"
    check = run("check", "--root", str(root))
    assert (check.exit_code, check.stdout) == (0, "checked 1 issue: no errors, 1 note\n")
    assert (
        check.stderr
        == "issues/0001.yaml:24: note: sections: has no sections (fine for a draft; it must have some before"
        " publishing)\n"
    )


def test_an_unreadable_last_issue_falls_back_to_the_date_given(newsletter: Callable[..., Path]) -> None:
    # The last file is broken YAML: `new` still starts issue 2 (check will point at issue 1).
    root = newsletter(issues={"0001.yaml": "date: [\n"})
    result = run("new", "--root", str(root), "--date", "2024-06-07")
    assert result.exit_code == 0, result.output
    assert "date: 2024-06-07\n" in (root / "issues" / "0002.yaml").read_text(encoding="utf-8")


def test_number_option_picks_the_number_and_never_takes_one_in_use(example: Path) -> None:
    result = run("new", "--root", str(example), "--number", "50")
    assert result.stdout == f"created {example / 'issues' / '0050.yaml'}\n"
    text = (example / "issues" / "0050.yaml").read_text(encoding="utf-8")
    assert "number: 50\n" in text and "date: 2026-04-03\n" in text  # a week after 0044, the issue before it
    before = tree(example)
    taken = run("new", "--root", str(example), "--number", "43")
    assert taken.exit_code == 1
    assert (
        taken.stderr == "issues/0043.yaml: issue 43 already exists; not overwriting it\n1 error; nothing was written\n"
    )
    assert tree(example) == before


def test_the_skeleton_holds_hints_only_as_comments(example: Path) -> None:
    import yaml

    assert run("new", "--root", str(example), "--date", "2026-04-03").exit_code == 0
    text = (example / "issues" / "0045.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text) == {
        "number": 45,
        "date": __import__("datetime").date(2026, 4, 3),
        "draft": True,
        "sections": None,
    }
    assert "# intro: |" in text and "#         summary: |" in text  # the hints are there for the editor


def test_a_read_only_issues_folder_is_one_error(example: Path) -> None:
    before = tree(example)
    with immutable(example / "issues"):
        result = run("new", "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr == "issues/0045.yaml: cannot be created (Operation not permitted)\n1 error; nothing was written\n"
    )
    assert tree(example) == before
