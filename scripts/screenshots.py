"""Regenerate the README's pictures: docs/run-page.png and docs/history.png.

Both come from real runs. In a throwaway code base (a git repository made here), a small
workload is profiled under three commits, four runs each (the second commit makes it slower and
has a failed run, the third fixes it); then `examples/advanced.py` is profiled once with
`--memory`. The run page of that profile is opened in headless Chromium (tests/browser.py) and
its screenshot saved, and `fixingahole history work --metric cpu --output docs/history.png`
draws the history. Needs Chromium and the html extra; takes a minute or two.

    python scripts/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO / "tests"))

WORK = """\
import sys


def step(x):
    return (x * 1103515245 + 12345) & 0x7FFFFFFF


def work(n):
    x, total = 1, 0
    for _ in range(n):
        x = step(x)
        total += x % 7
    return total


if __name__ == "__main__":
    print(work({steps}))
    if "fail" in sys.argv:
        raise RuntimeError("asked to fail")
"""
VERSIONS = (2_000_000, 6_000_000, 2_100_000)  # commit 2 does three times the work; 3 fixes it
RUNS_PER_VERSION = 4


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def fixingahole(folder: Path, *args: str, check: bool = True) -> None:
    subprocess.run(
        [sys.executable, "-m", "fixingahole", *args],
        cwd=folder,
        check=check,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    import browser

    if browser.find_chromium() is None:
        raise SystemExit("Chromium is needed: apt-get install -y chromium")
    DOCS.mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="fixingahole-docs-"))
    try:
        project = base / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
        (project / ".gitignore").write_text("performance/\n", encoding="utf-8")
        git(project, "init", "-q", "-b", "main")
        for steps in VERSIONS:
            (project / "work.py").write_text(WORK.format(steps=steps), encoding="utf-8")
            git(project, "add", "-A")
            git(project, "commit", "-q", "-m", f"work: {steps} steps")
            for _ in range(RUNS_PER_VERSION):
                fixingahole(project, "profile", "work.py")
            if steps == VERSIONS[1]:  # a failed run, to show how one looks
                fixingahole(project, "profile", "work.py", "--", "fail", check=False)
        # CPU time: on a shared machine it moves less with the neighbours' load than wall time
        history = ("history", "work", "--metric", "cpu")
        fixingahole(project, *history, "--output", str(DOCS / "history.png"))
        print(
            subprocess.run(
                [sys.executable, "-m", "fixingahole", *history],
                cwd=project,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        shutil.copy2(REPO / "examples" / "advanced.py", project / "advanced.py")
        fixingahole(project, "profile", "advanced.py", "--memory", "--", "--size", "300")
        (page,) = (project / "performance" / "advanced").glob("*/report.html")
        seen = browser.visit(page, width=1280, height=1500)
        if not seen.ready or seen.console_errors or browser.is_blank(seen.screenshot):
            raise SystemExit(f"the page did not render: {seen.console_errors}")
        (DOCS / "run-page.png").write_bytes(seen.screenshot)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"wrote {DOCS / 'run-page.png'} and {DOCS / 'history.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
