"""Subcommands of the ``unnas`` CLI, discovered by module (see :mod:`unnas.cli`)."""
