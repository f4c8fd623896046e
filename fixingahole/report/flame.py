"""Call trees for the pages' flame graphs, built from folded stacks (`stacks.folded` lines).

A `Flame` is the tree as flat columns, the shape plotly's icicle chart draws: node ids (the call
path), labels (the function), parents, and inclusive and self weights in seconds. A folded line's
samples become seconds as a share of the run's samples times its elapsed time, so that runs of
different lengths and sample counts can be set side by side. `diff_flame` merges two sides (each
the mean over its runs) into one tree whose nodes carry both weights. `icicle_trace` is what every
page's flame graph gives plotly of the tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]  # frames, outermost first, each `name (file)`
ROOT = "all"


@dataclass
class Flame:
    """A call tree as columns; node 0 is the root, every parent comes before its children."""

    ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    total: list[float] = field(default_factory=list)  # inclusive seconds (side B in a diff)
    self: list[float] = field(default_factory=list)
    total_a: list[float] = field(default_factory=list)  # a diff's side A; empty otherwise
    self_a: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def icicle_trace(
    flame: Flame, values: Sequence[float], branchvalues: str, customdata: Sequence[Sequence[Any]]
) -> dict[str, Any]:
    """An icicle trace's tree, its values (plotly's `branchvalues`: "total" when a value includes
    the children's, "remainder" when it does not) and hover data; the page adds its style."""
    return {
        "type": "icicle",
        "ids": flame.ids,
        "labels": flame.labels,
        "parents": flame.parents,
        "values": values,
        "branchvalues": branchvalues,
        "customdata": customdata,
    }


def parse_folded(text: str) -> dict[Path, int]:
    """Folded lines as call path -> samples; malformed lines are skipped."""
    paths: dict[Path, int] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            key = tuple(stack.split(";"))
            paths[key] = paths.get(key, 0) + int(count)
    return paths


def in_seconds(paths: Mapping[Path, int], elapsed_s: float) -> dict[Path, float]:
    """Samples as seconds of a run that took `elapsed_s` (samples themselves when unknown)."""
    samples = sum(paths.values())
    scale = elapsed_s / samples if elapsed_s > 0 and samples else 1.0
    return {path: count * scale for path, count in paths.items()}


def mean_paths(runs: Sequence[Mapping[Path, float]]) -> dict[Path, float]:
    """The mean weight of each path over runs (a run without the path counts as 0)."""
    merged: dict[Path, float] = {}
    for run in runs:
        for path, weight in run.items():
            merged[path] = merged.get(path, 0.0) + weight / len(runs)
    return merged


def build_flame(paths: Mapping[Path, float]) -> Flame:
    """The call tree of one side."""
    totals, selfs = _accumulate(paths)
    return _columns(totals, selfs, None)


def diff_flame(a: Mapping[Path, float], b: Mapping[Path, float]) -> Flame:
    """One tree over both sides' paths; `total` is B's weight, `total_a` A's."""
    totals_b, selfs_b = _accumulate(b)
    totals_a, selfs_a = _accumulate(a)
    for node in totals_a:
        totals_b.setdefault(node, 0.0)
        selfs_b.setdefault(node, 0.0)
    return _columns(totals_b, selfs_b, (totals_a, selfs_a))


def split_frame(frame: str) -> tuple[str, str]:
    """`name (file)` -> (name, file)."""
    name, sep, file = frame.rpartition(" (")
    return (name, file[:-1]) if sep and file.endswith(")") else (frame, "")


def _accumulate(paths: Mapping[Path, float]) -> tuple[dict[Path, float], dict[Path, float]]:
    """Inclusive and self weight of every prefix of every path (the root is `()`)."""
    totals: dict[Path, float] = {(): 0.0}
    selfs: dict[Path, float] = {(): 0.0}
    for path, weight in paths.items():
        totals[()] += weight
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            totals[prefix] = totals.get(prefix, 0.0) + weight
            selfs.setdefault(prefix, 0.0)
        selfs[path] += weight
    return totals, selfs


def _columns(
    totals: Mapping[Path, float],
    selfs: Mapping[Path, float],
    side_a: tuple[Mapping[Path, float], Mapping[Path, float]] | None,
) -> Flame:
    flame = Flame()
    for node in _ordered(totals):
        name, file = split_frame(node[-1]) if node else (ROOT, "")
        flame.ids.append(_node_id(node))
        flame.labels.append(name)
        flame.files.append(file)
        flame.parents.append(_node_id(node[:-1]) if node else "")
        flame.total.append(round(totals[node], 6))
        flame.self.append(round(selfs.get(node, 0.0), 6))
        if side_a is not None:
            flame.total_a.append(round(side_a[0].get(node, 0.0), 6))
            flame.self_a.append(round(side_a[1].get(node, 0.0), 6))
    return flame


def _ordered(nodes: Iterable[Path]) -> list[Path]:
    """Parents before children: by depth, then by path."""
    return sorted(nodes, key=lambda node: (len(node), node))


def _node_id(node: Path) -> str:
    return ";".join((ROOT, *node))
