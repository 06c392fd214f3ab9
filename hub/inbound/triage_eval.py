"""Measuring triage on a labelled corpus: every inquiry goes the way ``nurturehub leads add`` sends it
(validation, intake, policy, cadence) into a throwaway store, and what the lead became is compared
with what a careful coordinator decided.

The corpus is JSON Lines (``tests/corpus/*.jsonl``; the format is in ``tests/corpus/README.md``):
each line an ``inquiry`` in the hub's own JSON shape (without contact details: the evaluation gives
each line its own) and an ``expect`` with the coordinator's decision. A line's part ("dev", the
part rules were tuned on, or "heldout", the part nobody tuned on) comes from its id.

Figures, per part: intent accuracy, per-intent precision and recall and the confusion matrix;
needs F1 (micro); red-flag recall and false-urgent rate; decline, opt-out, callback, next-action and
language accuracy.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.inbound.inquiry_schema import inquiry_from_json
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store
from hub.store.crypto import Vault, new_key
from nurture.errors import SkipRecord
from nurture.vocab import ConsentState, ContactChannel, Intent, Stage

__all__ = ["Case", "Outcome", "evaluate", "load_corpus", "render"]

#: When a line gives no ``received_at``: Tuesday 1 December 2026, 10:00 in Austin.
DEFAULT_RECEIVED = "2026-12-01T10:00:00-06:00"
NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One labelled inquiry."""

    id: str
    part: str
    inquiry: Mapping[str, Any]
    received_at: datetime
    expect: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the hub made of one case."""

    case: Case
    intent: str | None
    needs: frozenset[str]
    urgent: bool
    decline: bool
    opt_out: frozenset[str]
    callback: datetime | None
    next_action: str | None
    language: str | None
    fired: tuple[str, ...] = ()
    error: str | None = None

    def callback_ok(self) -> bool:
        wanted = self.case.expect.get("callback")
        if wanted is None:
            return self.callback is None
        if self.callback is None:
            return False
        tz = ZoneInfo(self.case.inquiry.get("timezone") or "America/Chicago")
        local = self.callback.astimezone(tz).replace(tzinfo=None)
        start = datetime.fromisoformat(wanted["start"])
        end = datetime.fromisoformat(wanted["end"]) if wanted.get("end") else None
        return start <= local and (end is None or local < end)


def load_corpus(paths: Iterable[Path]) -> list[Case]:
    """The cases of every file, in order.

    Raises:
        ValueError: a line that is not a labelled inquiry, naming the file and line.
    """
    cases: list[Case] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                inquiry = dict(row["inquiry"])
                received = datetime.fromisoformat(inquiry.pop("received_at", DEFAULT_RECEIVED))
                ident = str(row["id"])
                part = "heldout" if "-heldout-" in ident or ".heldout." in path.name else "dev"
                cases.append(Case(id=ident, part=part, inquiry=inquiry, received_at=received, expect=row["expect"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled inquiry ({type(exc).__name__}: {exc})") from None
    return cases


def evaluate(cases: Sequence[Case], config: HubConfig) -> list[Outcome]:
    """Run every case through intake on a throwaway SQLite store; what each lead became."""
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="nurturehub-triage-eval-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'eval.sqlite3'}")
        store.migrate()
        try:
            intake = Intake(store, config, vault=Vault(new_key()))
            for number, case in enumerate(cases):
                outcomes.append(_run(intake, config, case, number))
        finally:
            store.dispose()
    return outcomes


def _run(intake: Intake, config: HubConfig, case: Case, number: int) -> Outcome:
    data = {
        **case.inquiry,
        "phone": f"+1512{300 + number // 10000:03d}{number % 10000:04d}",
        "email": f"case{number}@corpus.example",
    }
    try:
        inquiry = inquiry_from_json(data, config=config, received_at=case.received_at, source="eval")
        result = intake.submit(inquiry, actor="eval", now=case.received_at)
    except SkipRecord as exc:
        return Outcome(
            case=case, intent=None, needs=frozenset(), urgent=False, decline=False, opt_out=frozenset(),
            callback=None, next_action=None, language=None, error=f"{exc.code}: {exc}",
        )  # fmt: skip
    lead = result.lead
    if lead is None:
        suppressed = (result.recorded or {}).get("suppressed") or {}
        channels = suppressed.get("channels", []) if isinstance(suppressed, Mapping) else []
        return Outcome(
            case=case, intent=None, needs=frozenset(), urgent=False, decline=False, opt_out=frozenset(channels),
            callback=None, next_action=None, language=None,
            error=None if channels else "no lead and nothing recorded: " + ",".join(v.rule for v in result.violations),
        )  # fmt: skip
    denied = frozenset(c.value for c in ContactChannel if lead.consent.state(c) is ConsentState.DENIED)
    return Outcome(
        case=case,
        intent=lead.intent.value if lead.intent else None,
        needs=frozenset(n.value for n in lead.needs),
        urgent=lead.urgent,
        decline=lead.stage is Stage.DECLINED,
        opt_out=denied,
        callback=lead.requested_callback_at,
        next_action=lead.next_action.kind.value if lead.next_action else None,
        language=lead.preferred_language,
        fired=lead.triage_keywords,
    )


@dataclass(slots=True)
class PartFigures:
    """The figures of one part of the corpus."""

    cases: int = 0
    intent_accuracy: float = 0.0
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    needs_f1: float = 0.0
    red_flag_recall: float = 0.0
    urgent_cases: int = 0
    missed_urgent: list[str] = field(default_factory=list)
    false_urgent_rate: float = 0.0
    false_urgent: list[str] = field(default_factory=list)
    decline_accuracy: float = 0.0
    opt_out_accuracy: float = 0.0
    callback_accuracy: float = 0.0
    next_action_accuracy: float = 0.0
    language_accuracy: float = 0.0
    errors: list[str] = field(default_factory=list)


def figures(outcomes: Sequence[Outcome]) -> PartFigures:
    """Every figure over ``outcomes``."""
    out = PartFigures(cases=len(outcomes))
    if not outcomes:
        return out

    def share(hits: int, total: int) -> float:
        return hits / total if total else 1.0

    labels = [NONE, *(i.value for i in Intent)]
    pairs = [(o.case.expect.get("intent") or NONE, o.intent or NONE) for o in outcomes]
    out.intent_accuracy = share(sum(e == g for e, g in pairs), len(pairs))
    out.confusion = {e: dict.fromkeys(labels, 0) for e in labels}
    for expected, got in pairs:
        out.confusion.setdefault(expected, dict.fromkeys(labels, 0))[got] = out.confusion[expected].get(got, 0) + 1
    for label in labels:
        tp = sum(e == label and g == label for e, g in pairs)
        predicted = sum(g == label for _, g in pairs)
        actual = sum(e == label for e, _ in pairs)
        if predicted or actual:
            out.per_intent[label] = {"precision": share(tp, predicted), "recall": share(tp, actual), "support": actual}
    tp = fp = fn = 0
    for o in outcomes:
        if o.language is None:
            continue  # no lead was made (an opt-out without one): no needs to hold
        wanted = set(o.case.expect.get("needs", ()))
        tp += len(wanted & o.needs)
        fp += len(o.needs - wanted)
        fn += len(wanted - o.needs)
    out.needs_f1 = share(2 * tp, 2 * tp + fp + fn)
    urgent = [o for o in outcomes if o.case.expect.get("urgent")]
    calm = [o for o in outcomes if not o.case.expect.get("urgent")]
    out.urgent_cases = len(urgent)
    out.missed_urgent = [o.case.id for o in urgent if not o.urgent]
    out.red_flag_recall = share(len(urgent) - len(out.missed_urgent), len(urgent))
    out.false_urgent = [o.case.id for o in calm if o.urgent]
    out.false_urgent_rate = len(out.false_urgent) / len(calm) if calm else 0.0
    out.decline_accuracy = share(sum(o.decline == bool(o.case.expect.get("decline")) for o in outcomes), len(outcomes))
    out.opt_out_accuracy = share(
        sum(o.opt_out == frozenset(o.case.expect.get("opt_out", ())) for o in outcomes), len(outcomes)
    )
    out.callback_accuracy = share(sum(o.callback_ok() for o in outcomes), len(outcomes))
    out.next_action_accuracy = share(
        sum(o.next_action == o.case.expect.get("next_action") for o in outcomes), len(outcomes)
    )
    with_lead = [o for o in outcomes if o.language is not None]  # an opt-out without a lead answers nobody
    out.language_accuracy = share(sum(o.language == o.case.expect.get("language") for o in with_lead), len(with_lead))
    out.errors = [f"{o.case.id}: {o.error}" for o in outcomes if o.error]
    return out


def report(outcomes: Sequence[Outcome]) -> dict[str, PartFigures]:
    """Figures for each part ("dev", "heldout") and for the whole corpus ("all")."""
    parts = sorted({o.case.part for o in outcomes})
    out = {part: figures([o for o in outcomes if o.case.part == part]) for part in parts}
    out["all"] = figures(outcomes)
    return out


def as_json(parts: Mapping[str, PartFigures]) -> dict[str, Any]:
    from dataclasses import asdict

    return {part: asdict(f) for part, f in parts.items()}


def render(parts: Mapping[str, PartFigures]) -> str:
    """The figures as text for people."""
    lines: list[str] = []
    for part, f in parts.items():
        lines += [
            f"== {part}: {f.cases} inquiries",
            f"intent accuracy      {f.intent_accuracy:6.1%}",
            f"needs F1             {f.needs_f1:6.3f}",
            f"red-flag recall      {f.red_flag_recall:6.1%}  ({f.urgent_cases} urgent)"
            + (f"  MISSED: {', '.join(f.missed_urgent)}" if f.missed_urgent else ""),
            f"false-urgent rate    {f.false_urgent_rate:6.1%}"
            + (f"  ({', '.join(f.false_urgent)})" if f.false_urgent else ""),
            f"decline accuracy     {f.decline_accuracy:6.1%}",
            f"opt-out accuracy     {f.opt_out_accuracy:6.1%}",
            f"callback accuracy    {f.callback_accuracy:6.1%}",
            f"next-action accuracy {f.next_action_accuracy:6.1%}",
            f"language accuracy    {f.language_accuracy:6.1%}",
            "",
            f"{'intent':<26} {'precision':>9} {'recall':>7} {'n':>4}",
        ]
        for label, p in f.per_intent.items():
            lines.append(f"{label:<26} {p['precision']:9.1%} {p['recall']:7.1%} {int(p['support']):4d}")
        labels = list(f.confusion)
        short = {label: label[:6] for label in labels}
        lines += [
            "",
            "confusion (rows: coordinator, columns: hub)",
            " " * 26 + " ".join(f"{short[g]:>6}" for g in labels),
        ]
        for expected in labels:
            row = f.confusion[expected]
            if any(row.values()):
                lines.append(f"{expected:<26}" + " ".join(f"{row.get(g, 0):>6}" for g in labels))
        if f.errors:
            lines += ["", "errors:", *(f"  {e}" for e in f.errors)]
        lines.append("")
    return "\n".join(lines)


def counts(cases: Sequence[Case]) -> Counter[tuple[str, str]]:
    """How many cases each (language, red-flag category) has, for the corpus's own checks."""
    return Counter((c.expect.get("language", "?"), c.expect.get("red_flag") or NONE) for c in cases)
