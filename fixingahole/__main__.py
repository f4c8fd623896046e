"""`python -m fixingahole` is the `fixingahole` command."""

import sys

from fixingahole.cli import main

sys.exit(main())
