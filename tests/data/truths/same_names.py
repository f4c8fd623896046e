"""`work` twice more: a function and a method of the same name as truths.py's `work`."""


def work(n):
    total = 0
    for i in range(n):
        total += i % 5
    return total


class Tool:
    def work(self, n):
        total = 0
        for i in range(n):
            total += i % 5
        return total
