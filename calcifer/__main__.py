"""`python -m calcifer` is the `calcifer` command."""

import sys

from calcifer.cli import main

if __name__ == "__main__":
    sys.exit(main())
