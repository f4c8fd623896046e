"""Memory: `churn` allocates and lets go, `leak` keeps every block it allocates."""

kept = []


def churn(rounds):
    total = 0
    for _ in range(rounds):
        block = [i for i in range(200_000)]
        total += len(block)
    return total


def leak(megabytes):
    for _ in range(megabytes):
        kept.append(bytearray(1_000_000))


def main():
    print(churn(20))
    leak(350)
    print(len(kept))


main()
