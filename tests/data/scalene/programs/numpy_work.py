"""A numpy workload of about 5-10 s under Scalene: linear algebra, FFTs, sorting, a Python loop,
large temporaries and a cache that only grows."""

import numpy as np

ROUNDS = 8
cache = []


def make_matrix(rng, size):
    a = rng.standard_normal((size, size))
    return a @ a.T + size * np.eye(size)


def solve_many(matrix, rng, count):
    total = 0.0
    for _ in range(count):
        b = rng.standard_normal(matrix.shape[0])
        total += float(np.linalg.solve(matrix, b).sum())
    return total


def spectra(rng, n, rounds):
    peak = 0.0
    for _ in range(rounds):
        signal = rng.standard_normal(n) + np.sin(np.linspace(0, 200 * np.pi, n))
        power = np.abs(np.fft.rfft(signal)) ** 2
        peak = max(peak, float(power.max()))
    return peak


def sort_and_search(rng, n):
    values = np.sort(rng.random(n))
    probes = rng.random(n // 4)
    return int(np.searchsorted(values, probes).sum())


def python_loop(n):
    acc = 0
    for i in range(n):
        if i % 3 == 0 or i % 5 == 0:
            acc += i * i
    return acc


def temporaries(rng, n):
    x = rng.random(n)
    y = np.exp(x) * np.cos(x) + np.sqrt(x + 1.0)
    z = np.cumsum(y) / (np.arange(n) + 1)
    return float(z[-1])


def grow_cache(rng, n):
    cache.append(rng.random(n))
    return sum(block.nbytes for block in cache)


def main():
    rng = np.random.default_rng(42)
    matrix = make_matrix(rng, 400)
    results = []
    for _ in range(ROUNDS):
        results.append(solve_many(matrix, rng, 40))
        results.append(spectra(rng, 1 << 20, 3))
        results.append(sort_and_search(rng, 2_000_000))
        results.append(python_loop(400_000))
        results.append(temporaries(rng, 3_000_000))
        results.append(grow_cache(rng, 1_000_000))
    print(len(results), round(sum(results), 3))


if __name__ == "__main__":
    main()
