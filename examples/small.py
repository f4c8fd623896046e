"""A small pure-Python script: primes by trial division and a word count.

`fixingahole profile small.py` takes about two seconds.
"""

import sys
from collections import Counter


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def primes_below(limit: int) -> list[int]:
    return [n for n in range(limit) if is_prime(n)]


def word_counts(repeat: int) -> Counter:
    text = "the quick brown fox jumps over the lazy dog " * repeat
    return Counter(text.split())


def main(limit: int = 250_000) -> None:
    primes = primes_below(limit)
    counts = word_counts(200_000)
    print(f"{len(primes)} primes below {limit}; most common word: {counts.most_common(1)[0]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 250_000)
