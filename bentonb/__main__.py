"""``python -m bentonb``: the bentonb command."""

from bentonb.cli import main

main()
