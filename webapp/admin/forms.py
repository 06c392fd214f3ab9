"""HTML forms ↔ the documents ``hub.settings.settings_store`` saves, and problems ↔ the fields they belong to.

Input names are the documents' own key paths (``channels.website_form.response_minutes``,
``rules[3].transforms[0].params``), so a validation problem keyed by such a path is shown next to
the field it names. Blank rows (the empty rule or step at the end of a table) are dropped and the
rest renumbered; :class:`Renumbering` maps the problems' indexes back to the rows on the page.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from hub.coordinator import words
from hub.settings.settings_store import toml_key, toml_value
from mapping.spec import FieldMapping, MappingKind

Problem = tuple[str, str]

__all__ = [
    "Errors",
    "Renumbering",
    "attach",
    "field_id",
    "mapping_document",
    "mapping_rows",
    "params_text",
]


def field_id(name: str) -> str:
    """An element id for an input name: ``rules[3].target`` → ``f-rules-3-target``."""
    return "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


@dataclass(slots=True)
class Errors:
    """Problems attached to the fields on a page.

    Attributes:
        fields: input name → messages.
        general: problems with no field on the page (shown in the summary only).
    """

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def get(self, name: str) -> list[str]:
        return self.fields.get(name, [])

    def summary(self) -> list[tuple[str | None, str]]:
        """(element id or None, message) for the error summary at the top of the page."""
        out: list[tuple[str | None, str]] = [(None, m) for m in self.general]
        for name, messages in self.fields.items():
            out += [(field_id(name), f"{_label(name)}: {m}") for m in messages]
        return out


_SINGULAR = {"rules": "rule", "steps": "step", "transforms": "transform", "language_queues": "language queue"}


def _label(name: str) -> str:
    """``rules[5].transforms[0].params`` → ``rule 6, transform 1, params`` (what the summary shows)."""
    parts = []
    for part in name.split("."):
        match = re.fullmatch(r"([^\[]+)\[(\d+)\]", part)
        if match:
            parts.append(f"{_SINGULAR.get(match.group(1), match.group(1))} {int(match.group(2)) + 1}")
        else:
            parts.append(part)
    return ", ".join(parts).replace("_", " ")


def problem_text(key: str, message: str) -> str:
    """A problem with no field on the page, as a sentence: "cadence, min gap minutes: Enter 0 or more."."""
    shown = words.message(message)
    return f"{_label(key)}: {shown}" if key and not key.startswith("(") else shown


_PARENT = re.compile(r"^(.*)(\.[^.\[\]]+|\[[^\]]*\])$")


def attach(problems: Iterable[Problem], known: Iterable[str], renumber: Renumbering | None = None) -> Errors:
    """Put each problem next to the input it names, or the nearest enclosing one on the page.

    Args:
        problems: (key path, message) pairs.
        known: the input names (and fieldset names) on the page.
        renumber: how the document's list indexes map back to the page's rows.
    """
    names = set(known)
    errors = Errors()
    for key, message in problems:
        path = renumber.to_page(key) if renumber is not None else key
        target = path
        while target and target not in names:
            match = _PARENT.match(target)
            target = match.group(1) if match else ""
        shown = words.message(message)
        if target:
            errors.fields.setdefault(target, []).append(shown)
        else:
            errors.general.append(f"{path}: {shown}" if path and not path.startswith("(") else shown)
    return errors


@dataclass(slots=True)
class Renumbering:
    """Document index → page row, for lists whose blank rows were dropped.

    Attributes:
        lists: the list's key path (``rules``, ``cadence.steps``) → page row of each kept item.
        nested: per kept rule index, the page rows of its transforms.
    """

    lists: dict[str, list[int]] = field(default_factory=dict)
    nested: dict[tuple[str, int, str], list[int]] = field(default_factory=dict)

    def to_page(self, key: str) -> str:
        for prefix, rows in self.lists.items():
            match = re.match(rf"^{re.escape(prefix)}\[(\d+)\](.*)$", key)
            if not match:
                continue
            index, rest = int(match.group(1)), match.group(2)
            row = rows[index] if index < len(rows) else index
            for (outer, at, inner), inner_rows in self.nested.items():
                sub = re.match(rf"^\.{re.escape(inner)}\[(\d+)\](.*)$", rest)
                if outer == prefix and at == index and sub:
                    j = int(sub.group(1))
                    rest = f".{inner}[{inner_rows[j] if j < len(inner_rows) else j}]{sub.group(2)}"
                    break
            return f"{prefix}[{row}]{rest}"
        return key


def indexed(form: MultiDict[str, str], prefix: str) -> list[int]:
    """The row numbers present in ``form`` under ``prefix[<n>]``, in order."""
    pattern = re.compile(rf"^{re.escape(prefix)}\[(\d+)\]\.")
    return sorted({int(m.group(1)) for key in form for m in [pattern.match(key)] if m})


def whole_number(text: str) -> int | str:
    """``"15"`` → 15; anything else is passed on for the schema to refuse with its message."""
    stripped = text.strip()
    return int(stripped) if re.fullmatch(r"-?\d{1,9}", stripped) else stripped


# --- mappings -------------------------------------------------------------------------------------


def params_text(params: Mapping[str, Any]) -> str:
    """A transform's parameters as TOML lines (``region = "US"``), one per parameter."""
    return "\n".join(f"{toml_key(str(k))} = {toml_value(_plain(v))}" for k, v in params.items())


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def mapping_rows(mapping_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A mapping document's rules as the editor's rows (with a blank transform row on each, and a
    blank rule at the end)."""
    rows = []
    for rule in mapping_doc.get("rules", []):
        transforms = [
            {"name": t.get("name", ""), "params": params_text(t.get("params", {}))} for t in rule.get("transforms", [])
        ]
        rows.append(
            {
                "target": rule.get("target", ""),
                "sources": "\n".join(rule.get("sources", [])),
                "required": bool(rule.get("required", False)),
                "direction": rule.get("direction") or "",
                "conflict": rule.get("conflict") or "",
                "transforms": [*transforms, {"name": "", "params": ""}],
            }
        )
    rows.append(
        {
            "target": "",
            "sources": "",
            "required": False,
            "direction": "",
            "conflict": "",
            "transforms": [{"name": "", "params": ""}],
        }
    )
    return rows


def form_rows(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The editor's rows exactly as submitted (to show them again with their errors)."""
    rows = []
    for i in indexed(form, "rules"):
        p = f"rules[{i}]"
        transforms = [
            {"name": form.get(f"{p}.transforms[{j}].name", ""), "params": form.get(f"{p}.transforms[{j}].params", "")}
            for j in indexed(form, f"{p}.transforms")
        ]
        if not transforms or transforms[-1]["name"]:
            transforms.append({"name": "", "params": ""})
        rows.append(
            {
                "target": form.get(f"{p}.target", ""),
                "sources": form.get(f"{p}.sources", ""),
                "required": bool(form.get(f"{p}.required")),
                "direction": form.get(f"{p}.direction", ""),
                "conflict": form.get(f"{p}.conflict", ""),
                "remove": bool(form.get(f"{p}.remove")),
                "transforms": transforms,
            }
        )
    if not rows or _rule_filled(rows[-1]):
        rows.append(mapping_rows({"rules": []})[0])
    return rows


def _rule_filled(row: Mapping[str, Any]) -> bool:
    return bool(row["target"].strip() or row["sources"].strip() or any(t["name"] for t in row["transforms"]))


def mapping_document(
    header: FieldMapping, form: MultiDict[str, str]
) -> tuple[dict[str, Any], list[Problem], Renumbering]:
    """The mapping document an editor form describes.

    Args:
        header: the mapping being edited (name, kind, source type or CRM object come from it, not
            from the form).
        form: the submitted form.

    Returns:
        The document, the problems found reading the form itself (parameters that are not TOML),
        keyed by input name, and the renumbering of rules and transforms.
    """
    document: dict[str, Any] = {"name": header.name, "kind": header.kind.value, "version": header.version}
    if header.source_type is not None:
        document["source_type"] = header.source_type.value
    if header.system is not None:
        document["system"] = header.system.value
        document["object"] = header.object
    problems: list[Problem] = []
    renumber = Renumbering(lists={"rules": []})
    rules: list[dict[str, Any]] = []
    for i in indexed(form, "rules"):
        p = f"rules[{i}]"
        if form.get(f"{p}.remove"):
            continue
        target = form.get(f"{p}.target", "").strip()
        sources = [line.strip() for line in form.get(f"{p}.sources", "").splitlines() if line.strip()]
        rule: dict[str, Any] = {"target": target, "sources": sources}
        transforms: list[dict[str, Any]] = []
        kept: list[int] = []
        for j in indexed(form, f"{p}.transforms"):
            name = form.get(f"{p}.transforms[{j}].name", "").strip()
            if not name:
                continue
            step: dict[str, Any] = {"name": name}
            text = form.get(f"{p}.transforms[{j}].params", "").strip()
            if text:
                try:
                    step["params"] = tomllib.loads(text)
                except tomllib.TOMLDecodeError as exc:
                    problems.append((f"{p}.transforms[{j}].params", f"write parameters as TOML lines: {exc}"))
                    continue
            transforms.append(step)
            kept.append(j)
        if not target and not sources and not transforms:
            continue
        if transforms:
            rule["transforms"] = transforms
        if form.get(f"{p}.required"):
            rule["required"] = True
        if header.kind is MappingKind.CRM_OBJECT:
            for key in ("direction", "conflict"):
                value = form.get(f"{p}.{key}", "").strip()
                if value:
                    rule[key] = value
        renumber.nested[("rules", len(rules), "transforms")] = kept
        renumber.lists["rules"].append(i)
        rules.append(rule)
    document["rules"] = rules
    return document, problems, renumber


def mapping_field_names(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every input name of the editor's rows (what problems can attach to)."""
    names = ["rules", "name", "kind", "version", "(mapping)"]
    for i, row in enumerate(rows):
        p = f"rules[{i}]"
        names += [f"{p}", f"{p}.target", f"{p}.sources", f"{p}.required", f"{p}.direction", f"{p}.conflict"]
        for j in range(len(row["transforms"])):
            names += [f"{p}.transforms[{j}]", f"{p}.transforms[{j}].name", f"{p}.transforms[{j}].params"]
    return names


# --- configuration sections -----------------------------------------------------------------------


def channels_document(form: MultiDict[str, str], channels: Sequence[str]) -> dict[str, Any]:
    """The ``[channels]`` section: each channel whose "own settings" box is ticked (``other`` always)."""
    document: dict[str, Any] = {}
    for channel in channels:
        p = f"channels.{channel}"
        if channel != "other" and not form.get(f"{p}.own"):
            continue
        document[channel] = {
            "owner_queue": form.get(f"{p}.owner_queue", "").strip(),
            "response_minutes": whole_number(form.get(f"{p}.response_minutes", "")),
            "first_response_template": form.get(f"{p}.first_response_template", "").strip(),
        }
    return document


def sources_document(form: MultiDict[str, str], sources: Sequence[str]) -> dict[str, Any]:
    """The editable part of ``[sources]``: each source's channel, mapping and on/off switch."""
    return {
        name: {
            "channel": form.get(f"sources.{name}.channel", "").strip(),
            "mapping": form.get(f"sources.{name}.mapping", "").strip() or "default",
            "enabled": bool(form.get(f"sources.{name}.enabled")),
        }
        for name in sources
    }


def routing_document(form: MultiDict[str, str]) -> dict[str, Any]:
    """The ``[routing]`` section, with one row per language queue (blank rows dropped)."""
    languages: dict[str, str] = {}
    for i in indexed(form, "routing.language_queues"):
        language = form.get(f"routing.language_queues[{i}].language", "").strip()
        queue = form.get(f"routing.language_queues[{i}].queue", "").strip()
        if language or queue:
            languages[language] = queue
    return {
        "clinical_queue": form.get("routing.clinical_queue", "").strip(),
        "insurance_queue": form.get("routing.insurance_queue", "").strip(),
        "referral_queue": form.get("routing.referral_queue", "").strip(),
        "language_queues": languages,
    }


STEP_KEYS = ("key", "label", "day", "action", "template", "when")


def cadence_document(form: MultiDict[str, str]) -> tuple[dict[str, Any], Renumbering]:
    """The ``[cadence]`` section: steps in the order of their "position" numbers (blank and removed
    rows dropped), and how the steps map back to the rows on the page."""
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for i in indexed(form, "cadence.steps"):
        p = f"cadence.steps[{i}]"
        if form.get(f"{p}.remove"):
            continue
        values = {k: form.get(f"{p}.{k}", "").strip() for k in STEP_KEYS}
        if not any(values[k] for k in ("key", "label", "day", "template")):
            continue
        step: dict[str, Any] = {"key": values["key"], "label": values["label"], "day": whole_number(values["day"])}
        step["action"] = values["action"]
        if values["template"]:
            step["template"] = values["template"]
        if values["when"] and values["when"] != "always":
            step["when"] = values["when"]
        if form.get(f"{p}.different_time_of_day"):
            step["different_time_of_day"] = True
        try:
            position = float(form.get(f"{p}.position", "") or i + 1)
        except ValueError:
            position = float(i + 1)
        rows.append((position, i, step))
    rows.sort(key=lambda r: (r[0], r[1]))
    document = {
        "min_gap_minutes": whole_number(form.get("cadence.min_gap_minutes", "")),
        "text_delay_minutes": whole_number(form.get("cadence.text_delay_minutes", "")),
        "steps": [step for _, _, step in rows],
    }
    return document, Renumbering(lists={"cadence.steps": [i for _, i, _ in rows]})


TEMPLATE_KEYS = ("id", "kind", "language", "subject", "body")


def template_document(form: MultiDict[str, str]) -> dict[str, Any]:
    """One ``[[templates]]`` entry from the template editor."""
    values = {k: form.get(k, "") for k in TEMPLATE_KEYS}
    document = {k: values[k].strip() for k in ("id", "kind", "language")}
    if values["subject"].strip():
        document["subject"] = values["subject"].strip()
    document["body"] = values["body"].replace("\r\n", "\n").strip()
    return document
