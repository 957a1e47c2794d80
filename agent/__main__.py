"""``python -m conciliador``: the same as the ``conciliador`` command."""

from .cli import main

main()
