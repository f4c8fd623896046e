"""Settings: defaults < [tool.fixingahole] < FIXINGAHOLE_* < arguments, and loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixingahole.errors import UserError
from fixingahole.settings import load_settings


def make_project(folder: Path, table: str = "") -> Path:
    """A folder with a pyproject.toml holding `table` (TOML text) under [tool.fixingahole]."""
    folder.mkdir(parents=True, exist_ok=True)
    text = '[project]\nname = "demo"\n'
    if table:
        text += f"\n[tool.fixingahole]\n{table}\n"
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return folder


def error_of(**kwargs: object) -> str:
    """The message of the UserError load_settings raises."""
    with pytest.raises(UserError) as caught:
        load_settings(**kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults_without_a_table(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    settings = load_settings(cwd=root, environ={})
    assert settings.root == root.resolve()
    assert settings.output == root.resolve() / "performance"
    assert settings.ignore == ()
    assert settings.pyproject is None


def test_defaults_without_any_pyproject(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.root == tmp_path.resolve()
    assert settings.output == tmp_path.resolve() / "performance"


def test_root_defaults_to_the_cwd_not_the_pyproject_folder(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", 'output = "perf"')
    sub = root / "sub"
    sub.mkdir()
    settings = load_settings(cwd=sub, environ={})
    assert settings.root == sub.resolve()
    assert settings.output == sub.resolve() / "perf"
    assert settings.pyproject == root / "pyproject.toml"


def test_file_values_are_relative_to_the_pyproject_and_root(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "code", 'root = "src"\noutput = "../results"\nignore = ["tests", "docs/old"]'
    )
    (root / "src").mkdir()
    deep = root / "src" / "pkg" / "inner"
    deep.mkdir(parents=True)
    settings = load_settings(cwd=deep, environ={})
    assert settings.root == (root / "src").resolve()
    assert settings.output == root.resolve() / "results"
    assert settings.ignore == (root.resolve() / "src/tests", root.resolve() / "src/docs/old")
    assert settings.pyproject == root / "pyproject.toml"


def test_the_nearest_pyproject_wins(tmp_path: Path) -> None:
    outer = make_project(tmp_path / "outer", 'output = "outer-results"')
    inner = make_project(outer / "inner", 'output = "inner-results"')
    settings = load_settings(cwd=inner, environ={})
    assert settings.output.name == "inner-results"
    assert settings.pyproject == inner / "pyproject.toml"


@pytest.mark.parametrize(
    ("layers", "expected_output", "expected_ignore"),
    [
        ((), "performance", ()),
        (("file",), "from-file", ("file-ignored",)),
        (("file", "env"), "from-env", ("env-a", "env-b")),
        (("file", "env", "args"), "from-args", ("env-a", "env-b", "arg-ignored")),
        (("file", "args"), "from-args", ("file-ignored", "arg-ignored")),
    ],
)
def test_precedence_defaults_file_env_args(
    tmp_path: Path, layers: tuple[str, ...], expected_output: str, expected_ignore: tuple[str, ...]
) -> None:
    for name in ("file-root", "env-root", "arg-root"):
        (tmp_path / name).mkdir()
    table = 'root = "file-root"\noutput = "from-file"\nignore = ["file-ignored"]'
    project = make_project(tmp_path / "project", table if "file" in layers else "")
    (project / "file-root").mkdir()
    environ = (
        {
            "FIXINGAHOLE_ROOT": str(tmp_path / "env-root"),
            "FIXINGAHOLE_OUTPUT": "from-env",
            "FIXINGAHOLE_IGNORE": " env-a, env-b ,",
        }
        if "env" in layers
        else {}
    )
    args = (
        {"root": tmp_path / "arg-root", "output": "from-args", "ignore": ["arg-ignored"]}
        if "args" in layers
        else {}
    )
    settings = load_settings(cwd=project, environ=environ, **args)
    expected_root = {
        (): project,
        ("file",): project / "file-root",
        ("file", "env"): tmp_path / "env-root",
        ("file", "env", "args"): tmp_path / "arg-root",
        ("file", "args"): tmp_path / "arg-root",
    }[layers].resolve()
    assert settings.root == expected_root
    assert settings.output == expected_root / expected_output
    assert settings.ignore == tuple(expected_root / name for name in expected_ignore)


def test_env_ignore_set_but_empty_clears_the_files_list(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", 'ignore = ["tests"]')
    settings = load_settings(cwd=root, environ={"FIXINGAHOLE_IGNORE": ""})
    assert settings.ignore == ()


def test_relative_env_root_is_relative_to_the_cwd(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    (root / "lib").mkdir()
    settings = load_settings(cwd=root, environ={"FIXINGAHOLE_ROOT": "lib"})
    assert settings.root == (root / "lib").resolve()
    assert settings.output == (root / "lib").resolve() / "performance"


def test_absolute_output_and_repeated_ignores(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", 'ignore = ["a", "a"]')
    elsewhere = tmp_path / "elsewhere"
    settings = load_settings(cwd=root, environ={}, output=elsewhere, ignore=["a", "b"])
    assert settings.output == elsewhere
    assert settings.ignore == (root.resolve() / "a", root.resolve() / "b")


def test_paths_with_spaces_and_non_ascii_letters(tmp_path: Path) -> None:
    root = make_project(tmp_path / "mon projet é", 'root = "código fuente"\noutput = "résultats ü"')
    (root / "código fuente").mkdir()
    settings = load_settings(cwd=root, environ={})
    assert settings.root == (root / "código fuente").resolve()
    assert settings.output == settings.root / "résultats ü"


def test_unknown_key(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", 'outptu = "x"')
    assert error_of(cwd=root, environ={}) == (
        "pyproject.toml: [tool.fixingahole] key 'outptu' is unknown "
        "(known: ignore, output, root, scheduler)"
    )


def test_errors_name_the_pyproject_relative_to_the_cwd(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", "colour = 1")
    sub = root / "sub"
    sub.mkdir()
    message = error_of(cwd=sub, environ={})
    assert message.startswith(f"{root / 'pyproject.toml'}: [tool.fixingahole] key 'colour'")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("root = 1", "[tool.fixingahole] root: must be a non-empty string (a folder), got 1"),
        ('output = ""', "[tool.fixingahole] output: must be a non-empty string (a folder), got ''"),
        (
            'ignore = "tests"',
            "[tool.fixingahole] ignore: must be a list of folder names, got 'tests'",
        ),
        ("ignore = [1]", "[tool.fixingahole] ignore: must be a list of folder names, got [1]"),
    ],
)
def test_wrong_types(tmp_path: Path, line: str, expected: str) -> None:
    root = make_project(tmp_path / "code", line)
    assert error_of(cwd=root, environ={}) == f"pyproject.toml: {expected}"


def test_table_that_is_not_a_table(tmp_path: Path) -> None:
    root = tmp_path / "code"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool]\nfixingahole = 3\n", encoding="utf-8")
    assert error_of(cwd=root, environ={}) == (
        "pyproject.toml: [tool.fixingahole] must be a table, got 3"
    )


def test_invalid_toml_is_one_line_with_the_line_number(tmp_path: Path) -> None:
    root = tmp_path / "code"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nbroken = \n', encoding="utf-8")
    message = error_of(cwd=root, environ={})
    assert message.startswith("pyproject.toml: invalid TOML: ")
    assert "line 3" in message


def test_root_in_file_that_does_not_exist(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code", 'root = "nope"')
    assert error_of(cwd=root, environ={}) == (
        "pyproject.toml: [tool.fixingahole] root 'nope': folder does not exist"
    )


def test_root_in_env_that_does_not_exist(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    missing = tmp_path / "nope"
    assert error_of(cwd=root, environ={"FIXINGAHOLE_ROOT": str(missing)}) == (
        f"FIXINGAHOLE_ROOT={missing}: folder does not exist"
    )


def test_root_argument_that_is_a_file(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    assert error_of(cwd=root, environ={}, root="pyproject.toml") == (
        "--root pyproject.toml: is not a folder"
    )


def test_empty_env_variable(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    assert error_of(cwd=root, environ={"FIXINGAHOLE_OUTPUT": " "}) == (
        "FIXINGAHOLE_OUTPUT is set but empty: give a folder or unset it"
    )


@pytest.mark.parametrize(
    ("table", "environ", "args", "expected"),
    [
        ('output = "taken"', {}, {}, "pyproject.toml: [tool.fixingahole] output 'taken'"),
        ("", {"FIXINGAHOLE_OUTPUT": "taken"}, {}, "FIXINGAHOLE_OUTPUT=taken"),
        ("", {}, {"output": "taken"}, "--output taken"),
    ],
)
def test_output_that_is_an_existing_file(
    tmp_path: Path, table: str, environ: dict[str, str], args: dict[str, str], expected: str
) -> None:
    root = make_project(tmp_path / "code", table)
    (root / "taken").write_text("not a folder")
    assert error_of(cwd=root, environ=environ, **args) == (
        f"{expected}: is a file, not a folder; choose another output folder"
    )


def test_default_output_that_is_an_existing_file(tmp_path: Path) -> None:
    root = make_project(tmp_path / "code")
    (root / "performance").write_text("not a folder")
    assert error_of(cwd=root, environ={}) == (
        "output 'performance' (the default): is a file, not a folder; choose another output folder"
    )


def test_reads_the_real_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "code")
    monkeypatch.chdir(root)
    monkeypatch.setenv("FIXINGAHOLE_OUTPUT", "from-env")
    monkeypatch.delenv("FIXINGAHOLE_ROOT", raising=False)
    monkeypatch.delenv("FIXINGAHOLE_IGNORE", raising=False)
    settings = load_settings()
    assert settings.root == root.resolve()
    assert settings.output == root.resolve() / "from-env"
