"""`python -m oracle.cli`: the same as the `oracle` console script."""

from oracle.cli import run

run()
