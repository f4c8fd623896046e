"""The HTML pages, speedscope.json and history plots (issue 15).

Pages are rendered from the recorded Scalene JSON fixtures (tests/data/scalene) and opened in
real headless Chromium (tests/browser.py): the page must finish drawing, log no console error,
send no request off the machine, show the top function's name, and not be a blank picture.
One real-Scalene test profiles a script and re-renders its folder with `fixingahole report`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fixingahole.cli import main
from fixingahole.locations import Locator
from fixingahole.record import CellRow, RunRecord, RunStatus
from fixingahole.report.flame import build_flame, diff_flame, in_seconds, parse_folded
from fixingahole.report.speedscope import build_speedscope
from fixingahole.scalene_output import load_profile
from tests.factories import DATA, SCALENE, recorded_run, recorded_store

sys.path.insert(0, str(Path(__file__).parent))
import browser

SCHEMA = DATA / "speedscope" / "file-format-schema.json"
PAGE_BUDGET_BYTES = 5 * 2**20
# What a person does with the functions table, as JavaScript run in the page.
FIRST_FUNCTION = "document.querySelector('#functions-table tbody tr td').textContent"
SORT_BY_TIME = (
    "Array.from(document.querySelectorAll('#functions-table th'))"
    ".find(th => th.textContent === 'time %').click(), 0"
)
TOP_BOX = (  # the flame graph's box of the function, scrolled into view: its middle
    "(() => {{ const box = Array.from(document.querySelectorAll('#flame-chart g.slice'))"
    ".find(g => g.textContent.trim() === '{name}'); box.scrollIntoView();"
    " const r = box.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
)
DOTS = (  # the runs drawn on the compare page's ratio chart
    "document.getElementById('ratio-chart').data.filter(t => t.type === 'box')"
    ".reduce((n, t) => n + t.y.length, 0)"
)
FLAME_CHANGES = (  # boxes of the differential flame graph that grew and that shrank
    "(() => { const c = document.getElementById('flame-chart').data[0].marker.colors;"
    " return {grew: c.filter(d => d > 0).length, shrank: c.filter(d => d < 0).length}; })()"
)
FLAME_LEVEL = "document.getElementById('flame-chart')._fullData[0].level"
FILTER_BY_TOP = (
    "(() => {{ const f = document.querySelector('input.filter'); f.value = '{name}';"
    " f.dispatchEvent(new Event('input'));"
    " return Array.from(document.querySelectorAll('#functions-table tbody tr'))"
    ".filter(r => !r.hidden).length; }})()"
)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = browser.find_chromium()
    if found is None:
        reason = (
            "!!! Chromium is not installed, so no page was opened in a browser: "
            "apt-get install -y chromium (.ci/run does this) !!!"
        )
        pytest.skip(reason)
    return found


def assert_page_works(
    page: Path, *, expect: list[str], charts: int, actions: tuple[str, ...] = ()
) -> browser.Visit:
    """Open the page in Chromium and check what a person would see."""
    assert page.stat().st_size < PAGE_BUDGET_BYTES
    seen = browser.visit(page, actions=actions)
    assert seen.ready, "the page never finished drawing"
    assert seen.console_errors == []
    assert seen.requests == []
    for text in expect:
        assert text in seen.text
    assert seen.charts == charts
    assert not browser.is_blank(seen.screenshot)
    return seen


@pytest.mark.integration
def test_run_page_renders_offline_in_chromium(chromium: str, tmp_path: Path) -> None:
    """A memory-mode page (the CPU-mode page is the failed run's, below)."""
    run_dir, summary = recorded_run(tmp_path, "2.4.0-numpy-memory.json")
    top = summary["functions"][0]["name"]
    seen = assert_page_works(
        run_dir / "report.html",
        expect=[top, "Flame graph", "Memory over time", "peak 360.8 MB", summary["command"]],
        charts=2,
        actions=(
            FIRST_FUNCTION,
            SORT_BY_TIME,
            FIRST_FUNCTION,
            FILTER_BY_TOP.format(name=top),
            browser.Click(TOP_BOX.format(name=top)),
            FLAME_LEVEL,
        ),
    )
    assert "This run failed" not in seen.text
    functions = sorted(summary["functions"], key=lambda f: (f["percent"], f["name"]))
    before, _, after, shown, _, level = seen.results
    assert level.split(";")[-1].startswith(f"{top} (")  # the click zoomed into its box
    assert before == top  # sorted by time, descending, as stored
    assert after == functions[0]["name"]  # one click on "time %": ascending
    assert shown == sum(top in f["name"] for f in summary["functions"])


@pytest.mark.integration
def test_failed_run_page_says_so_at_the_top(chromium: str, tmp_path: Path) -> None:
    run_dir, summary = recorded_run(tmp_path, "2.4.0-raises-cpu.json", status="failed")
    seen = assert_page_works(
        run_dir / "report.html",
        expect=[
            "This run failed",
            "ValueError: the script raised",
            summary["functions"][0]["name"],
        ],
        charts=1,
    )
    assert seen.text.index("This run failed") < seen.text.index("Functions")


def test_page_escapes_what_the_profile_holds(tmp_path: Path) -> None:
    """Source text with `</script>` and `&` arrives as text, not as markup."""
    run_dir, _ = recorded_run(tmp_path, "2.4.0-compute-cpu.json")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert html.count("<script") == html.count("</script>") == 3


def test_speedscope_file_matches_the_published_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for fixture in ("2.4.0-numpy-memory.json", "1.5.34-compute-cpu.json", "2.1.4-raises-cpu.json"):
        profile = load_profile(SCALENE / fixture)
        document = build_speedscope(profile, Locator(Path(profile.program).parent), fixture)
        jsonschema.validate(document, schema)
        frames = document["shared"]["frames"]
        sampled = document["profiles"][0]
        assert len(sampled["samples"]) == len(sampled["weights"]) > 0
        assert all(0 <= i < len(frames) for stack in sampled["samples"] for i in stack)
        # every function Scalene sampled in a stack is there by name and file
        names = {(f["name"], f["file"]) for f in frames}
        for stack in profile.stacks:
            for frame in stack.frames:
                assert (frame.name, Locator(Path(profile.program).parent).name(frame.file)) in names
        if sampled["unit"] == "seconds":
            expected = sum(s.cpu_fraction for s in profile.stacks) * profile.elapsed_s
            assert sampled["endValue"] == pytest.approx(expected, rel=1e-3)


def test_speedscope_schema_rejects_a_broken_file() -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_flame_tree_totals_and_differences() -> None:
    paths = parse_folded("main (a.py);hot (a.py) 30\nmain (a.py);cold (a.py) 10\nmain (a.py) 10\n")
    flame = build_flame(in_seconds(paths, elapsed_s=5.0))
    totals = dict(zip(flame.ids, flame.total, strict=True))
    assert totals["all"] == pytest.approx(5.0)
    assert totals["all;main (a.py)"] == pytest.approx(5.0)
    assert totals["all;main (a.py);hot (a.py)"] == pytest.approx(3.0)
    assert flame.labels[flame.ids.index("all;main (a.py);hot (a.py)")] == "hot"
    later = in_seconds(parse_folded("main (a.py);hot (a.py) 60\nmain (a.py);new (b.py) 20\n"), 8.0)
    diff = diff_flame(in_seconds(paths, 5.0), later)
    by_id = {i: (a, b) for i, a, b in zip(diff.ids, diff.total_a, diff.total, strict=True)}
    assert by_id["all;main (a.py);hot (a.py)"] == pytest.approx((3.0, 6.0))
    assert by_id["all;main (a.py);cold (a.py)"] == pytest.approx((1.0, 0.0))
    assert by_id["all;main (a.py);new (b.py)"] == pytest.approx((0.0, 2.0))


@pytest.mark.integration
def test_compare_page_with_dots_and_a_differential_flame_graph(
    chromium: str, project: Path
) -> None:
    output = project / "performance"
    walls = [10, 10.2, 9.9, 10.1, 13.0, 13.2, 12.9, 13.1]
    # the same program; B's recorded profile has other call stacks
    fixtures = ["2.4.0-compute-cpu.json"] * 4 + ["2.4.0-compute-memory.json"] * 4
    recorded_store(output, walls, ["a" * 8] * 4 + ["b" * 8] * 4, fixtures=fixtures)
    page = project / "cmp.html"
    code = main(["compare", "aaaaaaaa", "bbbbbbbb", "--format", "html", "--output", str(page)])
    assert code == 0
    seen = assert_page_works(
        page,
        expect=["slower", "Differential flame graph: demo", "Entries"],
        charts=2,
        actions=(DOTS, FLAME_CHANGES),
    )
    dots, changes = seen.results
    assert dots == 8  # every run a dot
    assert changes["grew"] > 0  # B (the memory-mode profile) spends more time in its stacks


def test_compare_html_needs_an_output_file(project: Path, capsys) -> None:
    assert main(["compare", "latest", "--format", "html"]) == 2
    assert "--output" in capsys.readouterr().err


@pytest.mark.integration
def test_history_page_table_and_static_plots(chromium: str, project: Path, capsys) -> None:
    output = project / "performance"
    walls = [10.0, 10.4, 9.8, 12.5, 12.9, 30.0]
    recorded_store(output, walls, ["c" * 8] * 3 + ["d" * 8] * 3, ["ok"] * 5 + ["failed"])
    assert main(["history", "demo"]) == 0
    table = capsys.readouterr().out
    assert "cccccccc" in table and "dddddddd" in table and "2/3" in table and "12.700" in table
    page = project / "trend.html"
    assert main(["history", "demo", "--metric", "cpu", "--output", str(page)]) == 0
    assert_page_works(page, expect=["cccccccc", "dddddddd", "CPU time"], charts=1)
    for suffix in ("svg", "png"):
        static = project / f"trend.{suffix}"
        assert main(["history", "demo", "--output", str(static)]) == 0
        head = static.read_bytes()[:200]
        assert (
            head.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in head or b"<?xml" in head
        )
    assert not browser.is_blank((project / "trend.png").read_bytes())


def test_history_of_an_entry_without_runs_is_exit_2(project: Path, capsys) -> None:
    recorded_store(project / "performance", [1.0], ["e" * 8])
    assert main(["history", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no runs of 'nope'" in err and "Traceback" not in err
    assert main(["history", "demo", "--output", str(project / "trend.txt")]) == 2
    assert main(["history", "demo", "--metric", "memory"]) == 0  # no heap measured: max RSS
    assert "demo: max RSS over 1 run" in capsys.readouterr().out


def test_without_the_html_extra_text_works_and_pages_name_the_extra(project: Path) -> None:
    """A fresh interpreter where jinja2 and plotly cannot be imported."""
    output = project / "performance"
    run_dir, _ = recorded_run(output, "2.4.0-compute-cpu.json")
    (run_dir / "report.html").unlink()
    hide = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('jinja2', 'plotly'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from fixingahole.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", hide, *args], capture_output=True, text=True, cwd=project
        )

    done = run("report", "latest")
    assert done.returncode == 0, done.stderr
    assert (run_dir / "profile_results.txt").is_file() and not (run_dir / "report.html").exists()
    assert "fixingahole[html]" in done.stderr
    done = run("history", "demo", "--output", "t.html")
    assert done.returncode == 2 and "fixingahole[html]" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_profile_writes_the_page_and_report_re_renders_it(chromium: str, project: Path) -> None:
    script = project / "my work.py"
    script.write_text(
        "def crunch(n):\n    return sum(i * i % 7 for i in range(n))\n\nprint(crunch(3_000_000))\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "fixingahole", "profile", script.name],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (project / "performance" / "my work").iterdir()
    import jsonschema

    jsonschema.validate(
        json.loads((run_dir / "speedscope.json").read_text(encoding="utf-8")),
        json.loads(SCHEMA.read_text(encoding="utf-8")),
    )
    first = (run_dir / "report.html").stat().st_mtime_ns
    (run_dir / "speedscope.json").unlink()
    assert main(["report", "my work/" + run_dir.name]) == 0
    assert (run_dir / "report.html").stat().st_mtime_ns > first
    assert (run_dir / "speedscope.json").is_file()
    assert main(["report", str(run_dir)]) == 0
    assert_page_works(run_dir / "report.html", expect=["crunch", "my work.py"], charts=1)


def test_report_of_an_unknown_run_is_a_one_line_error(project: Path, capsys) -> None:
    assert main(["report", "latest"]) == 2
    assert main(["report", "nope/20250101_000000"]) == 2
    err = capsys.readouterr().err
    assert "no run folders" in err and "no run 'nope/20250101_000000'" in err
    run_dir, _ = recorded_run(project / "performance", "2.4.0-compute-cpu.json", views=False)
    (run_dir / "profile_results.txt").write_text("kept", encoding="utf-8")
    (run_dir / "profile.json").unlink()
    assert main(["report", "demo/20250101_000000"]) == 2
    assert "profile.json is missing" in capsys.readouterr().err
    assert (run_dir / "profile_results.txt").read_text(encoding="utf-8") == "kept"


def page_record(entry: str) -> RunRecord:
    """A record of a run with nothing sampled, for pages of the cases a profile cannot give."""
    return RunRecord(
        run_id=f"{entry}/20250101_000000",
        entry=entry,
        target=f"{entry}.py",
        kind="script",
        status=RunStatus.OK,
        exit_code=0,
        started_utc="2025-01-01T00:00:00.000Z",
        wall_s=1.0,
        cpu_s=1.0,
        elapsed_s=0.0,
        max_rss_mb=50.0,
        peak_heap_mb=None,
        mode="cpu",
        options={},
        command="x",
    )


def test_page_of_a_run_scalene_wrote_nothing_for(tmp_path: Path) -> None:
    """A timed-out run without profile.json still gets a page that says what happened."""
    from fixingahole.report.html import render_run_page
    from fixingahole.scalene_output import Profile

    record = replace(
        page_record("slow"),
        command="fixingahole profile slow.py",
        status=RunStatus.TIMEOUT,
        exit_code=None,
        error="stopped after 5 s (--timeout)",
    )
    html = render_run_page(record, Profile(), Locator(tmp_path))
    assert "This run was stopped at its timeout" in html and "stopped after 5 s" in html
    assert "No function was sampled." in html and 'id="fah-plotly"' not in html


def test_notebook_cells_table_when_the_summary_lists_cells(tmp_path: Path) -> None:
    """The record's cells (one per code cell, with its own lines) as a table."""
    from fixingahole.report.html import render_run_page
    from fixingahole.scalene_output import Profile

    cells = (
        CellRow(1, "x = load()", "sha256:aa", 12.5, 0.25, 1.0, 2.0),
        CellRow(2, "y = work(x)", "sha256:bb", 80.0, 1.6, 0.0, 0.0),
    )
    record = replace(page_record("nb"), kind="notebook", cells=cells)
    html = render_run_page(record, Profile(), Locator(tmp_path))
    table = html[html.index('id="cells-table"') : html.index("</table>", html.index("cells-table"))]
    assert "first line" in table and "time %" in table and "80.00" in table
    assert "sha256" not in table and "percent&#39;" not in table


def test_the_command_line_starts_without_the_page_libraries() -> None:
    code = (
        "import sys, fixingahole.cli\n"
        "fixingahole.cli.build_parser()\n"
        "print([m for m in ('jinja2', 'plotly', 'matplotlib', 'markupsafe') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
