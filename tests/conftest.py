"""Shared fixtures: a throwaway code base with its own pyproject.toml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty code base (a folder with a pyproject.toml) that is the current directory."""
    root = tmp_path / "project"
    write(root / "pyproject.toml", '[project]\nname = "demo"\n')
    monkeypatch.chdir(root)
    for name in ("FIXINGAHOLE_ROOT", "FIXINGAHOLE_OUTPUT", "FIXINGAHOLE_IGNORE"):
        monkeypatch.delenv(name, raising=False)
    return root
