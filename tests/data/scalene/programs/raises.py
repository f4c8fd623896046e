"""A script that works for a while, then fails with an exception."""


def crunch(n):
    total = 0
    for i in range(n):
        total += i * i % 11
    return total


def fail(total):
    raise ValueError(f"gave up after {total}")


def main():
    total = 0
    for _ in range(20):
        total += crunch(200_000)
    fail(total)


main()
