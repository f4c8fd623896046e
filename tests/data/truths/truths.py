"""Truths by construction, profiled by tests/test_truths.py, which finds functions by name.

Functions whose shares are compared are called in turn, many times over: Scalene's samples are
denser in some phases of a run than in others (the first of two equal calls made one after the
other got 62% of their samples in both of two runs, the second 40-49%)."""

import numpy as np
from same_names import Tool
from same_names import work as other_work


def spin(n):
    x = 0
    while x < n:
        x += 1
    return x


def run_spin():
    return spin(6_000_000)


def heavy(n):
    total = 0
    for i in range(3 * n):
        total += i % 7
    return total


def light(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total


def split():
    return sum(heavy(250_000) + light(250_000) for _ in range(6))


def work(n):
    total = 0
    for i in range(2 * n):
        total += i % 5
    return total


def same_names():
    return sum(work(250_000) + other_work(250_000) + Tool().work(250_000) for _ in range(8))


def numbers(n):
    for _ in range(n):
        acc = 0
        for j in range(60):
            acc += j
        yield acc


def consume():
    return sum(numbers(60_000))


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def run_fib():
    return fib(27)


class Walker:
    def step(self, n):
        total = 0
        for i in range(n):
            total += i & 3
        return total


def run_method():
    return Walker().step(4_000_000)


def with_lambda():
    return sorted(range(500_000), key=lambda v: (v * 7919) % 104729 + (v * v) % 97)


def with_comprehension():
    return sum([(i * 7919) % 104729 + (i * i) % 97 for i in range(400_000)])


def summing():
    return sum(range(30_000_000))


def with_numpy():
    rng = np.random.default_rng(0)
    return sum(float(np.sort(rng.random(200_000))[0]) for _ in range(25))


run_spin()
split()
same_names()
consume()
run_fib()
run_method()
with_lambda()
with_comprehension()
with_numpy()
summing()
total = sum(range(30_000_000))  # module level: the same work as summing()
