"""Approved-language templates and the PHI guard.

Templates are written and approved by the clinic, per kind (call script, SMS, email, voicemail,
social message) and language. They may refer to lead and clinic fields as ``{first_name}``; which
fields a template may use depends on its kind: a text message or voicemail can be seen or heard by
someone other than the patient, so it may carry no more than a first name, the clinic's name and a
callback number or scheduling link (HHS guidance: the minimum necessary).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from nurture.vocab import TemplateKind

__all__ = ["ALLOWED_FIELDS", "Template", "TemplateCatalog", "TemplateProblem", "check_template"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """One approved message or script.

    Attributes:
        id: the template's name, shared by its language and kind variants (``first_response``).
        kind: the medium.
        language: "en", "es" ….
        body: text with ``{field}`` placeholders.
        subject: email subject (may use the same fields; never PHI).
    """

    id: str
    kind: TemplateKind
    language: str
    body: str
    subject: str = ""

    def __post_init__(self) -> None:
        if not self.id or not self.body.strip():
            raise ValueError("a template needs an id and a body")

    @property
    def fields(self) -> frozenset[str]:
        """The placeholders used in body and subject."""
        return _placeholders(self.body) | _placeholders(self.subject)

    def render(self, values: Mapping[str, str]) -> str:
        """The body with ``values`` filled in; only allowed fields are ever read."""
        problems = check_template(self)
        if problems:
            raise ValueError(f"template {self.id}/{self.kind}/{self.language} is not approved: {problems[0].message}")
        return self.body.format_map({k: values.get(k, "") for k in self.fields})


def _placeholders(text: str) -> frozenset[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None:
            names.add(name)
    return frozenset(names)


def check_template(template: Template) -> list[TemplateProblem]:
    """The PHI guard's verdict on ``template``: an empty list means it may be used."""
    problems: list[TemplateProblem] = []
    try:
        used = template.fields
    except ValueError as exc:
        return [TemplateProblem(template=template.id, field="body", message=f"placeholder syntax: {exc}")]
    allowed = ALLOWED_FIELDS[template.kind]
    for name in sorted(used):
        if not name.isidentifier():
            problems.append(
                TemplateProblem(template=template.id, field=name, message=f"placeholder {{{name}}} is not a field name")
            )
        elif name not in allowed:
            problems.append(
                TemplateProblem(
                    template=template.id,
                    field=name,
                    message=f"{template.kind} templates may not use {{{name}}} (allowed: {', '.join(sorted(allowed))})",
                )
            )
    if template.kind is TemplateKind.SMS:
        sample = template.body.format_map({k: "x" * 12 for k in used if k.isidentifier()}) if not problems else ""
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


class TemplateCatalog:
    """The clinic's approved templates, looked up by id, kind and language (falling back to the
    clinic's own language)."""

    def __init__(self, templates: Iterable[Template], *, fallback_language: str = "en") -> None:
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
        return [p for t in self._by_key.values() for p in check_template(t)]
