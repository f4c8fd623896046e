"""This repository's own invoke tasks: fixing-a-hole's collection, used as the root.

`invoke --list` shows them; `invoke profile advanced`, `invoke profile-all`, `invoke runs`, ...
"""

from fixingahole.tasks import ns

__all__ = ["ns"]
