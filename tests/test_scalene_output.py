"""The Scalene JSON parser, on files written by real Scalene releases (1.5.34, 1.5.51, 2.1.4, 2.4.0;
see scripts/regenerate_scalene_fixtures.py) and on one fresh run of the installed Scalene."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

from fixingahole.errors import UserError
from fixingahole.scalene_output import Frame, Leak, Profile, load_profile, parse_profile

FIXTURES = Path(__file__).parent / "data" / "scalene"
PROGRAMS = FIXTURES / "programs"
VERSIONS = ("1.5.34", "1.5.51", "2.1.4", "2.4.0")
ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))
CPU_FIXTURES = [name for name in ALL_FIXTURES if name.endswith("-cpu.json")]
MEMORY_FIXTURES = [name for name in ALL_FIXTURES if name.endswith("-memory.json")]
PROGRAM_FOLDER = (
    "fixture programs"  # the folder the fixtures' programs ran in: its name has a space
)


@cache
def fixture(name: str) -> Profile:
    """A fixture, parsed once per test session."""
    return load_profile(FIXTURES / name)


@cache
def raw_fixture(name: str) -> dict:
    """A fixture's decoded JSON, for comparing with what the parser made of it."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def program_of(name: str) -> str:
    """The program a fixture profiled: `2.4.0-compute-cpu.json` -> `compute`."""
    program = name.split("-")[1]
    return "numpy_work" if program == "numpy" else program


def source_lines(program: str) -> list[str]:
    return (PROGRAMS / f"{program}.py").read_text(encoding="utf-8").splitlines()


def lineno_of(program: str, text: str) -> int:
    """The number of the one line of a fixture program that contains `text`."""
    [lineno] = [n for n, line in enumerate(source_lines(program), start=1) if text in line]
    return lineno


def write(path: Path, data: bytes | str | dict) -> Path:
    if isinstance(data, dict):
        data = json.dumps(data)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# Every fixture


def test_the_fixtures_cover_every_release_and_the_benchmark_file() -> None:
    for version in VERSIONS:
        for run in ("compute-cpu", "compute-memory", "allocate-memory", "raises-cpu"):
            assert f"{version}-{run}.json" in ALL_FIXTURES
    assert "2.4.0-numpy-memory.json" in ALL_FIXTURES


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_line_of_the_program_is_read_with_its_source_unescaped(name: str) -> None:
    profile = fixture(name)
    program = program_of(name)
    [file] = profile.files
    assert file.path.endswith(os.path.join(PROGRAM_FOLDER, f"{program}.py"))
    assert profile.program == file.path
    assert [line.lineno for line in file.lines] == list(range(1, len(source_lines(program)) + 1))
    assert [line.source.rstrip("\n") for line in file.lines] == source_lines(program)
    assert all(line.file == file.path for line in file.lines)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_line_percentages_add_up_to_the_file_and_seconds_to_the_run(name: str) -> None:
    profile = fixture(name)
    [file] = profile.files
    assert profile.elapsed_s > 0.2
    assert file.percent == pytest.approx(100.0)
    assert sum(line.percent for line in file.lines) == pytest.approx(file.percent)
    seconds = sum(profile.seconds(line.percent) for line in file.lines)
    assert seconds == pytest.approx(profile.elapsed_s)
    for line in file.lines:
        assert profile.seconds(line.percent) == pytest.approx(
            line.percent / 100 * profile.elapsed_s
        )


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_scalene_keys_are_the_top_level_keys_of_the_file(name: str) -> None:
    assert fixture(name).scalene_keys == frozenset(raw_fixture(name))


# CPU figures and stacks


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", ["cpu", "memory"])
def test_the_hot_function_is_on_top(version: str, mode: str) -> None:
    profile = fixture(f"{version}-compute-{mode}.json")
    top = max(profile.functions, key=lambda function: function.percent)
    assert (top.name, top.lineno) == ("hot", lineno_of("compute", "def hot"))
    assert top.file == profile.files[0].path
    assert top.percent > 40
    assert top.python_percent > 0
    assert 0 < profile.seconds(top.percent) < profile.elapsed_s
    hottest_line = max(profile.lines, key=lambda line: line.percent)
    assert lineno_of("compute", "def hot") < hottest_line.lineno < lineno_of("compute", "def cold")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_failing_script_is_profiled_up_to_its_exception(version: str) -> None:
    profile = fixture(f"{version}-raises-cpu.json")
    top = max(profile.functions, key=lambda function: function.percent)
    assert (top.name, top.lineno) == ("crunch", lineno_of("raises", "def crunch"))


@pytest.mark.parametrize("version", VERSIONS)
def test_stacks_run_from_the_module_to_the_hot_function(version: str) -> None:
    profile = fixture(f"{version}-compute-cpu.json")
    heaviest = max(profile.stacks, key=lambda stack: stack.count)
    names = [frame.name.split(".")[-1] for frame in heaviest.frames]  # 1.5.34 has no qualnames
    assert names == ["<module>", "main", "step", "hot"]
    assert heaviest.frames[1].lineno == lineno_of("compute", "total += walker.step")
    last = heaviest.frames[-1]
    assert lineno_of("compute", "def hot") < last.lineno < lineno_of("compute", "def cold")
    assert last.file.endswith(os.path.join(PROGRAM_FOLDER, "compute.py"))  # a space, kept whole
    samples = sum(stack.count for stack in profile.stacks)
    assert samples > 20  # about 0.5 s at one sample per 10 ms
    assert heaviest.count / samples > 0.8
    assert sum(stack.cpu_fraction for stack in profile.stacks) == pytest.approx(1.0)
    assert heaviest.cpu_fraction > 0.8


@pytest.mark.parametrize(
    ("version", "shape"),
    [("1.5.34", "count"), ("1.5.51", "list"), ("2.1.4", "dict"), ("2.4.0", "dict")],
)
def test_each_historical_shape_of_stacks_is_read(version: str, shape: str) -> None:
    name = f"{version}-allocate-memory.json"
    raw_stacks = raw_fixture(name)["stacks"]
    first_frame, figures = raw_stacks[0][0][0], raw_stacks[0][1]
    expected_types = {"count": (list, int), "list": (list, list), "dict": (str, dict)}[shape]
    assert (type(first_frame), type(figures)) == expected_types
    stacks = fixture(name).stacks
    assert len(stacks) == len(raw_stacks)
    total = sum(stack.count for stack in stacks)
    for stack, (_, figures) in zip(stacks, raw_stacks, strict=True):
        assert stack.frames[0].name == "<module>"
        assert all(
            frame.file.endswith("allocate.py") and frame.lineno > 0 for frame in stack.frames
        )
        assert stack.count > 0
        if shape == "count":
            assert stack.count == figures
            assert stack.cpu_fraction == pytest.approx(stack.count / total)
        else:
            assert stack.python_fraction + stack.native_fraction == pytest.approx(
                stack.cpu_fraction
            )
    leak_stack = max(
        stacks, key=lambda stack: stack.count if stack.frames[-1].name == "leak" else 0
    )
    assert leak_stack.frames[-1].lineno == lineno_of("allocate", "kept.append")


def test_a_frame_string_splits_from_the_end_so_file_names_keep_their_spaces() -> None:
    frame = "/home/a user/my project/x y.py Outer.<locals>.run:12;"
    stack = [
        [frame, "/home/a user/my project/x y.py <module>:3;"],
        {"count": 2, "cpu_samples": 0.5},
    ]
    [sample] = parse_profile({"stacks": [stack]}).stacks
    assert sample.frames == (
        Frame("/home/a user/my project/x y.py", "Outer.<locals>.run", 12),
        Frame("/home/a user/my project/x y.py", "<module>", 3),
    )
    assert (sample.count, sample.cpu_fraction) == (2, 0.5)


def test_stacks_start_at_the_program_not_at_the_launcher() -> None:
    """`python -m scalene` starts the program through runpy, a named file on 3.10."""
    runpy, script = "/usr/lib/python3.10/runpy.py", "/work/job.py"
    launcher = [f"{runpy} _run_module_as_main:196;", f"{runpy} _run_code:86;"]
    own = [f"{script} <module>:3;", f"{runpy} run_path:289;", f"{script} main:9;"]
    figures = {"count": 4, "python_time": 0.5, "c_time": 0.0, "cpu_samples": 0.5}
    stacks = parse_profile({"stacks": [[launcher + own, figures], [launcher, figures]]}).stacks
    assert [[frame.name for frame in stack.frames] for stack in stacks] == [
        ["<module>", "run_path", "main"]
    ]


# Function figures, derived from lines and stacks on every version


def raw_function(name: str, function: str) -> dict:
    """Scalene's own record of a function in a fixture."""
    [raw] = [f for f in next(iter(raw_fixture(name)["files"].values()))["functions"]
             if f["line"] == function]  # fmt: skip
    return raw


def body(program: str, function: str) -> range:
    """The lines of a fixture program's function, `def` line to its last line."""
    lines = source_lines(program)
    first = lineno_of(program, f"def {function}(")
    last = first
    while last < len(lines) and (not lines[last] or lines[last].startswith(" ")):
        last += 1
    return range(first, last + 1)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_a_functions_self_time_is_the_sum_of_its_own_lines(name: str) -> None:
    profile = fixture(name)
    [file] = profile.files
    program = program_of(name)
    assert file.scopes is not None
    for function in file.functions:
        short = function.name.rsplit(".", 1)[-1]
        assert function.lineno == lineno_of(program, f"def {short}(")
        own = [line for line in file.lines if line.lineno in body(program, short)]
        assert function.percent == pytest.approx(sum(line.percent for line in own), abs=1e-9)
        assert function.malloc_mb == pytest.approx(sum(line.malloc_mb for line in own))
        assert function.peak_mb == max((line.peak_mb for line in own), default=0.0)
        assert profile.seconds(function.percent) == pytest.approx(
            function.percent / 100 * profile.elapsed_s
        )


@pytest.mark.parametrize("version", ["2.1.4", "2.4.0"])
def test_a_loop_spread_over_two_lines_is_counted_whole(version: str) -> None:
    name = f"{version}-compute-cpu.json"
    [hot] = [f for f in fixture(name).functions if f.name == "hot"]
    raw = raw_function(name, "hot")
    scalene = raw["n_cpu_percent_python"] + raw["n_cpu_percent_c"] + raw["n_sys_percent"]
    assert scalene < 55  # Scalene counts one of the loop's two lines
    assert hot.percent > 90


@pytest.mark.parametrize("version", VERSIONS)
def test_totals_add_callees_from_the_stacks(version: str) -> None:
    functions = {f.name.split(".")[-1]: f for f in fixture(f"{version}-compute-cpu.json").functions}
    main, step, hot = functions["main"], functions["step"], functions["hot"]
    assert main.percent == pytest.approx(0, abs=1) and main.total_percent > 98
    assert step.total_percent >= hot.total_percent >= hot.percent
    assert hot.total_percent <= main.total_percent <= 100 + 1e-9


@pytest.mark.parametrize("name", [n for n in MEMORY_FIXTURES if "-allocate-" in n])
def test_memory_figures_agree_with_scalenes_for_one_allocating_line(name: str) -> None:
    """Each function of allocate.py allocates on one line, where Scalene's figures are right
    (on two lines, 2.x counts one: `make_matrix` of the numpy fixture)."""
    for function in fixture(name).functions:
        if function.name in ("main", "Walker.step"):
            continue  # listed by fixing-a-hole for their totals, not sampled by Scalene
        raw = raw_function(name, function.name)
        assert function.malloc_mb == pytest.approx(raw["n_malloc_mb"], abs=1e-6)
        assert function.peak_mb == pytest.approx(raw["n_peak_mb"], abs=1e-6)


def test_without_stacks_a_function_has_no_total() -> None:
    data = copy.deepcopy(raw_fixture("2.4.0-compute-cpu.json"))
    del data["stacks"]
    assert all(f.total_percent is None for f in parse_profile(data).functions)


SAME_NAMES = FIXTURES / "same-names"  # main.py and same_names.py, Scalene 2.4.0, --cpu-only


def test_same_names_in_two_files_are_each_placed_at_their_def() -> None:
    profile = load_profile(SAME_NAMES / "2.4.0-cpu.json")
    raw = raw_fixture_at(SAME_NAMES / "2.4.0-cpu.json")
    main = next(path for path in raw["files"] if path.endswith("main.py"))
    assert [f["lineno"] for f in raw["files"][main]["functions"]] == [4]  # Scalene's guess
    places = {(os.path.basename(f.file), f.name, f.lineno) for f in profile.functions}
    assert places == {("main.py", "work", 5), ("same_names.py", "work", 4),
                      ("same_names.py", "Tool.work", 12)}  # fmt: skip
    files = {os.path.basename(file.path): file for file in profile.files}
    mine = next(f for f in files["main.py"].functions if f.name == "work")
    assert mine.percent == pytest.approx(files["main.py"].percent, abs=0.5)
    stacks = [s for s in profile.stacks if s.frames[-1].file.endswith("main.py")]
    assert stacks and all(s.frames[-1].def_lineno == 5 for s in stacks)
    assert all(s.frames[0].def_lineno == 0 for s in profile.stacks)  # module level


def raw_fixture_at(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_generated_code_keeps_scalenes_functions() -> None:
    """`<exec@f.py:1>` names all the code one `exec` call site compiled: its text is no source."""
    source = "def a():\n    pass\ndef b():\n    pass\n"
    lines = [{"lineno": n, "line": text, "n_cpu_percent_python": 10.0}
             for n, text in enumerate(source.splitlines(keepends=True), 1)]  # fmt: skip
    functions = [{"line": "f.<locals>.__init__", "lineno": 2, "n_cpu_percent_python": 7.0}]
    files = {"<exec@dataclasses.py:433>": {"lines": lines, "functions": functions}}
    [file] = parse_profile({"files": files}).files
    assert file.scopes is None
    assert [(f.name, f.lineno, f.percent) for f in file.functions] == [
        ("f.<locals>.__init__", 2, 7.0)
    ]


# Memory


@pytest.mark.parametrize("name", CPU_FIXTURES)
def test_cpu_mode_has_no_memory_figures(name: str) -> None:
    profile = fixture(name)
    assert not profile.memory
    assert profile.peak_heap_mb is None
    assert profile.heap_timeline == ()
    assert all(not (line.malloc_mb or line.peak_mb or line.timeline) for line in profile.lines)


@pytest.mark.parametrize("name", MEMORY_FIXTURES)
def test_memory_mode_has_a_heap_peak(name: str) -> None:
    profile = fixture(name)
    assert profile.memory
    assert profile.peak_heap_mb is not None
    assert profile.peak_heap_mb == raw_fixture(name)["max_footprint_mb"]


@pytest.mark.parametrize("version", VERSIONS)
def test_allocations_are_blamed_on_the_line_that_keeps_them(version: str) -> None:
    profile = fixture(f"{version}-allocate-memory.json")
    assert 300 < profile.peak_heap_mb < 400  # 350 blocks of 1 MB are kept
    assert profile.peak_file == profile.files[0].path
    keeper = next(line for line in profile.lines if "kept.append" in line.source)
    assert keeper.malloc_mb > 250
    assert 0.9 < keeper.python_fraction <= 1.0
    assert keeper.timeline and max(keeper.timeline) <= profile.peak_heap_mb + 1e-6
    [raw_file] = raw_fixture(f"{version}-allocate-memory.json")["files"].values()
    assert len(keeper.timeline) == len(raw_file["lines"][keeper.lineno - 1]["memory_samples"])
    leak = next(function for function in profile.functions if function.name == "leak")
    assert leak.malloc_mb > 250
    times = [seconds for seconds, _ in profile.heap_timeline]
    assert times == sorted(times) and times[0] >= 0 and times[-1] < profile.elapsed_s + 1
    assert (
        profile.peak_heap_mb / 2
        < max(mb for _, mb in profile.heap_timeline)
        <= profile.peak_heap_mb
    )


@pytest.mark.parametrize("version", ["1.5.34", "1.5.51", "2.4.0"])  # 2.1.4 reported none
def test_leaks_name_the_line_that_keeps_its_allocations(version: str) -> None:
    profile = fixture(f"{version}-allocate-memory.json")
    [leak] = profile.leaks
    assert leak.file == profile.files[0].path
    assert leak.lineno == lineno_of("allocate", "kept.append")
    assert 0.9 < leak.likelihood <= 1.0
    assert leak.velocity_mb_s > 0


def test_leaks_in_list_forms_are_read() -> None:
    leaks = {
        "x.py": {"leaks": [[3, 0.97, 2.5], {"lineno": 4, "likelihood": 0.96}]},
        "y.py": {"leaks": {"7": [0.99, 1.0], "bad": [0.5, 0.5], "8": "junk", "9" * 5000: [1, 1]}},
    }
    assert parse_profile({"files": leaks}).leaks == (
        Leak("x.py", 3, 0.97, 2.5),
        Leak("x.py", 4, 0.96, 0.0),
        Leak("y.py", 7, 0.99, 1.0),
    )


def test_memory_is_detected_from_line_figures_when_the_flag_is_missing() -> None:
    data = copy.deepcopy(raw_fixture("2.4.0-allocate-memory.json"))
    del data["memory"]
    profile = parse_profile(data)
    assert profile.memory and profile.peak_heap_mb == data["max_footprint_mb"]
    for file in data["files"].values():
        for line in file["lines"]:
            line.update(n_malloc_mb=0.0, n_peak_mb=0.0, memory_samples=[])
    assert parse_profile(data).peak_heap_mb is None


def test_a_line_timeline_reads_bare_numbers_and_skips_junk() -> None:
    line = {"lineno": 1, "memory_samples": [[10, 1.5], 2.5, "x", [3], None, [20, True]]}
    [parsed] = parse_profile({"files": {"a.py": {"lines": [line]}}}).lines
    assert parsed.timeline == (1.5, 2.5)


# Empty, broken and odd files


def test_an_empty_object_or_an_empty_file_is_an_empty_profile(tmp_path: Path) -> None:
    for text in ("{}", "", "  \n"):
        profile = load_profile(write(tmp_path / "profile.json", text))
        assert profile.is_empty
        assert profile.peak_heap_mb is None and profile.stacks == ()
    assert load_profile(write(tmp_path / "profile.json", "{}")).scalene_keys == frozenset()


def test_a_truncated_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    whole = (FIXTURES / "2.4.0-compute-cpu.json").read_bytes()
    path = write(tmp_path / "snap shot é.json", whole[: len(whole) // 2])
    with pytest.raises(UserError, match=re.escape(f"{path} is not valid JSON")):
        load_profile(path)


def test_a_missing_file_or_json_that_is_not_an_object_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=re.escape(f"No Scalene profile at {tmp_path / 'missing.json'}")
    ):
        load_profile(tmp_path / "missing.json")
    with pytest.raises(UserError, match="not a JSON object"):
        load_profile(write(tmp_path / "list.json", "[1, 2]"))
    with pytest.raises(UserError, match="is not valid JSON"):
        load_profile(write(tmp_path / "bytes.json", b"\xff\xfe junk"))


def test_unknown_keys_are_ignored() -> None:
    data = copy.deepcopy(raw_fixture("2.4.0-compute-memory.json"))
    data["from_the_future"] = {"anything": [1, 2]}
    [file] = data["files"].values()
    file["new_file_key"] = 1
    file["lines"][0]["new_line_key"] = "x"
    file["functions"][0]["new_function_key"] = None
    data["stacks"][0][1]["new_stack_key"] = 3
    profile = parse_profile(data)
    original = fixture("2.4.0-compute-memory.json")
    assert profile.files == original.files and profile.stacks == original.stacks
    assert profile.scalene_keys == original.scalene_keys | {"from_the_future"}


def test_values_of_the_wrong_type_count_as_absent() -> None:
    data = {
        "program": 3,
        "args": "a b",
        "elapsed_time_sec": "12",
        "memory": "yes",
        "max_footprint_mb": 50,
        "max_footprint_lineno": "3",
        "growth_rate": float("nan"),
        "samples": [[1, 2], "x", [None, 2]],
        "stacks": [
            ["not frames", 1],
            [[["f.py", "g", 2]], "not figures"],
            [[7, "no separators", ["f.py", 3, 2]], {"count": 1}],
            [["f.py g:x;"], {"count": "1"}],
        ],
        "files": {
            "ok.py": {
                "percent_cpu_time": "100",
                "lines": [
                    {"lineno": 1, "line": 2, "n_cpu_percent_python": "50", "n_peak_mb": True},
                    {"lineno": "2", "n_cpu_percent_python": 10.0},
                    "not a line",
                ],
                "functions": {"not": "a list"},
                "leaks": "none",
            },
            "bad.py": [],
        },
    }
    profile = parse_profile(data)
    assert (profile.program, profile.args, profile.elapsed_s) == ("", (), 0.0)
    assert not profile.memory and profile.peak_heap_mb is None and profile.peak_lineno == 0
    assert profile.growth_rate == 0.0
    assert profile.heap_timeline == ((1e-9, 2.0),)
    assert profile.stacks == ()
    [file] = profile.files
    assert (file.path, file.percent, file.functions, file.leaks) == ("ok.py", 0.0, (), ())
    [line] = file.lines
    assert (line.lineno, line.source, line.percent, line.peak_mb) == (1, "", 0.0, 0.0)


def test_paths_are_normalised_without_resolving_them() -> None:
    data = copy.deepcopy(raw_fixture("2.4.0-compute-cpu.json"))
    [(path, file)] = data["files"].items()
    folder, name = os.path.split(path)
    crooked = os.path.join(folder, "..", PROGRAM_FOLDER, ".", name)
    data["files"] = {crooked: file}
    data["stacks"] = [
        [[frame.replace(path, crooked) for frame in frames], figures]
        for frames, figures in data["stacks"]
    ]
    data["max_footprint_fname"] = crooked
    profile = parse_profile(data)
    original = fixture("2.4.0-compute-cpu.json")
    assert profile.files == original.files
    assert profile.stacks == original.stacks
    assert profile.files[0].path == path
    assert profile.peak_file == path
    assert parse_profile({"files": {"rel/../a.py": {}}}).files[0].path == "a.py"


def test_old_list_frames_are_normalised_too() -> None:
    stack = [[["/a/b/../c d.py", "f", 3]], [4, 0.5, 0.25, 0.75]]
    [sample] = parse_profile({"stacks": [stack]}).stacks
    assert sample.frames == (Frame("/a/c d.py", "f", 3),)
    assert (sample.count, sample.python_fraction, sample.native_fraction) == (4, 0.5, 0.25)
    assert sample.cpu_fraction == 0.75


# The benchmark file and speed


def test_the_numpy_benchmark_file_parses_whole_and_fast() -> None:
    data = json.loads((FIXTURES / "2.4.0-numpy-memory.json").read_bytes())
    assert "combined_stacks" in data  # kept whole: it is what makes a real file heavy
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        profile = parse_profile(data)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.02  # the report's whole budget is 0.3 s
    names = {function.name for function in profile.functions}
    assert {"solve_many", "spectra", "sort_and_search", "python_loop"} <= names
    assert profile.memory and profile.peak_heap_mb > 50
    assert len(profile.stacks) > 5


# A fresh run of the installed Scalene


SCRIPT = """\
def spin(n):
    total = 0
    for i in range(n):
        total += i % 7 & 3
    return total


def main():
    for _ in range(20):
        spin(150_000)


main()
"""


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Scalene 2.4, CPU only, on a script in a folder named with a space and a non-ASCII letter."""
    folder = tmp_path_factory.mktemp("scalene") / "dossier é x"
    scratch = folder.parent / "tmp"
    scratch.mkdir()
    folder.mkdir()
    script = write(folder / "spin.py", SCRIPT)
    outfile = folder / "profile.json"
    argv = [sys.executable, "-m", "scalene", "run", "--cpu-only", "--stacks", "-o", str(outfile)]
    subprocess.run(
        [*argv, str(script)],
        cwd=folder,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        start_new_session=True,
        check=True,
    )
    return script, outfile


@pytest.mark.integration
def test_a_fresh_scalene_profile_from_an_odd_folder_parses(fresh_run: tuple[Path, Path]) -> None:
    script, outfile = fresh_run
    profile = load_profile(outfile)
    [file] = profile.files
    assert file.path == str(script) == profile.program
    assert "dossier é x" in file.path
    assert [line.source for line in file.lines] == SCRIPT.splitlines(keepends=True)
    top = max(profile.functions, key=lambda function: function.percent)
    assert (top.name, top.lineno) == ("spin", 1)
    heaviest = max(profile.stacks, key=lambda stack: stack.count)
    assert [frame.name for frame in heaviest.frames] == ["<module>", "main", "spin"]
    assert heaviest.frames[-1].file == str(script)
    assert not profile.memory and profile.peak_heap_mb is None
