"""`python -m toolkit` is `drama`."""

from toolkit.cli import main

main()
