#!/usr/bin/env python3
"""uxwizz command line: `python uxwizz.py` serves; `python uxwizz.py --help` lists the rest."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
