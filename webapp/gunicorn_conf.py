"""gunicorn settings for ``nurturehub serve``: each worker's metrics go to PROMETHEUS_MULTIPROC_DIR
(set by ``serve``), and /metrics adds up every worker's, so a scrape sees the whole web tier
whichever worker answers it."""

from __future__ import annotations

from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges leave the sums (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
