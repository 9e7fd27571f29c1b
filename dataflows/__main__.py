"""`python -m dataflows`: the command line (see dataflows/cli.py)."""

import os
import sys

# Offline by default: a hub look-up that cannot succeed costs ~25 s; set these to 0 to allow it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from dataflows.cli import run  # noqa: E402

sys.exit(run())
