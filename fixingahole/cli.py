"""The `fixingahole` command."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    raise SystemExit("not implemented yet")
