"""Approved-language templates and the PHI guard.

Templates are written and approved by the clinic, per kind (call script, SMS, email, voicemail,
social message) and language. They may refer to lead and clinic fields as ``{first_name}``; which
fields a template may use depends on its kind: a text message or voicemail can be seen or heard by
someone other than the patient, so it may carry no more than a first name, the clinic's name and a
callback number or scheduling link (HHS guidance: the minimum necessary).

The PHI guard reads the words too (:mod:`nurture.wording`): clinical words, personal names, dates of
birth and record numbers. Its verdict per kind of template:

- **SMS, voicemail, social message**: refused when any such word is in the body;
- **email**: needs an explicit approval that names the words (recorded in the audit trail by whoever
  saves it: :class:`PhiApproval`); new words need a new approval;
- **call script**: read to the patient by staff once they know who is on the line; the words are
  shown, nothing is refused.

Promises and pressure ("guaranteed", "last chance") and wording that sounds like a diagnosis ("your
condition") are warnings in every kind. Placeholders take no format spec or conversion
(``{first_name:d}`` is refused, not a crash).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from nurture.vocab import TemplateKind
from nurture.wording import Finding, fold, read

__all__ = [
    "ALLOWED_FIELDS",
    "PhiApproval",
    "Template",
    "TemplateCatalog",
    "TemplateProblem",
    "TemplateReview",
    "Verdict",
    "check_rendered",
    "check_template",
    "review_template",
]

_BASE = frozenset({"first_name", "clinic_name", "callback_number"})

#: Fields each kind of template may use.
ALLOWED_FIELDS: Mapping[TemplateKind, frozenset[str]] = {
    TemplateKind.VOICEMAIL: _BASE,
    TemplateKind.SMS: _BASE | {"scheduling_link", "opt_out_hint"},
    TemplateKind.SOCIAL: _BASE | {"scheduling_link"},
    TemplateKind.EMAIL: _BASE
    | {
        "scheduling_link",
        "last_name",
        "service_name",
        "location_name",
        "location_address",
        "unsubscribe_link",
    },
    TemplateKind.CALL_SCRIPT: _BASE
    | {"last_name", "service_name", "location_name", "location_address", "scheduling_link", "owner_queue"},
}

#: Text messages longer than this split into several (and leave the healthcare exemption).
SMS_MAX_CHARS = 160


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateProblem:
    """Why a template cannot be approved."""

    template: str
    field: str
    message: str


class Verdict(StrEnum):
    """What the PHI guard says of a template's words for one kind of message."""

    PASSES = "passes"
    NEEDS_APPROVAL = "needs_approval"
    REFUSED = "refused"


#: Kinds that someone other than the patient may see or hear: PHI words refuse them.
SHARED_KINDS = frozenset({TemplateKind.SMS, TemplateKind.VOICEMAIL, TemplateKind.SOCIAL})


@dataclass(frozen=True, slots=True, kw_only=True)
class PhiApproval:
    """An admin's explicit approval of PHI words in an email template.

    Attributes:
        by: who approved (the audit trail's actor).
        at: when (ISO 8601, as recorded).
        words: the words approved, as the guard found them; other words need a new approval.
    """

    by: str
    at: str
    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.by or not self.words:
            raise ValueError("an approval names who approved and the words approved")

    def covers(self, findings: Iterable[Finding]) -> bool:
        approved = {fold(w) for w in self.words}
        return all(fold(f.words) in approved for f in findings if f.is_phi)


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """One approved message or script.

    Attributes:
        id: the template's name, shared by its language and kind variants (``first_response``).
        kind: the medium.
        language: "en", "es" ….
        body: text with ``{field}`` placeholders.
        subject: email subject (may use the same fields; never PHI).
        phi_approval: an email's approved PHI words (see the module docstring).
    """

    id: str
    kind: TemplateKind
    language: str
    body: str
    subject: str = ""
    phi_approval: PhiApproval | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.body.strip():
            raise ValueError("a template needs an id and a body")

    @property
    def fields(self) -> frozenset[str]:
        """The placeholders used in body and subject."""
        return _placeholders(self.body) | _placeholders(self.subject)

    def render(self, values: Mapping[str, str]) -> str:
        """The body with ``values`` filled in; only allowed fields are ever read."""
        problems = _structure(self)
        if problems:
            raise ValueError(f"template {self.id}/{self.kind}/{self.language} is not approved: {problems[0].message}")
        return self.body.format_map({k: values.get(k, "") for k in self.fields})


def _placeholders(text: str) -> frozenset[str]:
    return frozenset(_parsed(text))


def _parsed(text: str) -> dict[str, str]:
    """Placeholder name → how it was written, when it has a format spec or conversion (else "")."""
    names: dict[str, str] = {}
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            extra = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            names[name] = names.get(name) or (f"{{{name}{extra}}}" if extra else "")
    return names


def _structure(template: Template) -> list[TemplateProblem]:
    """Placeholder syntax, names allowed for the kind, and the text message's length."""
    problems: list[TemplateProblem] = []
    try:
        parsed = {**_parsed(template.body), **_parsed(template.subject)}
    except ValueError as exc:
        return [TemplateProblem(template=template.id, field="body", message=f"placeholder syntax: {exc}")]
    allowed = ALLOWED_FIELDS[template.kind]
    for name in sorted(parsed):
        if not name.isidentifier():
            problems.append(
                TemplateProblem(template=template.id, field=name, message=f"placeholder {{{name}}} is not a field name")
            )
        elif parsed[name]:
            problems.append(
                TemplateProblem(
                    template=template.id,
                    field=name,
                    message=f"placeholder {parsed[name]} has a format or conversion; write {{{name}}}",
                )
            )
        elif name not in allowed:
            problems.append(
                TemplateProblem(
                    template=template.id,
                    field=name,
                    message=f"{template.kind} templates may not use {{{name}}} (allowed: {', '.join(sorted(allowed))})",
                )
            )
    if template.kind is TemplateKind.SMS and not problems:
        sample = template.body.format_map(dict.fromkeys(parsed, "x" * 12))
        if len(sample) > SMS_MAX_CHARS:
            problems.append(
                TemplateProblem(
                    template=template.id,
                    field="body",
                    message=f"a text message must fit in {SMS_MAX_CHARS} characters with typical values "
                    f"(about {len(sample)})",
                )
            )
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateReview:
    """The PHI guard's full reading of a template.

    Attributes:
        problems: what stops it from being saved or used (empty: it may be used).
        body, subject: the findings in each, with their spans (for the editor to mark).
        verdicts: the words' verdict for every kind, this template's included.
    """

    problems: tuple[TemplateProblem, ...]
    body: tuple[Finding, ...] = ()
    subject: tuple[Finding, ...] = ()
    verdicts: Mapping[TemplateKind, Verdict] = field(default_factory=dict)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.body + self.subject

    @property
    def phi(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_phi)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.is_phi)


def verdict_for(kind: TemplateKind, findings: Sequence[Finding], approval: PhiApproval | None = None) -> Verdict:
    """What the words in ``findings`` mean for a template of ``kind``."""
    if not any(f.is_phi for f in findings):
        return Verdict.PASSES
    if kind in SHARED_KINDS:
        return Verdict.REFUSED
    if kind is TemplateKind.EMAIL:
        return Verdict.PASSES if approval is not None and approval.covers(findings) else Verdict.NEEDS_APPROVAL
    return Verdict.PASSES


def _words(findings: Iterable[Finding]) -> str:
    seen: dict[str, str] = {}
    for f in findings:
        seen.setdefault(fold(f.words), f"\u201c{f.words}\u201d ({f.label})")
    return ", ".join(seen.values())


def review_template(template: Template, *, clinic: frozenset[str] = frozenset()) -> TemplateReview:
    """Read ``template``: its structure problems, its words, and the verdict per kind.

    Args:
        template: the template.
        clinic: the clinic's own vocabulary (:func:`nurture.wording.clinic_words`), never a name.
    """
    problems = list(_structure(template))
    body = tuple(read(template.body, language=template.language, clinic=clinic))
    subject = tuple(read(template.subject, language=template.language, clinic=clinic)) if template.subject else ()
    findings = body + subject
    verdicts = {kind: verdict_for(kind, findings, template.phi_approval) for kind in TemplateKind}
    phi = [f for f in findings if f.is_phi]
    mine = verdicts[template.kind]
    if mine is Verdict.REFUSED:
        problems.append(
            TemplateProblem(
                template=template.id,
                field="body",
                message=f"{template.kind} messages may be seen by someone else and may not say {_words(phi)}",
            )
        )
    elif mine is Verdict.NEEDS_APPROVAL:
        problems.append(
            TemplateProblem(
                template=template.id,
                field="phi_approval",
                message=f"this email says {_words(phi)}: an admin must approve sending these words by email",
            )
        )
    return TemplateReview(problems=tuple(problems), body=body, subject=subject, verdicts=verdicts)


def check_template(template: Template, *, clinic: frozenset[str] = frozenset()) -> list[TemplateProblem]:
    """The PHI guard's verdict on ``template``: an empty list means it may be used."""
    return list(review_template(template, clinic=clinic).problems)


def check_rendered(
    template: Template,
    text: str,
    *,
    lead_values: Sequence[str] = (),
    allowed_values: Sequence[str] = (),
    clinic: frozenset[str] = frozenset(),
) -> list[Finding]:
    """The PHI words in a message rendered from ``template``: the lead's own field values it may not
    carry (``lead_values``: every field but those the kind allows), and names, clinical words,
    dates and record numbers that came in through the values (``allowed_values``, the values of the
    fields the kind allows, are not read as names)."""
    found = read(text, language=template.language, clinic=clinic, lead_values=lead_values, allowed=allowed_values)
    return [f for f in found if f.is_phi]


class TemplateCatalog:
    """The clinic's approved templates, looked up by id, kind and language (falling back to the
    clinic's own language)."""

    def __init__(
        self, templates: Iterable[Template], *, fallback_language: str = "en", clinic: frozenset[str] = frozenset()
    ) -> None:
        self.clinic = clinic
        self._by_key: dict[tuple[str, TemplateKind, str], Template] = {}
        for template in templates:
            key = (template.id, template.kind, template.language)
            if key in self._by_key:
                raise ValueError(f"template {template.id}/{template.kind}/{template.language} is defined twice")
            self._by_key[key] = template
        self.fallback_language = fallback_language

    def __iter__(self) -> Iterator[Template]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, template_id: str, kind: TemplateKind, language: str) -> Template | None:
        return self._by_key.get((template_id, kind, language)) or self._by_key.get(
            (template_id, kind, self.fallback_language)
        )

    def has(self, template_id: str) -> bool:
        return any(key[0] == template_id for key in self._by_key)

    def problems(self) -> list[TemplateProblem]:
        """Every PHI-guard problem in the catalog."""
        return [p for t in self._by_key.values() for p in check_template(t, clinic=self.clinic)]
