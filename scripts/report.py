#!/usr/bin/env python
"""Thin wrapper around ``genrl-report``: ``python scripts/report.py SWEEP_DIR [...] [options]``."""

import sys

from genrl.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
