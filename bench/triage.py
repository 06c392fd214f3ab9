"""Triage accuracy on the labelled corpus, per part (development, held-out, all); and how long
triage takes per inquiry of it.

    .venv/bin/python bench/triage.py [FILE ...] [--json]

Prints what ``nurturehub triage eval`` prints (intent accuracy, per-intent precision and recall, the
confusion matrix, needs F1, red-flag recall and false-urgent rate, decline, opt-out, callback,
next-action and language accuracy), then the median and p99 time of triage alone over the corpus's
own texts. Accuracy thresholds live in tests/corpus/test_corpus.py, not here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.inbound.triage_eval import as_json, evaluate, load_corpus, render, report
from hub.settings.config import load_config
from nurture.inquiry import Inquiry, assess

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = load_config(None, environ={})
    cases = load_corpus(args.files or sorted(CORPUS.glob("*.jsonl")))
    parts = report(evaluate(cases, config))

    inquiries = [
        Inquiry(channel=c.inquiry.get("channel", "other"), received_at=c.received_at, phone="+15125550142",
                text=c.inquiry.get("text", ""))
        for c in cases
    ]  # fmt: skip
    for inquiry in inquiries:  # warm the caches the way a running hub has them
        assess(inquiry, config.settings)
    times = []
    for inquiry in inquiries:
        t0 = time.perf_counter()
        assess(inquiry, config.settings)
        times.append(time.perf_counter() - t0)
    times.sort()
    timing = {"median_us": statistics.median(times) * 1e6, "p99_us": times[int(0.99 * (len(times) - 1))] * 1e6}
    if args.json:
        print(json.dumps({"parts": as_json(parts), "triage_time": timing}, indent=2))
        return
    print(render(parts))
    median, p99 = timing["median_us"], timing["p99_us"]
    print(f"triage alone over {len(times)} corpus inquiries: median {median:.0f} us, p99 {p99:.0f} us")


if __name__ == "__main__":
    main()
