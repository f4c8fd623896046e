"""Shared fixtures: a throwaway code base with its own pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import write


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty code base (a folder with a pyproject.toml) that is the current directory."""
    root = tmp_path / "project"
    write(root / "pyproject.toml", '[project]\nname = "demo"\n')
    monkeypatch.chdir(root)
    for name in ("FIXINGAHOLE_ROOT", "FIXINGAHOLE_OUTPUT", "FIXINGAHOLE_IGNORE"):
        monkeypatch.delenv(name, raising=False)
    return root
