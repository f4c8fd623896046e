"""nox sessions: `nox -s profile -- --tag quick` runs the same batch as `invoke profile-all`;
`nox --no-venv -s typecheck` runs mypy in the current environment, as .ci/run does."""

import nox

nox.options.default_venv_backend = "venv"


@nox.session(reuse_venv=True)
def profile(session: nox.Session) -> None:
    """Profile the entries of profiles.toml; `-- ARGS` go to `fixingahole profile-all`."""
    if session.venv_backend != "none":  # `nox --no-venv` uses the current environment as it is
        session.install("-e", ".[examples]")
    session.run("fixingahole", "profile-all", *session.posargs)


@nox.session(reuse_venv=True)
def tests(session: nox.Session) -> None:
    """The test suite."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(reuse_venv=True)
def typecheck(session: nox.Session) -> None:
    """mypy over fixingahole/ as pyproject.toml's [tool.mypy] sets it; `-- ARGS` go to mypy."""
    if session.venv_backend != "none":  # the libraries' own types are read, so install them all
        session.install("-e", ".[test]")
    session.run("mypy", *session.posargs)
