"""Email sizes on a real corpus, against This Week in Rust's own email: part of
``python -m benchmarks.bench --corpus DIR``, or alone ``python -m benchmarks.sizes DIR``
(DIR: a newsletter folder such as the This Week in Rust corpus).  It reads the folder
and writes nothing into it.

The reference is TWiR's own pipeline (its Pelican email theme, inlined by juice) on the
same issue.  That pipeline is not run here (its theme and Node tooling are not part of
digest), so the figures are the ones issue 13 measured, in bytes.
"""

from __future__ import annotations

from pathlib import Path

TWIR_OWN_BYTES = {574: 104_800}  # TWiR #574: Pelican email theme + juice, as measured in issue 13
TARGET = 0.8  # digest's email should be at most this share of TWiR's own


def email_sizes(root: Path, largest: int = 10) -> tuple[list[tuple[int, int]], list[int]]:
    """(issue number, email bytes) for the ``largest`` issue files of ``root``, largest email
    first, and the numbers of those that did not validate (their content errors: the corpus's
    content-fixes.patch clears them in a copy)."""
    from digest.core.config import load_config
    from digest.core.issuefiles import discover
    from digest.core.issues import load_issue
    from digest.render import environment
    from digest.render import html as render

    config = load_config(root)
    files, _ = discover(root)
    chosen = sorted(files, key=lambda f: f[1].stat().st_size, reverse=True)
    env = environment.make_env(config)
    sizes, invalid = [], []
    for number, path, rel in chosen[:largest]:
        issue, _problems = load_issue(config, number, path, rel)
        if issue is None:
            invalid.append(number)
        else:
            sizes.append((number, len(render.render_email(env, config, issue).encode())))
    return sorted(sizes, key=lambda s: s[1], reverse=True), invalid


def report(root: Path) -> dict[int, int]:
    """Print the largest issues' email sizes, and the ratio to TWiR's own where it is known."""
    from digest.core.lint import CLIP_BYTES

    sizes, invalid = email_sizes(root)
    print(f"email.html of the largest issues in {root} (Gmail clips at {CLIP_BYTES / 1000:.0f} KB):")
    for number, size in sizes:
        line = f"  #{number}: {size / 1000:.1f} KB ({size / CLIP_BYTES:.0%} of the clip)"
        if number in TWIR_OWN_BYTES:
            ratio = size / TWIR_OWN_BYTES[number]
            verdict = "meets" if ratio <= TARGET else "misses"
            own = TWIR_OWN_BYTES[number]
            line += f"; TWiR's own email {own / 1000:.1f} KB: {ratio:.2f}x ({verdict} the {TARGET}x target)"
        print(line)
    if invalid:
        print(f"  not measured, having content errors: {', '.join(f'#{n}' for n in invalid)}")
    return dict(sizes)


if __name__ == "__main__":
    import sys

    report(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/corpora/this-week-in-rust"))
