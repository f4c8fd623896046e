from same_names import Tool
from same_names import work as other_work


def work(n):
    total = 0
    for i in range(2 * n):
        total += i % 5
    return total


work(1_000_000)
other_work(1_000_000)
Tool().work(1_000_000)
