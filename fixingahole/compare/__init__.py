"""Compare two selections of runs: select them, aggregate repeats, test, and give verdicts.

The input is the store's tables as DataFrames (columns as in docs/internals.md, "The store"), so
a comparison works on frames from anywhere. `compare_runs()` is the one entry point; render its
result with `fixingahole.report.comparison.render`. Each module states its rules:

- `runs`: the runs table as compare reads it: entries and tags chosen, code versions numbered,
  a run as a `RunRow`;
- `selectors`: the selector grammar (dates, run ids, commits, branches, `latest~N`) and, with
  one selector, the runs before B;
- `verdicts`: how a metric changed (`judge`, `judge_counts`, `Judgement`), the threshold and
  alpha rules, the metrics judged;
- `changes`: the functions and lines that moved most (`CodeChange`); `cells`: a notebook's cells
  matched by their source (`CellChange`);
- `comparison`: `compare_runs` and its result (`Comparison`, `EntryComparison`, `Header`, `Side`,
  `GeoMean`).
"""

from fixingahole.compare.cells import CellChange, cell_changes
from fixingahole.compare.changes import CodeChange, CodeFigures
from fixingahole.compare.comparison import (
    Comparison,
    EntryComparison,
    GeoMean,
    Header,
    MetricComparison,
    Side,
    compare_runs,
)
from fixingahole.compare.verdicts import (
    COUNTS,
    METRIC_LABELS,
    METRICS,
    PRIMARY,
    Judgement,
    judge,
    judge_counts,
    judge_metric,
)
from fixingahole.options import MEASURING_OPTIONS

__all__ = [
    "COUNTS",
    "MEASURING_OPTIONS",
    "METRICS",
    "METRIC_LABELS",
    "PRIMARY",
    "CellChange",
    "CodeChange",
    "CodeFigures",
    "Comparison",
    "EntryComparison",
    "GeoMean",
    "Header",
    "Judgement",
    "MetricComparison",
    "Side",
    "cell_changes",
    "compare_runs",
    "judge",
    "judge_counts",
    "judge_metric",
]
