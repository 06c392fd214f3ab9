"""Time to triage + enforce + plan one lead, over 10,000 varied leads; and the peak memory.

    .venv/bin/python bench/core.py [--leads 10000] [--seed 7] [--against REV]

Prints median and p99 per lead in microseconds (target: median under 300 µs), the same figures
for triage alone as a baseline measured in the same run, and the peak traced memory. With
``--against REV`` it first runs this same benchmark on git revision REV (checked out in a temporary
worktree) and prints the ratio of this code's median to that revision's, measured in one run.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.settings.config import load_config
from nurture.cadence import plan_cadence
from nurture.consent import ConsentEntry, ConsentLedger
from nurture.lead import Lead
from nurture.policy import Accepted, enforce
from nurture.triage import TriageInput, triage
from nurture.vocab import Channel, ConsentState, ContactChannel, ContactWindow

TEXTS = [
    "I'd like to book an appointment next week if you have anything",
    "Do you take Medicaid? How much is a new patient visit?",
    "My doctor referred me for physical therapy, I have the referral",
    "Is it normal to have this side effect from my medication?",
    "Do you treat sleep apnea? My husband snores a lot",
    "Just researching for now, maybe later in the spring",
    "Hola, quiero hacer una cita para la próxima semana por favor",
    "¿Aceptan mi seguro? ¿Cuánto cuesta la consulta?",
    "¿Hablan español? Necesito ayuda con una cita para mi mamá",
    "I have chest pain since this morning and want to be seen",
    "please call me back",
    "",
]
ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix"]


def make_inputs(n: int, seed: int) -> list[tuple[TriageInput, dict[str, object]]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(n):
        created = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        granted = [c for c in (ContactChannel.SMS, ContactChannel.EMAIL) if rng.random() < 0.5]
        ledger = ConsentLedger(
            tuple(ConsentEntry(channel=c, state=ConsentState.GRANTED, at=created, source="form") for c in granted)
        )
        channel = rng.choice(list(Channel))
        text = rng.choice(TEXTS)
        out.append(
            (
                TriageInput(text=text, channel=channel),
                {
                    "created_at": created,
                    "channel": channel,
                    "timezone": rng.choice(ZONES),
                    "contact_window": rng.choice([None, *ContactWindow]),
                    "consent": ledger,
                    "text": text,
                },
            )
        )
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="a git revision to measure first, as the baseline")
    args = parser.parse_args()
    before = _run_revision(args.against, args.leads, args.seed) if args.against else None
    settings = load_config(None, environ={}).settings
    inputs = make_inputs(args.leads, args.seed)

    triage_only: list[float] = []
    for item, _ in inputs:
        t0 = time.perf_counter()
        triage(item, settings.triage)
        triage_only.append(time.perf_counter() - t0)

    def one(i: int, item: TriageInput, fields: dict[str, object]) -> None:
        result = triage(item, settings.triage)
        lead = Lead(
            id=f"nh_bench{i:06d}",
            first_name="Bench",
            phone="+15125550142",
            email="bench@example.org",
            preferred_language=result.language,
            intent=result.intent,
            needs=result.needs,
            urgent=result.urgent,
            inquiry_text=str(fields["text"]),
            timezone=str(fields["timezone"]),
            channel=fields["channel"],  # type: ignore[arg-type]
            contact_window=fields["contact_window"],  # type: ignore[arg-type]
            consent=fields["consent"],  # type: ignore[arg-type]
            created_at=fields["created_at"],  # type: ignore[arg-type]
            updated_at=fields["created_at"],  # type: ignore[arg-type]
        )
        decision = enforce(None, lead, settings, now=lead.created_at)
        assert isinstance(decision, Accepted)
        plan_cadence(
            decision.lead,
            [],
            cadence=settings.cadence,
            hours=settings.hours,
            rules=settings.contact,
            response_target=settings.channel(lead.channel).response_target,
            now=lead.created_at,
        )

    whole: list[float] = []
    for i, (item, fields) in enumerate(inputs):
        t0 = time.perf_counter()
        one(i, item, fields)
        whole.append(time.perf_counter() - t0)

    # Memory in a second pass: tracemalloc slows everything down, so it is not on while timing.
    tracemalloc.start()
    for i, (item, fields) in enumerate(inputs):
        one(i, item, fields)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    us = 1e6
    print(f"leads: {len(inputs)}")
    for name, values in (("triage only (baseline)", triage_only), ("triage+enforce+plan", whole)):
        median, p99 = statistics.median(values) * us, pct(values, 0.99) * us
        print(f"{name:<24} median {median:7.1f} us   p99 {p99:7.1f} us")
    print(f"ratio whole/triage (median): {statistics.median(whole) / statistics.median(triage_only):.1f}x")
    print(f"peak traced memory over a second pass of all leads: {peak / 2**20:.1f} MiB")
    if before is not None:
        now = statistics.median(whole) * us
        ratio = now / before
        print(f"against {args.against}: whole median (us) {before:.1f} then, {now:.1f} now ({ratio:.2f}x)")


def _run_revision(rev: str, leads: int, seed: int) -> float:
    """The triage+enforce+plan median (µs) of this benchmark run on revision ``rev``."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="nurturehub-bench-") as tmp:
        tree = Path(tmp) / "tree"
        add = ["git", "worktree", "add", "--detach", str(tree), rev]
        subprocess.run(add, cwd=root, check=True, capture_output=True)
        try:
            out = subprocess.run(
                [sys.executable, "bench/core.py", "--leads", str(leads), "--seed", str(seed)],
                cwd=tree, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, check=False)
    print(f"{rev}:\n  " + out.strip().replace("\n", "\n  "))
    found = re.search(r"triage\+enforce\+plan\s+median\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"no triage+enforce+plan median in the output of {rev}:\n{out}")
    return float(found.group(1))


if __name__ == "__main__":
    main()
