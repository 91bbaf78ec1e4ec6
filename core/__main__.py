"""`python -m core ...`: the command line over the engine."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
