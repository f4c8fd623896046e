"""Cluster cost: `profile-all --scheduler` on a two-worker local Dask cluster against the same
batch run locally (issue 17: the scheduling overhead, at most 3%).

A temp code base with 3 entries in a profiles.toml, each a CPU-bound pure-Python script of about
1 s, repeated 3 times (9 runs a batch). One `distributed.LocalCluster` of two worker processes
(one thread each) on 127.0.0.1 serves every round. A is `python -m fixingahole profile-all
--scheduler ADDRESS`; B is `python -m fixingahole profile-all --scheduler ''` (local). A and B
alternate (A B, B A, ...); each is timed from start to exit, stdin closed, output discarded.
Figure: the median of the per-round ratios A / B. Budget: at most 1.03.

Two more figures split that: `cluster_span_ratio`, the same ratio of the batch's span (from its
first run's start to its last run's end, read from the run folders: what the cluster adds
between runs, which grows with the batch), and `cluster_fixed_s`, the rest of A's added time
(the client's start: importing distributed, connecting; and its exit), paid once a batch. On a
busy machine the runs' own wall times drift by more than 3% from batch to batch; the gap between
one run's end and the next one's start does not, so `cluster_gap_added_s` (the median gap of A
minus B's) is what the cluster adds per run, beyond the noise.

The client's fixed costs (importing distributed, connecting) are in A's time; on one host the
runs go one at a time either way, so the ratio is what the cluster adds. One untimed batch of
each goes first: a worker's first run imports fixing-a-hole and Scalene's modules, once for the
worker's life.

    python benchmarks/bench_cluster.py            # 5 rounds: ~5 minutes
    python benchmarks/bench_cluster.py --quick    # 1 round of 3 short runs

Last line: `cluster_ratio=1.01 cluster_added_s=0.2 cluster_span_ratio=1 cluster_fixed_s=0.2
cluster_gap_added_s=0.01` (on one line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from _common import FIXINGAHOLE, figure_line, paired, run_timed, spread, steps_for, write_workload

ENTRIES = ("alpha", "beta", "gamma")


def setup(root: Path, seconds: float, repeat: int) -> None:
    """Scripts and a manifest under `root`."""
    steps = steps_for(seconds)
    manifest = ["[defaults]", 'mode = "cpu"', f"repeat = {repeat}", ""]
    for number, name in enumerate(ENTRIES):
        script = write_workload(root, f"{name}.py")
        args = [str(int(steps * (0.8 + 0.2 * number)))]
        manifest += [f"[profiles.{name}]", f'path = "{script.name}"', f"args = {json.dumps(args)}"]
    (root / "profiles.toml").write_text("\n".join(manifest), encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n', encoding="utf-8")


def span(out: Path, seen: set[Path]) -> tuple[float, float]:
    """Seconds from the first start to the last end of the runs not in `seen` (added to it), and
    the median gap between one run's end and the next one's start."""
    runs = []
    for path in set(out.glob("*/*/summary.json")) - seen:
        summary = json.loads(path.read_text(encoding="utf-8"))
        started = datetime.strptime(summary["started_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        runs.append((started, started + summary["wall_s"]))
        seen.add(path)
    runs.sort()
    gaps = [after[0] - before[1] for before, after in pairwise(runs)]
    return runs[-1][1] - runs[0][0], statistics.median(gaps) if gaps else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of short runs")
    args = parser.parse_args(argv)
    seconds, repeat, rounds = (0.3, 1, 1) if args.quick else (1.0, 3, 5)
    from distributed import LocalCluster

    with (
        tempfile.TemporaryDirectory(prefix="fixingahole-cluster-") as folder,
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
    ):
        root = Path(folder).resolve()
        setup(root, seconds, repeat)
        where = ["--root", str(root), "--output", str(root / "out")]
        remote = [*FIXINGAHOLE, "profile-all", *where, "--scheduler", cluster.scheduler_address]
        local = [*FIXINGAHOLE, "profile-all", *where, "--scheduler", ""]
        print(f"A: {' '.join(remote)}")
        print(f"B: {' '.join(local)}")
        run_timed(remote, cwd=root)  # untimed: the workers' first run imports the profiler
        run_timed(local, cwd=root)
        seen = set((root / "out").glob("*/*/summary.json"))
        a_times, b_times, a_spans, b_spans, gaps = [], [], [], [], {"A": [], "B": []}
        for index in range(rounds):
            sides = ["A", "B"] if index % 2 == 0 else ["B", "A"]
            for side in sides:
                if side == "A":
                    a_times.append(run_timed(remote, cwd=root))
                    inner, gap = span(root / "out", seen)
                    a_spans.append(inner)
                else:
                    b_times.append(run_timed(local, cwd=root))
                    inner, gap = span(root / "out", seen)
                    b_spans.append(inner)
                gaps[side].append(gap)
            print(
                f"  {index + 1}/{rounds} cluster {a_times[-1]:.3f} s, local {b_times[-1]:.3f} s",
                flush=True,
            )
        runs = len(list((root / "out").glob("*/*/summary.json")))
    differences, ratios = paired(a_times, b_times)
    _, span_ratios = paired(a_spans, b_spans)
    a_fixed = [total - inner for total, inner in zip(a_times, a_spans, strict=True)]
    b_fixed = [total - inner for total, inner in zip(b_times, b_spans, strict=True)]
    fixed, _ = paired(a_fixed, b_fixed)
    gap_added, _ = paired(gaps["A"], gaps["B"])
    per_batch = len(ENTRIES) * repeat
    print(f"{per_batch} runs of ~{seconds:g} s a batch, {rounds} rounds, {runs} run folders")
    print(f"cluster {spread(a_times)}; local {spread(b_times)}")
    print(f"ratio {statistics.median(ratios):.4f} median ({min(ratios):.4f}-{max(ratios):.4f})")
    print(f"span: cluster {spread(a_spans)}; local {spread(b_spans)}")
    print(f"span ratio {statistics.median(span_ratios):.4f} median ({min(span_ratios):.4f}-")
    print(f"  {max(span_ratios):.4f}); fixed cost added {statistics.median(fixed):.3f} s median")
    print(f"gap between runs: cluster {spread(gaps['A'])}; local {spread(gaps['B'])}")
    print("budget: cluster_ratio <= 1.03")
    figures = {"cluster_ratio": statistics.median(ratios)}
    figures["cluster_added_s"] = statistics.median(differences)
    figures["cluster_span_ratio"] = statistics.median(span_ratios)
    figures["cluster_fixed_s"] = statistics.median(fixed)
    figures["cluster_gap_added_s"] = statistics.median(gap_added)
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
