"""The transforms a rule can chain, registered in one table (:data:`TRANSFORMS`).

Each transform has typed parameters (a marshmallow schema: unknown or mistyped parameters are mapping
errors), a function from one value to another, and — when it can be undone — an inverse used by
reverse mapping. A transform reports a bad value by raising :class:`TransformError` with a message that
describes the problem and never the value (values are PHI): "not a valid phone number", not the number.

Empty values (absent, ``None``, blank text, empty lists) skip every transform except those that exist to
fill them (``default``, ``concat``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, TypeAlias

import phonenumbers
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from mapping.errors import PathSyntaxError, TransformError
from mapping.paths import ABSENT, Path, as_text, parse_path
from nurture.clock import zone
from nurture.contact import InvalidContact, normalize_email, normalize_phone

__all__ = [
    "TRANSFORMS",
    "Lookup",
    "TransformDef",
    "is_empty",
    "load_options",
    "split_full_name",
    "to_boolean",
]

#: Resolves another source path against the record being mapped (``concat`` uses it).
Lookup: TypeAlias = Callable[[Path], Any]
Scalar: TypeAlias = str | int | float | bool


def is_empty(value: object) -> bool:
    """Absent, ``None``, blank text, or an empty list/mapping: nothing worth mapping."""
    if value is ABSENT or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | Mapping):
        return len(value) == 0
    return False


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


# --- parameter schemas ------------------------------------------------------------------------------


class _NoParams(Schema):
    """This transform takes no parameters."""


class _ScalarField(fields.Field[Scalar]):
    """A TOML-representable scalar: text, integer, number or true/false."""

    default_error_messages = {"invalid": "must be text, a number or true/false"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Scalar:
        if not _is_scalar(value):
            raise self.make_error("invalid")
        return value  # type: ignore[no-any-return]


def _valid_path(text: str) -> None:
    try:
        parse_path(text)
    except PathSyntaxError as exc:
        raise ValidationError(f"bad path: {exc}") from None


def _valid_region(code: str) -> None:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError("must be a supported ISO 3166 region code, e.g. 'US' or 'MX'")


def _valid_zone(name: str) -> None:
    try:
        zone(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class _SplitNameParams(Schema):
    part = fields.String(required=True, validate=validate.OneOf(["first", "last"]))
    first_path = fields.String(validate=_valid_path)

    @post_load
    def _parse(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "first_path" in data:
            data["first_parsed"] = parse_path(data["first_path"])
        return data


class _E164Params(Schema):
    region = fields.String(load_default="US", validate=_valid_region)


_ORDER = validate.OneOf(["mdy", "dmy"])


class _DateParams(Schema):
    order = fields.String(load_default="mdy", validate=_ORDER)


class _DateTimeParams(Schema):
    timezone = fields.String(load_default="UTC", validate=_valid_zone)
    order = fields.String(load_default="mdy", validate=_ORDER)


class _MapValuesParams(Schema):
    table = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=_ScalarField(),
        required=True,
        validate=validate.Length(min=1, error="must map at least one value"),
    )
    default = _ScalarField()
    unmatched = fields.String(validate=validate.OneOf(["error", "keep", "absent"]))
    case_insensitive = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data: Mapping[str, Any], **_: Any) -> None:
        if "default" in data and "unmatched" in data:
            raise ValidationError("give either a default or an unmatched policy, not both", "unmatched")
        if data.get("case_insensitive"):
            seen: dict[str, str] = {}
            for key in data.get("table", {}):
                folded = key.casefold()
                if folded in seen:
                    raise ValidationError(
                        f"keys {seen[folded]!r} and {key!r} are the same when case is ignored", "table"
                    )
                seen[folded] = key

    @post_load
    def _index(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data.setdefault("unmatched", "default" if "default" in data else "error")
        table: Mapping[str, Scalar] = data["table"]
        fold = data["case_insensitive"]
        data["lookup"] = {(k.casefold() if fold else k): v for k, v in table.items()}
        outputs = [as_text(v) for v in table.values()]
        data["one_to_one"] = len(set(outputs)) == len(outputs)
        data["reverse"] = {as_text(v): k for k, v in table.items()}
        return data


class _DefaultParams(Schema):
    constant = _ScalarField(required=True)


class _ConcatParams(Schema):
    paths = fields.List(
        fields.String(validate=_valid_path),
        required=True,
        validate=validate.Length(min=1, max=20, error="must list 1 to 20 paths"),
    )
    separator = fields.String(load_default=" ", validate=validate.Length(max=20))

    @post_load
    def _parse(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["parsed"] = tuple(parse_path(p) for p in data["paths"])
        return data


class _RegexParams(Schema):
    pattern = fields.String(required=True, validate=validate.Length(min=1, max=500))
    group = fields.Raw()
    ignore_case = fields.Boolean(load_default=False)

    @validates_schema
    def _compiles(self, data: Mapping[str, Any], **_: Any) -> None:
        try:
            compiled = re.compile(data.get("pattern", ""), re.IGNORECASE if data.get("ignore_case") else 0)
        except re.error as exc:
            raise ValidationError(f"not a valid regular expression: {exc.msg}", "pattern") from None
        group = data.get("group")
        if group is None:
            return
        if isinstance(group, bool) or not isinstance(group, int | str):
            raise ValidationError("must be a group number or a group name", "group")
        if isinstance(group, int) and not 0 <= group <= compiled.groups:
            raise ValidationError(f"the pattern has {compiled.groups} group(s)", "group")
        if isinstance(group, str) and group not in compiled.groupindex:
            raise ValidationError("the pattern has no group by that name", "group")

    @post_load
    def _compile(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        compiled = re.compile(data["pattern"], re.IGNORECASE if data["ignore_case"] else 0)
        data["compiled"] = compiled
        data.setdefault("group", 1 if compiled.groups else 0)
        return data


class _BooleanParams(Schema):
    true_values = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    false_values = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)

    @validates_schema
    def _disjoint(self, data: Mapping[str, Any], **_: Any) -> None:
        both = {_fold(v) for v in data.get("true_values", [])} & {_fold(v) for v in data.get("false_values", [])}
        if both:
            raise ValidationError("a word cannot be both true and false", "false_values")

    @post_load
    def _words(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        words = dict(_BOOLEAN_WORDS)
        words.update({_fold(v): True for v in data["true_values"]})
        words.update({_fold(v): False for v in data["false_values"]})
        data["words"] = words
        data["phrases"] = sorted(
            ((w, b) for w, b in words.items() if len(w) >= 2 and w[0].isalpha()), key=lambda wb: -len(wb[0])
        )
        return data


class _JoinParams(Schema):
    separator = fields.String(load_default=", ", validate=validate.Length(max=20))


# --- the transforms ---------------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TransformError("expected text")


def _each(value: object, fn: Callable[[str], str]) -> object:
    if isinstance(value, list | tuple):
        return [fn(_text(v)) for v in value]
    return fn(_text(value))


def _trim(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple):
        return [v.strip() if isinstance(v, str) else v for v in value]
    return value


def _lower(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    return _each(value, str.lower)


def _upper(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    return _each(value, str.upper)


_WORD = re.compile(r"[^\W\d_]+")


def _title_case(text: str) -> str:
    return _WORD.sub(lambda m: m.group()[0].upper() + m.group()[1:].lower(), text)


def _title(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    return _each(value, _title_case)


#: Lower-case words that begin a family name ("María de la Cruz", "Ludwig van Beethoven").
NAME_PARTICLES = frozenset(
    {"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "la", "las", "le", "los",
     "san", "santa", "st", "st.", "ten", "ter", "van", "von", "y", "al", "el", "bin", "ibn", "mac"}
)  # fmt: skip
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "md", "m.d.", "dds"})


def split_full_name(full: str) -> tuple[str, str]:
    """Split a full name into (first, last).

    Handles "Last, First", single names (all first name), family-name particles ("Juan Carlos de la
    Fuente" → ("Juan Carlos", "de la Fuente")) and generational suffixes ("Jr.", "III"), which stay with
    the family name.
    """
    text = " ".join(full.split())
    if not text:
        return "", ""
    if "," in text:
        last, _, first = text.partition(",")
        first, last = first.strip(), last.strip()
        if first and last and first.casefold().rstrip(".") not in {s.rstrip(".") for s in _SUFFIXES}:
            return first, last
        text = " ".join(p for p in (last, first) if p)
    words = text.split(" ")
    suffix: list[str] = []
    while len(words) > 2 and words[-1].casefold().rstrip(",") in _SUFFIXES:
        suffix.insert(0, words.pop())
    if len(words) == 1:
        return words[0], " ".join(suffix)
    start = len(words) - 1
    while start > 1 and words[start - 1].casefold() in NAME_PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:] + suffix)


def _split_name(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    full = " ".join(_text(value).split())
    first, last = split_full_name(full)
    if "first_parsed" in options:
        given = lookup(options["first_parsed"])
        if isinstance(given, str) and given.strip():
            # The form also asked for the first name: split right after it ("Rosa" + "Delgado Méndez").
            given = " ".join(given.split())
            n = len(given)
            if full.casefold().startswith(given.casefold()) and full[n : n + 1] in ("", " "):
                first, last = full[:n], full[n:].strip()
    return first if options["part"] == "first" else last


def _e164(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    try:
        return normalize_phone(_text(value), default_region=options["region"])
    except InvalidContact:
        raise TransformError("not a valid phone number") from None


def _email(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    try:
        return normalize_email(_text(value))
    except InvalidContact as exc:
        if exc.code == "mixed_script_email":
            raise TransformError(str(exc).removeprefix("email ")) from None
        raise TransformError("not a valid email address") from None


_DATE_FORMATS = {
    "mdy": ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%Y/%m/%d", "%b %d, %Y", "%B %d, %Y", "%b %d %Y",
            "%B %d %Y", "%d %b %Y", "%d %B %Y"),
    "dmy": ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y",
            "%b %d, %Y", "%B %d, %Y"),
}  # fmt: skip
_TIME_FORMATS = ("%I:%M %p", "%I:%M%p", "%I:%M:%S %p", "%I %p", "%I%p", "%H:%M", "%H:%M:%S")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=4)
def _datetime_formats(order: str) -> tuple[str, ...]:
    return tuple(f"{d}{sep}{t}" for d in _DATE_FORMATS[order] for sep in (" ", ", ", " at ") for t in _TIME_FORMATS)


def _parse_date_text(text: str, order: str) -> date | None:
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in _DATE_FORMATS[order]:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _parse_date(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    text = " ".join(_text(value).split())
    parsed = _parse_date_text(text, options["order"])
    if parsed is None and ("T" in text or ":" in text):
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1)).date()
        except ValueError:
            parsed = None
    if parsed is None:
        raise TransformError("not a recognised date")
    return parsed.isoformat()


def _parse_datetime(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    tz = zone(options["timezone"])
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise TransformError("not a recognised date and time") from None
    text = " ".join(_text(value).split())
    if _ISO_DATE.match(text) or _parse_date_text(text, options["order"]) is not None:
        raise TransformError("a date without a time of day")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _datetime_formats(options["order"]):
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise TransformError("not a recognised date and time")
    if parsed.tzinfo is None:
        local = parsed.replace(tzinfo=tz)
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != parsed:
            raise TransformError("not an existing local time (skipped by a daylight-saving change)")
        parsed = local
    return parsed.isoformat()


def _map_one(value: object, options: Mapping[str, Any]) -> object:
    key = as_text(value)
    if key is None:
        raise TransformError("expected a single value")
    lookup: Mapping[str, Scalar] = options["lookup"]
    found = lookup.get(key.casefold() if options["case_insensitive"] else key, ABSENT)
    if found is not ABSENT:
        return found
    unmatched = options["unmatched"]
    if unmatched == "default":
        return options["default"]
    if unmatched == "keep":
        return value
    if unmatched == "absent":
        return ABSENT
    raise TransformError("value is not in the value table")


def _map_values(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    if isinstance(value, list | tuple):
        mapped = [_map_one(v, options) for v in value]
        return [m for m in mapped if m is not ABSENT]
    return _map_one(value, options)


def _unmap_values(value: Any, options: Mapping[str, Any]) -> Any:
    key = as_text(value)
    if key is None:
        raise TransformError("expected a single value")
    reverse: Mapping[str | None, str] = options["reverse"]
    if key in reverse:
        return reverse[key]
    if options["case_insensitive"]:
        for out, original in reverse.items():
            if out is not None and out.casefold() == key.casefold():
                return original
    if options["unmatched"] == "default" and as_text(options["default"]) == key:
        return ABSENT
    if options["unmatched"] == "keep":
        return value
    raise TransformError("value has no entry in the reversed value table")


def _default(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    return options["constant"] if is_empty(value) else value


def _undefault(value: Any, options: Mapping[str, Any]) -> Any:
    return ABSENT if as_text(value) == as_text(options["constant"]) else value


def _concat(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    parts: list[str] = []
    for item in [value, *(lookup(p) for p in options["parsed"])]:
        if is_empty(item):
            continue
        text = as_text(item)
        if text is None:
            raise TransformError("expected text to join")
        if text.strip():
            parts.append(text.strip())
    return options["separator"].join(parts) if parts else ABSENT


def _regex_extract(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    text = as_text(value)
    if text is None:
        raise TransformError("expected text")
    match = options["compiled"].search(text)
    if match is None:
        return ABSENT
    found = match.group(options["group"])
    return ABSENT if found is None else found


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFC", " ".join(text.casefold().split()))
    return folded.strip(" .!¡?¿")


_TRUE_WORDS = (
    "yes", "y", "true", "t", "1", "checked", "check", "on", "ok", "okay", "agree", "agreed", "i agree",
    "accept", "accepted", "i accept", "i consent", "consent", "opt in", "opted in", "granted",
    "sí", "si", "acepto", "de acuerdo", "estoy de acuerdo", "sí acepto", "si acepto", "verdadero",
    "claro", "autorizo",
)  # fmt: skip
_FALSE_WORDS = (
    "no", "n", "false", "f", "0", "unchecked", "not checked", "off", "disagree", "i disagree",
    "decline", "declined", "i decline", "do not agree", "i do not agree", "don't agree",
    "i don't agree", "opt out", "opted out", "denied", "no acepto", "no estoy de acuerdo", "falso",
    "no autorizo",
)  # fmt: skip
_BOOLEAN_WORDS: Mapping[str, bool] = MappingProxyType(
    {**{_fold(w): True for w in _TRUE_WORDS}, **{_fold(w): False for w in _FALSE_WORDS}}
)
_BOUNDARY = re.compile(r"[\s,.;:!?¡¿\-–—()]")


def to_boolean(value: object, options: Mapping[str, Any] | None = None) -> bool:
    """Read a yes/no answer in English or Spanish (``"Sí, acepto"`` → True, ``"No"`` → False).

    An exact word wins; otherwise an answer that *starts* with a known phrase ("I agree to receive text
    messages", "No, gracias") counts. A one-item list (a single ticked checkbox) is read as its item.

    Raises:
        TransformError: the value is not recognisably yes or no.
    """
    opts = options if options is not None else _boolean_defaults()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise TransformError("not a yes/no answer")
    if isinstance(value, list | tuple):
        answers = {to_boolean(v, opts) for v in value if not is_empty(v)}
        if len(answers) == 1:
            return answers.pop()
        raise TransformError("not a yes/no answer" if not answers else "contradictory yes/no answers")
    if not isinstance(value, str):
        raise TransformError("not a yes/no answer")
    folded = _fold(value)
    words: Mapping[str, bool] = opts["words"]
    if folded in words:
        return words[folded]
    for phrase, meaning in opts["phrases"]:
        if folded.startswith(phrase) and _BOUNDARY.match(folded, len(phrase)):
            return bool(meaning)
    raise TransformError("not a yes/no answer")


@lru_cache(maxsize=1)
def _boolean_defaults() -> Mapping[str, Any]:
    loaded: dict[str, Any] = _BooleanParams().load({})
    return MappingProxyType(loaded)


def _boolean(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    return to_boolean(value, options)


def _join_list(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    items = value if isinstance(value, list | tuple) else [value]
    texts: list[str] = []
    for item in items:
        if is_empty(item):
            continue
        text = as_text(item)
        if text is None:
            raise TransformError("expected a list of single values")
        texts.append(text)
    return options["separator"].join(texts) if texts else ABSENT


def _to_string(value: Any, options: Mapping[str, Any], lookup: Lookup) -> Any:
    text = as_text(value)
    if text is None:
        raise TransformError("expected a single value")
    return text


# --- the registry -----------------------------------------------------------------------------------


def _same(value: Any, options: Mapping[str, Any]) -> Any:
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformDef:
    """One registered transform.

    Attributes:
        name: the name rules use (``e164``).
        summary: one line for the docs and the mapping editor.
        params: the marshmallow schema of its parameters; loading it gives the run-time options.
        run: ``run(value, options, lookup) -> value``; raises :class:`TransformError` on a bad value.
        fills_empty: runs even when there is no value (``default``, ``concat``); others skip empties.
        inverse: for reverse mapping, ``inverse(crm_value, options) -> hub value`` (``ABSENT`` for "no
            information"), or None when the transform cannot be undone.
        reversible_when: extra condition on the options for the inverse to be exact (``map_values``
            needs a one-to-one table).
        produces: the constants the transform can output (for picklist pre-flight), if any.
    """

    name: str
    summary: str
    params: type[Schema]
    run: Callable[[Any, Mapping[str, Any], Lookup], Any]
    fills_empty: bool = False
    inverse: Callable[[Any, Mapping[str, Any]], Any] | None = None
    reversible_when: Callable[[Mapping[str, Any]], bool] | None = None
    produces: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError("TransformDef.name must be snake_case")
        if self.reversible_when is not None and self.inverse is None:
            raise ValueError("TransformDef.reversible_when needs an inverse")

    def is_reversible(self, options: Mapping[str, Any]) -> bool:
        """True when :attr:`inverse` undoes this transform for these options."""
        if self.inverse is None:
            return False
        return self.reversible_when(options) if self.reversible_when is not None else True


def _normalize_inverse(
    fn: Callable[[Any, Mapping[str, Any], Lookup], Any],
) -> Callable[[Any, Mapping[str, Any]], Any]:
    """The inverse of an idempotent normaliser is the normaliser itself (CRM input gets normalised)."""

    def inverse(value: Any, options: Mapping[str, Any]) -> Any:
        return fn(value, options, _no_lookup)

    return inverse


def _no_lookup(path: Path) -> Any:
    return ABSENT


def _map_outputs(options: Mapping[str, Any]) -> tuple[Any, ...]:
    outputs = list(options["table"].values())
    if "default" in options:
        outputs.append(options["default"])
    return tuple(outputs)


_DEFS: Sequence[TransformDef] = (
    TransformDef(name="trim", summary="Remove leading and trailing whitespace.", params=_NoParams,
                 run=_trim, inverse=_normalize_inverse(_trim)),
    TransformDef(name="lower", summary="Lower-case text (reverses as-is: casing must not matter).",
                 params=_NoParams, run=_lower, inverse=_same),
    TransformDef(name="upper", summary="Upper-case text (reverses as-is: casing must not matter).",
                 params=_NoParams, run=_upper, inverse=_same),
    TransformDef(name="title", summary="Capitalise each word (García-López, O'Neil).", params=_NoParams,
                 run=_title),
    TransformDef(name="split_full_name",
                 summary="The first or last name of a full name (part; first_path: a known first name).",
                 params=_SplitNameParams, run=_split_name),
    TransformDef(name="e164", summary="Phone number to E.164, national numbers read in region.",
                 params=_E164Params, run=_e164, inverse=_normalize_inverse(_e164)),
    TransformDef(name="normalize_email", summary="Email address trimmed and lower-cased.",
                 params=_NoParams, run=_email, inverse=_normalize_inverse(_email)),
    TransformDef(name="parse_date", summary="A date (ISO, 12/03/2026, Dec 3, 2026) to YYYY-MM-DD.",
                 params=_DateParams, run=_parse_date),
    TransformDef(name="parse_datetime",
                 summary="A date and time to ISO 8601 with offset; naive values are read in timezone.",
                 params=_DateTimeParams, run=_parse_datetime),
    TransformDef(name="map_values", summary="Translate through a value table (default, unmatched, case).",
                 params=_MapValuesParams, run=_map_values, inverse=_unmap_values,
                 reversible_when=lambda o: bool(o["one_to_one"]), produces=_map_outputs),
    TransformDef(name="default", summary="A constant when there is no value (constant).",
                 params=_DefaultParams, run=_default, fills_empty=True, inverse=_undefault,
                 produces=lambda o: (o["constant"],)),
    TransformDef(name="concat", summary="Join with the values at other paths (separator).",
                 params=_ConcatParams, run=_concat, fills_empty=True),
    TransformDef(name="regex_extract", summary="The group of the first match of pattern (absent if none).",
                 params=_RegexParams, run=_regex_extract),
    TransformDef(name="boolean", summary="Yes/no answers (English and Spanish) to true/false.",
                 params=_BooleanParams, run=_boolean, inverse=lambda v, o: to_boolean(v, o)),
    TransformDef(name="join_list", summary="Join a list into text (separator).", params=_JoinParams,
                 run=_join_list),
    TransformDef(name="to_string", summary="A single value to text (true/false, numbers).",
                 params=_NoParams, run=_to_string, inverse=_same),
)  # fmt: skip

#: Every transform, by name.
TRANSFORMS: Mapping[str, TransformDef] = MappingProxyType({d.name: d for d in _DEFS})


def load_options(name: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Validate ``params`` for transform ``name`` and return its run-time options.

    Raises:
        ValidationError: marshmallow's, keyed by parameter name (``{"region": ["…"]}``), or under
            ``name`` when the transform is unknown.
    """
    definition = TRANSFORMS.get(name)
    if definition is None:
        raise ValidationError(f"unknown transform; known: {', '.join(sorted(TRANSFORMS))}", "name")
    loaded: dict[str, Any] = definition.params().load(_thaw(params))
    return MappingProxyType(loaded)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
