"""Batch cost: `fixingahole profile-all` against the sum of single profiles (issue 6, budget 5).

A temp code base with N = 3 entries in a profiles.toml, each a CPU-bound pure-Python script
of about 1 s (the same workload with different sizes), default options. A is one
`python -m fixingahole profile-all` over the manifest; B is `python -m fixingahole profile
<script>` for each of the three scripts, one after the other, and its time is the sum of the
three. A and B alternate (A B, B A, ...); each is timed from start to exit, stdin closed,
output discarded. Figure: the median of the per-round ratios A / B. Budget: at most 1.02.

    python benchmarks/bench_batch.py            # 5 rounds of ~1 s entries: ~90 s
    python benchmarks/bench_batch.py --quick    # 1 round of ~0.3 s entries

Last line: `ratio=0.98 added_s=-0.1`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _common import (
    FIXINGAHOLE,
    figure_line,
    paired,
    run_timed,
    spread,
    steps_for,
    write_workload,
)

ENTRIES = ("alpha", "beta", "gamma")


def setup(root: Path, seconds: float) -> list[list[str]]:
    """Scripts and a manifest under `root`; the single-profile argv of each entry."""
    steps = steps_for(seconds)
    manifest = ["[defaults]", 'mode = "cpu"', ""]
    singles = []
    for number, name in enumerate(ENTRIES):
        script = write_workload(root, f"{name}.py")
        args = [str(int(steps * (0.8 + 0.2 * number)))]
        manifest += [f"[profiles.{name}]", f'path = "{script.name}"', f"args = {json.dumps(args)}"]
        singles.append([*FIXINGAHOLE, "profile", str(script), *where(root), "--", *args])
    (root / "profiles.toml").write_text("\n".join(manifest), encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n', encoding="utf-8")
    return singles


def where(root: Path) -> list[str]:
    return ["--root", str(root), "--output", str(root / "out")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of short entries")
    args = parser.parse_args(argv)
    seconds, rounds = (0.3, 1) if args.quick else (1.0, 5)
    with tempfile.TemporaryDirectory(prefix="fixingahole-batch-") as folder:
        root = Path(folder).resolve()
        singles = setup(root, seconds)
        batch = [*FIXINGAHOLE, "profile-all", *where(root)]
        print(f"A: {' '.join(batch)}")
        for argv in singles:
            print(f"B: {' '.join(argv)}")
        a_times, b_times = [], []
        for index in range(rounds):
            sides = ["A", "B"] if index % 2 == 0 else ["B", "A"]
            for side in sides:
                if side == "A":
                    a_times.append(run_timed(batch, cwd=root))
                else:
                    b_times.append(sum(run_timed(argv, cwd=root) for argv in singles))
            print(
                f"  {index + 1}/{rounds} profile-all {a_times[-1]:.3f} s, "
                f"sum of singles {b_times[-1]:.3f} s",
                flush=True,
            )
        runs = len(list((root / "out").glob("*/*/summary.json")))
    differences, ratios = paired(a_times, b_times)
    added = statistics.median(differences)
    print(f"{len(ENTRIES)} entries of ~{seconds:g} s, {rounds} rounds, {runs} run folders written")
    print(f"profile-all {spread(a_times)}; sum of singles {spread(b_times)}")
    print(f"ratio {statistics.median(ratios):.4f} median ({min(ratios):.4f}-{max(ratios):.4f})")
    print("budget: ratio <= 1.02")
    print(figure_line({"ratio": statistics.median(ratios), "added_s": added}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
