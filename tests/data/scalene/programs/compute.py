"""CPU only: `hot` takes most of the time, `Walker.step` and `cold` a little."""


def hot(n):
    total = 0
    for i in range(n):
        total += (i & 7) if i % 3 < 2 else i >> 2
    return total


def cold(n):
    return sum(range(n))


class Walker:
    def step(self, n):
        return hot(n) + cold(n // 10)


def main():
    walker = Walker()
    total = 0
    for _ in range(40):
        total += walker.step(150_000)
    print(total)


main()
