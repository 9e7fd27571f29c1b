"""`python -m dataflows`: kept for users' scripts; the command line is `workbench.cli` (also `python -m workbench`)."""
from workbench.cli import main  # noqa: I001

main()
