"""profiles.toml: entries, precedence, every validation problem at once, and selection."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fixingahole.errors import UserError
from fixingahole.manifest import Manifest, load_manifest, select
from fixingahole.options import ProfileOptions
from fixingahole.settings import Settings


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A code base with two scripts and a notebook; also the current directory."""
    folder = (tmp_path / "code").resolve()
    for name in ("examples/fast.py", "examples/slow.py", "notebooks/analysis.ipynb"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("print('hi')\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder


def settings_for(root: Path) -> Settings:
    return Settings(root=root, output=root / "performance")


def write_manifest(folder: Path, text: str) -> Path:
    path = folder / "profiles.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def load(root: Path, text: str, folder: Path | None = None) -> Manifest:
    return load_manifest(write_manifest(folder or root, text), settings_for(root))


def problems(root: Path, text: str) -> list[str]:
    """The lines of the one UserError that loading `text` raises."""
    with pytest.raises(UserError) as caught:
        load(root, text)
    return str(caught.value).splitlines()


def test_entries_in_order_with_defaults_and_their_own_values(root: Path) -> None:
    manifest = load(
        root,
        """
        [defaults]
        mode = "memory"
        timeout = 60
        tags = ["all"]
        repeat = 2

        [profiles.fast]
        path = "examples/fast.py"
        timeout = 5
        args = ["--n", "3"]
        env = { SEED = "1" }
        log_level = "info"

        [profiles.analysis]
        path = "notebooks/analysis.ipynb"
        mode = "cpu"
        tags = ["notebook"]
        repeat = 1
        """,
    )
    assert manifest.path == root / "profiles.toml"
    fast, analysis = manifest.entries
    assert (fast.name, fast.path) == ("fast", root / "examples" / "fast.py")
    assert fast.options == ProfileOptions(
        mode="memory", timeout=5, args=("--n", "3"), env={"SEED": "1"}, log_level="INFO"
    )
    assert (fast.repeat, fast.tags) == (2, ("all",))
    assert (analysis.name, analysis.path) == ("analysis", root / "notebooks" / "analysis.ipynb")
    assert analysis.options == ProfileOptions(mode="cpu", timeout=60)
    assert (analysis.repeat, analysis.tags) == (1, ("notebook",))


def test_paths_and_cwd_are_relative_to_the_manifests_folder(root: Path) -> None:
    (root / "bench" / "data").mkdir(parents=True)
    (root / "bench" / "local.py").write_text("pass\n")
    manifest = load(
        root,
        """
        [defaults]
        cwd = "data"

        [profiles.local]
        path = "local.py"

        [profiles.from-root]
        path = "examples/slow.py"

        [profiles.by-name]
        path = "fast"
        cwd = "."
        """,
        folder=root / "bench",
    )
    local, from_root, by_name = manifest.entries
    assert local.path == root / "bench" / "local.py"
    assert local.options.cwd == root / "bench" / "data"
    assert from_root.path == root / "examples" / "slow.py"
    assert by_name.path == root / "examples" / "fast.py"
    assert by_name.options.cwd == root / "bench"


def test_spaces_and_non_ascii_letters(root: Path) -> None:
    script = root / "mes scripts" / "étude ü.py"
    script.parent.mkdir()
    script.write_text("pass\n")
    manifest = load(
        root,
        """
        [profiles."café-1.2"]
        path = "../mes scripts/étude ü.py"
        args = ["un deux"]
        """,
        folder=root / "dossier été",
    )
    (entry,) = manifest.entries
    assert (entry.name, entry.path, entry.options.args) == ("café-1.2", script, ("un deux",))


@pytest.mark.parametrize(
    ("default", "own", "cli", "expected"),
    [
        (None, None, None, 0),
        (3, None, None, 3),
        (3, 5, None, 5),
        (3, 5, -2, -2),
        (None, None, 7, 7),
    ],
)
def test_precedence_defaults_entry_command_line(
    root: Path, default: int | None, own: int | None, cli: int | None, expected: int
) -> None:
    text = ""
    if default is not None:
        text += f"[defaults]\nprecision = {default}\n"
    text += '[profiles.fast]\npath = "examples/fast.py"\n'
    if own is not None:
        text += f"precision = {own}\n"
    (entry,) = load(root, text).entries
    assert entry.with_overrides(precision=cli, mode=None).options.precision == expected


def test_with_overrides(root: Path) -> None:
    (entry,) = load(
        root,
        """
        [profiles.fast]
        path = "examples/fast.py"
        ignore = ["vendor"]
        args = ["--n", "3"]
        trace = false
        repeat = 4
        """,
    ).entries
    changed = entry.with_overrides(
        mode="memory", trace=True, args=("--n", "9"), ignore=("tests",), repeat=2, live=None
    )
    assert changed.options.mode == "memory"
    assert changed.options.trace is True
    assert changed.options.args == ("--n", "9")
    assert changed.options.ignore == ("vendor", "tests")
    assert changed.repeat == 2
    assert (changed.name, changed.path, changed.tags) == (entry.name, entry.path, entry.tags)
    assert entry.with_overrides(repeat=None, trace=None) == entry
    with pytest.raises(UserError, match="precision: must be from -10 to 10, got 20"):
        entry.with_overrides(precision=20)
    with pytest.raises(UserError, match="repeat: must be a whole number of at least 1, got 0"):
        entry.with_overrides(repeat=0)


def test_async_is_off_unless_the_manifest_or_the_command_line_asks(root: Path) -> None:
    fast, slow = load(
        root,
        """
        [defaults]
        async = true
        [profiles.fast]
        path = "examples/fast.py"
        async = false
        [profiles.slow]
        path = "examples/fast.py"
        """,
    ).entries
    assert ProfileOptions().async_profile is False
    assert (fast.options.async_profile, slow.options.async_profile) == (False, True)
    assert fast.with_overrides(async_profile=True).options.async_profile is True
    assert "--async" in slow.options.to_argv() and "--async" not in fast.options.to_argv()


def test_missing_manifest_says_how_to_create_one(root: Path) -> None:
    with pytest.raises(UserError) as caught:
        load_manifest(root / "profiles.toml", settings_for(root))
    assert str(caught.value) == (
        "profiles.toml: not found; create it with one [profiles.NAME] table per script or "
        'notebook, e.g. [profiles.demo] with path = "examples/demo.py"'
    )


def test_a_folder_instead_of_a_manifest(root: Path) -> None:
    (root / "profiles.toml").mkdir()
    with pytest.raises(UserError, match=r"^profiles.toml: is a folder, not a file; create it"):
        load_manifest(root / "profiles.toml", settings_for(root))


def test_invalid_toml(root: Path) -> None:
    assert problems(root, '[profiles.fast]\npath = "examples/fast.py"\ntimeout = \n') == [
        "profiles.toml: invalid TOML: Invalid value (at line 3, column 11)"
    ]


def test_a_duplicate_name_reads_well(root: Path) -> None:
    text = """
        [profiles.fast]
        path = "examples/fast.py"

        [profiles.slow]
        path = "examples/slow.py"

        [profiles."fast"]  # again
        path = "examples/slow.py"
        """
    assert problems(root, text) == [
        "profiles.toml: line 7: [profiles.fast] is defined twice; give each entry its own name"
    ]


def test_no_entries(root: Path) -> None:
    assert problems(root, "[defaults]\nmode = 'cpu'\n") == [
        "profiles.toml: no entries; add one table per script, e.g. "
        '[profiles.demo] with path = "examples/demo.py"'
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('mode = "fastest"', "mode: must be one of cpu, memory, got 'fastest'"),
        ("precision = 11", "precision: must be from -10 to 10, got 11"),
        ('precision = "1"', "precision: must be a whole number from -10 to 10, got '1'"),
        ('detailed = "yes"', "detailed: must be true or false, got 'yes'"),
        ("trace = 0", "trace: must be true or false, got 0"),
        ('async = "yes"', "async: must be true or false, got 'yes'"),
        (
            'log_level = "noisy"',
            "log_level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'noisy'",
        ),
        ("no_plots = 1", "no_plots: must be true or false, got 1"),
        ('ignore = "tests"', "ignore: must be a list of strings, got 'tests'"),
        ('args = ["--n", 3]', "args: must be a list of strings, got ['--n', 3]"),
        (
            "env = { SEED = 1 }",
            "env: must be a table of strings (NAME = \"value\"), got {'SEED': 1}",
        ),
        ("cwd = 1", "cwd: must be a folder path, got 1"),
        ('cwd = "nowhere"', "cwd: folder {root}/nowhere does not exist"),
        ("timeout = -1", "timeout: must be a positive number, got -1"),
        ('timeout = "10s"', "timeout: must be a positive number (seconds), got '10s'"),
        ("repeat = 0", "repeat: must be a whole number of at least 1, got 0"),
        ("repeat = true", "repeat: must be a whole number of at least 1, got true"),
        ('tags = "quick"', "tags: must be a list of non-empty strings, got 'quick'"),
        ('tags = [""]', "tags: must be a list of non-empty strings, got ['']"),
        ("timout = 3", "timout: unknown key; did you mean 'timeout'?"),
        (
            "colour = 3",
            "colour: unknown key; known keys: path, mode, precision, interval, detailed, "
            "trace, async, log_level, no_plots, ignore, args, env, cwd, timeout, verbose, "
            "instructions, repeat, tags",
        ),
        ('verbose = "yes"', "verbose: must be true or false, got 'yes'"),
    ],
)
def test_each_entry_problem_names_the_entry_and_the_key(
    root: Path, line: str, message: str
) -> None:
    text = f'[profiles.fast]\npath = "examples/fast.py"\n{line}\n'
    assert problems(root, text) == [
        f"profiles.toml: [profiles.fast] {message.replace('{root}', str(root))}"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("path = 3", "path: must be a file path (a string), got 3"),
        ('path = "examples/missing.py"', "path: no script or notebook named 'examples/missing.py'"),
        (
            'path = "pyproject.toml"',
            "path: {root}/pyproject.toml is not a Python script or notebook",
        ),
        ('path = "examples"', "path: {root}/examples is a folder"),
        ('path = "fast.py"\n[profiles.other]\npath = "examples/slow.py"', ""),
    ],
)
def test_path_problems(root: Path, line: str, message: str) -> None:
    (root / "pyproject.toml").write_text("")
    (root / "other" / "fast.py").parent.mkdir()
    (root / "other" / "fast.py").write_text("pass\n")
    lines = problems(root, f"[profiles.fast]\n{line}\n")
    assert len(lines) == 1
    expected = message.replace("{root}", str(root)) or (
        "path: 'fast.py' matches 2 files: examples/fast.py, other/fast.py; give a longer path"
    )
    assert lines[0].startswith(f"profiles.toml: [profiles.fast] {expected}")


def test_a_missing_path(root: Path) -> None:
    assert problems(root, "[profiles.fast]\nmode = 'cpu'\n") == [
        "profiles.toml: [profiles.fast] path: missing; give the script or notebook to profile"
    ]


@pytest.mark.parametrize("name", ["a b", ".store", "a/b", "..", "ça va?"])
def test_entry_names_must_be_safe_folder_names(root: Path, name: str) -> None:
    assert problems(root, f'[profiles."{name}"]\npath = "examples/fast.py"\n') == [
        f'profiles.toml: [profiles."{name}"]: the name becomes a folder name: use letters, '
        "digits, '-', '_' and '.' (not at the start)"
    ]


def test_problems_in_the_document_structure(root: Path) -> None:
    text = """
        profile = 1
        defaults = 3

        [profiles]
        fast = "examples/fast.py"
        """
    assert problems(root, text) == [
        "profiles.toml: profile: unknown key; did you mean 'profiles'?",
        "profiles.toml: defaults: must be a table ([defaults]), got 3",
        "profiles.toml: [profiles.fast]: must be a table with a path, got 'examples/fast.py'",
    ]


def test_profiles_that_is_not_a_table(root: Path) -> None:
    assert problems(root, "profiles = []\n") == [
        "profiles.toml: profiles: must be a table ([profiles]), got []"
    ]


def test_every_problem_is_reported_at_once(root: Path) -> None:
    text = """
        [defaults]
        timout = 3
        path = "examples/fast.py"
        mode = "memory"

        [profiles.fast]
        path = "examples/fast.py"
        timeout = -1
        tags = "quick"

        [profiles.slow]
        path = "examples/nope.py"

        [profiles.ok]
        path = "examples/slow.py"
        """
    lines = problems(root, text)
    assert lines[:5] == [
        "profiles.toml: [defaults] timout: unknown key; did you mean 'timeout'?",
        "profiles.toml: [defaults] path: only an entry has a path; move it to [profiles.NAME]",
        "profiles.toml: [profiles.fast] timeout: must be a positive number, got -1",
        "profiles.toml: [profiles.fast] tags: must be a list of non-empty strings, got 'quick'",
        "profiles.toml: [profiles.slow] path: no script or notebook named 'examples/nope.py': "
        f"looked for {root}/examples/nope.py",
    ]
    assert len(lines) == 5


def test_the_repositorys_own_manifest_is_valid() -> None:
    repository = Path(__file__).resolve().parents[1]
    manifest = load_manifest(repository / "profiles.toml", settings_for(repository))
    assert manifest.entries
    assert all(entry.path.is_file() for entry in manifest.entries)


@pytest.fixture
def manifest(root: Path) -> Manifest:
    return load(
        root,
        """
        [profiles.fast]
        path = "examples/fast.py"
        tags = ["quick", "cpu"]

        [profiles.slow]
        path = "examples/slow.py"
        tags = ["cpu"]

        [profiles.analysis]
        path = "notebooks/analysis.ipynb"
        tags = ["quick", "notebook"]
        """,
    )


def names(entries: tuple) -> list[str]:
    return [entry.name for entry in entries]


def test_select(manifest: Manifest) -> None:
    assert names(select(manifest)) == ["fast", "slow", "analysis"]
    assert names(select(manifest, only=["analysis", "fast"])) == ["fast", "analysis"]
    assert names(select(manifest, tags=["quick"])) == ["fast", "analysis"]
    assert names(select(manifest, tags=["notebook", "cpu"])) == ["fast", "slow", "analysis"]
    assert names(select(manifest, only=["fast", "slow"], tags=["quick"])) == ["fast"]


def test_select_an_unknown_name_lists_the_known_ones(manifest: Manifest) -> None:
    with pytest.raises(UserError) as caught:
        select(manifest, only=["fats"])
    assert str(caught.value) == (
        "no entry named 'fats' in profiles.toml (entries: fast, slow, analysis)"
    )


def test_select_a_tag_no_entry_has(manifest: Manifest) -> None:
    with pytest.raises(UserError) as caught:
        select(manifest, tags=["gpu"])
    assert str(caught.value) == (
        "no entry has the tag 'gpu' in profiles.toml (tags: cpu, notebook, quick)"
    )


def test_select_names_and_tags_that_exclude_each_other(manifest: Manifest) -> None:
    with pytest.raises(UserError) as caught:
        select(manifest, only=["slow"], tags=["notebook"])
    assert str(caught.value) == (
        "no entry is both named slow and tagged notebook; check --only and --tag"
    )
