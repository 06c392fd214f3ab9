"""Policy enforcement: the one gate every lead change passes, whoever made it (intake, staff in the
CRM, a booking tool, the cadence job).

``enforce(before, proposed, settings, now)`` returns either :class:`Accepted` (the lead with its
score derived, its next action routed, and — for a brand-new lead only — its next action proposed)
or :class:`Rejected` with every violation found, each naming the field and the rule:

- ``intent_required``: an open lead past "new" has an intent, or its next action is triage;
- ``next_action_required``: an open lead has exactly one next action with a due time and a queue
  (a lead whose first appointment was kept has none left);
- ``contact_requires_next_action``: a lead cannot move to attempting/reached (the CRM's
  "contacted"/"working") without its next action — the violation names ``stage`` and ``next_action``;
- ``nurture_requires_consent``: "add to nurture" needs a granted email or SMS consent;
- ``clinical_never_nurtured``: clinical questions, clinical concerns and urgent leads never enter
  a marketing sequence;
- ``urgent_goes_to_clinical``: an urgent lead's next action is routing the clinical question to the
  clinical queue;
- ``close_requires_reason`` / ``closed_has_no_next_action``: closing needs a reason and ends the
  next action;
- ``stage_transition``: stages move only along the allowed transitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from nurture.actions import has_nurture_consent, is_clinical, propose_next_action, score_for
from nurture.lead import Lead, NextAction
from nurture.settings import NurtureSettings
from nurture.vocab import CLOSED_STAGES, NextActionKind, Stage

__all__ = ["ALLOWED_TRANSITIONS", "Accepted", "Rejected", "Violation", "enforce"]

_OPEN_FLOW: Mapping[Stage, frozenset[Stage]] = {
    Stage.NEW: frozenset({Stage.ATTEMPTING, Stage.REACHED, Stage.SCHEDULED}),
    Stage.ATTEMPTING: frozenset({Stage.REACHED, Stage.SCHEDULED}),
    Stage.REACHED: frozenset({Stage.ATTEMPTING, Stage.SCHEDULED}),
    # A cancellation reopens a booked lead.
    Stage.SCHEDULED: frozenset({Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW, Stage.REACHED}),
    Stage.PREPARED: frozenset({Stage.KEPT, Stage.NO_SHOW, Stage.REACHED}),
    Stage.KEPT: frozenset(),
    Stage.NO_SHOW: frozenset({Stage.SCHEDULED, Stage.REACHED}),
}

#: Allowed stage transitions. Any open stage may close; a closed lead may reopen (the patient came
#: back with a new inquiry, answered after all, or booked on their own) or be marked a duplicate.
ALLOWED_TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    **{stage: nexts | CLOSED_STAGES for stage, nexts in _OPEN_FLOW.items()},
    **{
        stage: frozenset({Stage.NEW, Stage.ATTEMPTING, Stage.REACHED, Stage.SCHEDULED, Stage.DUPLICATE})
        for stage in CLOSED_STAGES
    },
}

#: Stages that mean someone has been in contact or is trying to be ("contacted"/"working").
CONTACT_STAGES = frozenset({Stage.ATTEMPTING, Stage.REACHED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule: the field at fault, the rule's code, and a sentence without PHI."""

    field: str
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Accepted:
    lead: Lead
    ok: bool = True


@dataclass(frozen=True, slots=True)
class Rejected:
    violations: tuple[Violation, ...]
    ok: bool = False


def enforce(
    before: Lead | None,
    proposed: Lead,
    settings: NurtureSettings,
    *,
    now: datetime,
    refine: Callable[[Lead, NextAction], NextAction] | None = None,
) -> Accepted | Rejected:
    """Check ``proposed`` (the lead after a change; ``before`` is None for a new lead).

    Args:
        refine: for a new lead, refines the proposed next action (availability: see
            ``nurture.capacity.apply_capacity``); never applied to an urgent lead.
    """
    lead = proposed
    if before is None and lead.next_action is None and lead.stage is Stage.NEW:
        # A new lead is sorted by the rules at once: never left without a next action.
        action = propose_next_action(lead, settings, now=now)
        if refine is not None and not lead.urgent:
            action = refine(lead, action)
        lead = lead.evolve(next_action=action)
    violations = _check(before, lead)
    if violations:
        return Rejected(tuple(violations))
    return Accepted(lead.evolve(score=score_for(lead.next_action, lead.intent), updated_at=now))


def _check(before: Lead | None, lead: Lead) -> list[Violation]:
    out: list[Violation] = []
    action = lead.next_action
    if before is not None and before.stage is not lead.stage and lead.stage not in ALLOWED_TRANSITIONS[before.stage]:
        out.append(
            Violation(
                field="stage",
                rule="stage_transition",
                message=f"a lead cannot move from {before.stage} to {lead.stage}",
            )
        )
    if lead.stage.is_closed:
        if not (lead.close_reason or "").strip():
            out.append(Violation(field="close_reason", rule="close_requires_reason", message="closing needs a reason"))
        if action is not None and action.kind not in (
            NextActionKind.CLOSE_DECLINED,
            NextActionKind.CLOSE_NOT_A_FIT,
        ):
            out.append(
                Violation(
                    field="next_action",
                    rule="closed_has_no_next_action",
                    message=f"a closed lead has no open next action (found {action.kind})",
                )
            )
        return out

    if action is None and lead.stage is Stage.KEPT:
        pass  # the first appointment was kept: the lead's work is done
    elif action is None:
        if lead.stage in CONTACT_STAGES:
            out.append(
                Violation(
                    field="stage,next_action",
                    rule="contact_requires_next_action",
                    message=f"a lead cannot move to '{lead.stage}' without a next action",
                )
            )
        else:
            out.append(
                Violation(
                    field="next_action",
                    rule="next_action_required",
                    message="an open lead needs exactly one next action with a due time and an owner queue",
                )
            )
    if lead.intent is None and (action is None or action.kind is not NextActionKind.TRIAGE):
        out.append(
            Violation(
                field="intent",
                rule="intent_required",
                message="the lead has no intent: set one, or give it the next action 'triage'",
            )
        )
    if action is None:
        return out
    if action.kind is NextActionKind.ADD_TO_NURTURE:
        if is_clinical(lead):
            out.append(
                Violation(
                    field="next_action",
                    rule="clinical_never_nurtured",
                    message="clinical questions and urgent leads never enter a marketing sequence",
                )
            )
        if not has_nurture_consent(lead):
            out.append(
                Violation(
                    field="next_action",
                    rule="nurture_requires_consent",
                    message="'add to nurture' needs the patient's consent on email or SMS",
                )
            )
    if lead.urgent and action.kind is not NextActionKind.ROUTE_CLINICAL_QUESTION:
        out.append(
            Violation(
                field="next_action",
                rule="urgent_goes_to_clinical",
                message="an urgent lead's next action is routing the clinical question to the clinical queue",
            )
        )
    if (
        action.kind in (NextActionKind.CLOSE_DECLINED, NextActionKind.CLOSE_NOT_A_FIT)
        and not (lead.close_reason or "").strip()
    ):
        out.append(Violation(field="close_reason", rule="close_requires_reason", message="closing needs a reason"))
    return out
