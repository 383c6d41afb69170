"""``python -m dialoghub.cli``: the same as the ``dialoghub`` command."""

from dialoghub.cli import main

main()
