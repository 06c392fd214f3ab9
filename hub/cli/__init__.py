"""The ``nurturehub`` command line: the commands that need only the application (``hub``).

The processes — ``run`` (the embedded default), ``serve`` and ``worker`` — live in ``jobs.cli``,
which extends this parser; the console script points there.
"""

from hub.cli.common import EXIT_CONFIG, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_REJECTED, emit
from hub.cli.parser import build_parser, dispatch, main

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REJECTED",
    "build_parser",
    "dispatch",
    "emit",
    "main",
]
