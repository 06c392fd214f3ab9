"""Throughput of the two CRM sandboxes, through the real client libraries over loopback.

    .venv/bin/python bench/sandbox.py

Later benchmarks (sync, scale) subtract these figures to separate sandbox cost from hub cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._sandbox_hubspot import bench_hubspot
from bench._sandbox_salesforce import bench_salesforce


def main() -> None:
    for name, run in (("salesforce", bench_salesforce), ("hubspot", bench_hubspot)):
        figures = run()
        for key, value in figures.items():
            print(f"{name:<11} {key:<40} {value:10.1f}")


if __name__ == "__main__":
    main()
