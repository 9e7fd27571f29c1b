"""`python -m workbench`: the command line (workbench/cli.py)."""
from workbench.cli import main

main()
