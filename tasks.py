"""This repository's own invoke tasks: fixing-a-hole's collection, used as the root.

`invoke --list` shows them; `invoke profile advanced`, `invoke profile-all`, `invoke runs`, ...
"""

from invoke import Collection

from fixingahole.tasks import ns as fixingahole

ns = Collection(fixingahole)
