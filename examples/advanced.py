"""A numpy workload with the shapes profiling is for: linear algebra, FFTs, a slow Python loop,
large temporary arrays and a cache that only grows.

Run it directly (`python examples/advanced.py --size 600`) or profile it:
`fixingahole profile advanced.py --memory`.
"""

import argparse
import logging

import numpy as np

log = logging.getLogger("examples.advanced")


def make_matrix(rng: np.random.Generator, size: int) -> np.ndarray:
    """A symmetric positive-definite matrix."""
    a = rng.standard_normal((size, size))
    return a @ a.T + size * np.eye(size)


def solve_systems(matrix: np.ndarray, rng: np.random.Generator, count: int) -> float:
    """Solve many right-hand sides, one at a time (deliberately not batched)."""
    total = 0.0
    for _ in range(count):
        b = rng.standard_normal(matrix.shape[0])
        total += float(np.linalg.solve(matrix, b).sum())
    return total


def spectra(rng: np.random.Generator, n: int, rounds: int) -> float:
    """Power spectra of noisy signals: large temporary arrays."""
    peak = 0.0
    for _ in range(rounds):
        signal = rng.standard_normal(n) + np.sin(np.linspace(0, 200 * np.pi, n))
        power = np.abs(np.fft.rfft(signal)) ** 2
        peak = max(peak, float(power.max()))
    return peak


def python_loop(n: int) -> int:
    """Pure-Python arithmetic: where interpreted code costs time."""
    acc = 0
    for i in range(n):
        if i % 3 == 0 or i % 5 == 0:
            acc += i * i
    return acc


_cache: list[np.ndarray] = []


def remember(rng: np.random.Generator, rounds: int, mb_each: float) -> int:
    """A cache that is never emptied: the memory profile shows it growing."""
    n = int(mb_each * 1024 * 1024 / 8)
    for _ in range(rounds):
        _cache.append(rng.standard_normal(n))
    return len(_cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=500, help="matrix size")
    parser.add_argument("--scale", type=float, default=2.0, help="multiplies the work done")
    args = parser.parse_args()

    rng = np.random.default_rng(42)
    matrix = make_matrix(rng, args.size)
    solved = solve_systems(matrix, rng, int(40 * args.scale))
    peak = spectra(rng, 2**20, int(12 * args.scale))
    loop = python_loop(int(3_000_000 * args.scale))
    cached = remember(rng, int(20 * args.scale), 8.0)
    if cached > 10:
        log.warning("cache holds %d arrays; nothing ever evicts them", cached)
    print(f"solved={solved:.3f} peak={peak:.3e} loop={loop} cached={cached}")


if __name__ == "__main__":
    main()
