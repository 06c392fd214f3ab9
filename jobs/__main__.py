"""``python -m jobs``: the same as the ``nurturehub`` console script."""

from __future__ import annotations

import sys

from jobs.cli import main

sys.exit(main())
