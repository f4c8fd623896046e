"""Matching a notebook's cells across two versions, by source, without Scalene."""

from __future__ import annotations

import pandas as pd

from fixingahole.compare import cell_changes
from tests.factories import cell_rows as rows


def test_an_inserted_cell_shifts_numbers_but_not_the_matching() -> None:
    before = [("import", 0.1), ("load", 2.0), ("fit", 5.0), ("plot", 1.0)]
    after = [("import", 0.1), ("new", 0.5), ("load", 2.2), ("fit", 4.0), ("plot!", 1.0)]
    table = pd.DataFrame(rows("nb/1", before) + rows("nb/2", after) + rows("nb/3", after))
    sides = {"nb/1": ("nb", "a"), "nb/2": ("nb", "b"), "nb/3": ("nb", "b")}
    (changes,) = cell_changes(table, sides).values()
    assert [(c.cell_a, c.cell_b, c.status, c.first_line) for c in changes] == [
        (1, 1, "same", "import"),
        (None, 2, "new", "new"),
        (2, 3, "same", "load"),
        (3, 4, "same", "fit"),
        (4, 5, "changed", "plot!"),
    ]
    fit = changes[3]
    assert (fit.seconds_a, fit.seconds_b, fit.delta_seconds) == (5.0, 4.0, -1.0)
    assert fit.seconds_pct == -20.0


def test_a_deleted_cell_and_a_repeated_source() -> None:
    before = [("show", 1.0), ("work", 3.0), ("show", 2.0)]
    after = [("show", 1.0), ("show", 2.5)]
    table = pd.DataFrame(rows("nb/1", before) + rows("nb/2", after))
    (changes,) = cell_changes(table, {"nb/1": ("nb", "a"), "nb/2": ("nb", "b")}).values()
    assert [(c.cell_a, c.cell_b, c.status) for c in changes] == [
        (1, 1, "same"),
        (2, None, "gone"),
        (3, 2, "same"),
    ]
    assert changes[2].seconds_a == 2.0 and changes[2].seconds_b == 2.5


def test_a_script_entry_or_a_side_without_cells_gives_nothing() -> None:
    table = pd.DataFrame(rows("nb/1", [("a", 1.0)]))
    assert cell_changes(table, {"nb/1": ("nb", "a"), "nb/2": ("nb", "b")}) == {}
