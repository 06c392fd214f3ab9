"""A small SOQL parser and evaluator for the Salesforce sandbox (hand-written recursive descent).

Supported: ``SELECT field, ... FROM Object`` or ``SELECT COUNT() FROM Object``; ``WHERE`` with
``= != <> < <= > >=``, ``LIKE``, ``IN (...)``, ``NOT IN (...)``, ``AND``, ``OR``, ``NOT``,
parentheses; literals: strings, numbers, ``true``/``false``/``null``, dates (``2026-11-26``) and
datetimes (``2026-11-26T10:00:00Z``, ``2026-11-26T10:00:00.000+01:00``); ``ORDER BY`` several
fields with ``ASC``/``DESC`` and ``NULLS FIRST``/``NULLS LAST``; ``LIMIT``; ``OFFSET``.

Not supported (answered with MALFORMED_QUERY or INVALID_FIELD): relationship paths (``Owner.Name``),
subqueries and semi-joins, aggregate functions other than ``COUNT()``, ``GROUP BY``, date
functions and relative date literals (``TODAY``, ``LAST_N_DAYS:n``), ``includes``/``excludes``,
``FIELDS(...)``, ``FOR UPDATE``.

As in Salesforce: keywords, object and field names are case-insensitive; text comparisons and
ordering ignore case; ``AND`` and ``OR`` cannot be mixed without parentheses; ascending order puts
nulls first and descending order puts them last; ``!=`` and ``NOT IN`` match null values; a
filter value must have the field's type (a quoted datetime is an error).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from sandboxes.salesforce.ids import is_salesforce_id, normalize_id
from sandboxes.salesforce.objects import find_object
from sandboxes.salesforce.schema import FieldSpec, ObjectSpec

__all__ = [
    "Comparison",
    "Condition",
    "Junction",
    "Negation",
    "OrderItem",
    "Query",
    "SoqlError",
    "compile_where",
    "format_datetime",
    "order_records",
    "parse",
    "parse_datetime_literal",
]

MAX_OFFSET: Final = 2000

Record = Mapping[str, Any]


class SoqlError(Exception):
    """A query Salesforce would reject; ``error_code`` and ``message`` go on the wire as they are."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; for IN / NOT IN the value is a tuple."""

    field: FieldSpec
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Junction:
    """Conditions joined by one operator (``AND`` or ``OR``)."""

    op: str
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """``NOT condition``."""

    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ``ORDER BY`` term."""

    field: FieldSpec
    descending: bool
    nulls_last: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query.

    Attributes:
        sobject: the object queried.
        fields: selected fields in query order (canonical API names); empty for ``COUNT()``.
        count_only: ``SELECT COUNT()``.
        where: the filter, or None.
        order_by: sort terms, first is most significant.
        limit / offset: as written, or None.
    """

    sobject: ObjectSpec
    fields: tuple[FieldSpec, ...]
    count_only: bool
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


# --------------------------------------------------------------------------------------------------
# Datetimes: SOQL literals in, Salesforce's wire format out.

_DT_LITERAL = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})", re.ASCII
)
_DATE_LITERAL = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def format_datetime(value: datetime) -> str:
    """``2026-11-26T10:00:00.000+0000``: how Salesforce writes every datetime (always UTC)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime_literal(text: str) -> datetime | None:
    """A SOQL datetime literal as an aware datetime, or None if ``text`` is not one."""
    m = _DT_LITERAL.fullmatch(text)
    if m is None:
        return None
    zone = m.group(8)
    iso = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
    if m.group(7):
        iso += "." + m.group(7).ljust(3, "0")
    iso += "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Tokenizer.

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*(?P<close>')?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.ASCII | re.DOTALL,
)
_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ESCAPES: Final = {"%": "\x00", "_": "\x01"}
_KEYWORDS: Final = frozenset(
    {
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "null",
        "true",
        "false",
        "count",
    }
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int
    value: Any = None

    def keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.lower() in words


def _unescape(body: str, pos: int, query: str, *, like: bool) -> str:
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif like and nxt in _LIKE_ESCAPES:
                out.append(_LIKE_ESCAPES[nxt])
            elif nxt in _LIKE_ESCAPES:
                out.append("\\" + nxt)
            else:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    _located(
                        query,
                        pos + i,
                        f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' in string literal.",
                    ),
                )
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup or "other"
        text = m.group()
        if kind == "ws":
            continue
        if kind == "string" and m.group("close") is None:
            raise SoqlError(
                "MALFORMED_QUERY",
                _located(query, m.start(), f"line 1:{m.start()} mismatched character '<EOF>' expecting '''"),
            )
        tokens.append(_Token(kind, text, m.start()))
    tokens.append(_Token("eof", "<EOF>", len(query)))
    return tokens


def _located(query: str, pos: int, detail: str) -> str:
    """Salesforce's error layout: the query line, a caret under the culprit, row and column."""
    before = query[:pos]
    row = before.count("\n") + 1
    line_start = before.rfind("\n") + 1
    line_end = query.find("\n", pos)
    line = query[line_start : line_end if line_end != -1 else len(query)]
    col = pos - line_start
    return f"\n{line}\n{' ' * col}^\nERROR at Row:{row}:Column:{col + 1}\n{detail}"


# --------------------------------------------------------------------------------------------------
# Parser.

_STRING_TYPES: Final = frozenset(
    {"string", "email", "phone", "url", "picklist", "multipicklist", "combobox", "textarea"}
)
_ID_TYPES: Final = frozenset({"id", "reference"})
_NUMBER_TYPES: Final = frozenset({"double", "int"})
_TYPE_WORDS: Final = {
    "datetime": "dateTime",
    "date": "date",
    "boolean": "boolean",
    "double": "double",
    "int": "integer",
}


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokenize(query)
        self.i = 0
        self.sobject: ObjectSpec | None = None

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def unexpected(self, tok: _Token | None = None) -> SoqlError:
        tok = tok or self.tok
        return SoqlError("MALFORMED_QUERY", _located(self.query, tok.pos, f"unexpected token: {tok.text}"))

    def expect_keyword(self, *words: str) -> _Token:
        if not self.tok.keyword(*words):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, text: str) -> _Token:
        if self.tok.text != text or self.tok.kind != "punct":
            raise self.unexpected()
        return self.advance()

    # -- grammar
    def parse(self) -> Query:
        self.expect_keyword("select")
        count_only = False
        raw_fields: list[_Token] = []
        if self.tok.keyword("count") and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.expect_punct("(")
            if self.tok.text != ")":
                raise SoqlError(
                    "MALFORMED_QUERY",
                    _located(
                        self.query,
                        self.tok.pos,
                        "Aggregate functions other than COUNT() are not supported by this sandbox",
                    ),
                )
            self.expect_punct(")")
            count_only = True
        else:
            raw_fields.append(self.field_token())
            while self.tok.text == ",":
                self.advance()
                raw_fields.append(self.field_token())
        self.expect_keyword("from")
        obj_tok = self.advance()
        if obj_tok.kind != "ident" or obj_tok.text.lower() in _KEYWORDS:
            raise self.unexpected(obj_tok)
        sobject = find_object(obj_tok.text)
        if sobject is None:
            raise SoqlError(
                "INVALID_TYPE",
                _located(
                    self.query,
                    obj_tok.pos,
                    f"sObject type '{obj_tok.text}' is not supported. If you are attempting to use a "
                    "custom object, be sure to append the '__c' after the entity name. Please reference "
                    "your WSDL or the describe call for the appropriate names.",
                ),
            )
        self.sobject = sobject
        fields = []
        seen: set[str] = set()
        for tok in raw_fields:
            spec = self.resolve(tok)
            if spec.name in seen:
                raise SoqlError(
                    "MALFORMED_QUERY", _located(self.query, tok.pos, f"duplicate field selected: {spec.name}")
                )
            seen.add(spec.name)
            fields.append(spec)
        where = None
        if self.tok.keyword("where"):
            self.advance()
            where = self.condition()
        order: list[OrderItem] = []
        if self.tok.keyword("order"):
            self.advance()
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.tok.text == ",":
                self.advance()
                order.append(self.order_item())
        limit = offset = None
        if self.tok.keyword("limit"):
            self.advance()
            limit = self.integer()
        if self.tok.keyword("offset"):
            self.advance()
            offset_tok = self.tok
            offset = self.integer()
            if offset > MAX_OFFSET:
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    _located(self.query, offset_tok.pos, f"Maximum SOQL offset allowed is {MAX_OFFSET}"),
                )
        if self.tok.kind != "eof":
            raise self.unexpected()
        return Query(
            sobject=sobject,
            fields=tuple(fields),
            count_only=count_only,
            where=where,
            order_by=tuple(order),
            limit=limit,
            offset=offset,
        )

    def field_token(self) -> _Token:
        tok = self.advance()
        if tok.kind != "ident" or tok.text.lower() in {"from", "where"}:
            raise self.unexpected(tok)
        return tok

    def resolve(self, tok: _Token) -> FieldSpec:
        assert self.sobject is not None
        if "." in tok.text:
            relationship = tok.text.split(".", 1)[0]
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    self.query,
                    tok.pos,
                    f"Didn't understand relationship '{relationship}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after the "
                    "custom relationship name. Please reference your WSDL or the describe call for the "
                    "appropriate names.",
                ),
            )
        spec = self.sobject.field(tok.text)
        if spec is None:
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    self.query,
                    tok.pos,
                    f"No such column '{tok.text}' on entity '{self.sobject.name}'. If you are "
                    "attempting to use a custom field, be sure to append the '__c' after the custom "
                    "field name. Please reference your WSDL or the describe call for the appropriate "
                    "names.",
                ),
            )
        return spec

    def integer(self) -> int:
        tok = self.advance()
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.unexpected(tok)
        return int(tok.text)

    def order_item(self) -> OrderItem:
        tok = self.field_token()
        spec = self.resolve(tok)
        if spec.type in {"textarea", "multipicklist"}:
            raise SoqlError(
                "INVALID_FIELD",
                _located(self.query, tok.pos, f"field '{spec.name}' can not be sorted in a query call"),
            )
        descending = False
        if self.tok.keyword("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        nulls_last = descending
        if self.tok.keyword("nulls"):
            self.advance()
            nulls_last = self.expect_keyword("first", "last").text.lower() == "last"
        return OrderItem(field=spec, descending=descending, nulls_last=nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        if not self.tok.keyword("and", "or"):
            return first
        op = self.tok.text.upper()
        items = [first]
        while self.tok.keyword("and", "or"):
            if self.tok.text.upper() != op:
                # SOQL needs parentheses to mix AND and OR.
                raise self.unexpected()
            self.advance()
            items.append(self.unary())
        return Junction(op=op, items=tuple(items))

    def unary(self) -> Condition:
        if self.tok.keyword("not"):
            self.advance()
            return Negation(self.unary())
        if self.tok.text == "(" and self.tok.kind == "punct":
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        tok = self.field_token()
        spec = self.resolve(tok)
        if spec.type == "textarea":
            raise SoqlError(
                "INVALID_FIELD",
                _located(self.query, tok.pos, f"field '{spec.name}' can not be filtered in a query call"),
            )
        op_tok = self.tok
        if op_tok.kind == "op":
            self.advance()
            op = "!=" if op_tok.text == "<>" else op_tok.text
            value = self.literal(spec, allow_null=op in {"=", "!="})
            if op in {"<", "<=", ">", ">="} and spec.type == "boolean":
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    _located(self.query, op_tok.pos, f"invalid operator on boolean field: {spec.name}"),
                )
            return Comparison(field=spec, op=op, value=value)
        if op_tok.keyword("like"):
            self.advance()
            if spec.type not in _STRING_TYPES:
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    _located(
                        self.query,
                        op_tok.pos,
                        f"invalid operator on {_TYPE_WORDS.get(spec.type, 'id')} field: {spec.name}",
                    ),
                )
            pattern_tok = self.advance()
            if pattern_tok.kind != "string":
                raise self.unexpected(pattern_tok)
            body = _unescape(pattern_tok.text[1:-1], pattern_tok.pos + 1, self.query, like=True)
            return Comparison(field=spec, op="LIKE", value=_like_regex(body))
        negate = False
        if op_tok.keyword("not"):
            self.advance()
            negate = True
        if not self.tok.keyword("in"):
            raise self.unexpected()
        self.advance()
        self.expect_punct("(")
        if self.tok.keyword("select"):
            raise SoqlError(
                "MALFORMED_QUERY",
                _located(self.query, self.tok.pos, "Semi-join sub-selects are not supported by this sandbox"),
            )
        values = [self.literal(spec, allow_null=True)]
        while self.tok.text == ",":
            self.advance()
            values.append(self.literal(spec, allow_null=True))
        self.expect_punct(")")
        return Comparison(field=spec, op="NOT IN" if negate else "IN", value=tuple(values))

    def literal(self, spec: FieldSpec, *, allow_null: bool) -> Any:
        tok = self.advance()
        if tok.keyword("null"):
            if not allow_null:
                raise self.unexpected(tok)
            return None
        kind = spec.type
        if kind in _STRING_TYPES or kind in _ID_TYPES:
            if tok.kind != "string":
                if tok.kind in {"eof", "punct", "op"}:
                    raise self.unexpected(tok)
                raise self._type_error(tok, spec, "string", quoted=True)
            text = _unescape(tok.text[1:-1], tok.pos + 1, self.query, like=False)
            if kind in _ID_TYPES:
                if not is_salesforce_id(text):
                    raise SoqlError(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        _located(self.query, tok.pos, f"invalid ID field: {text}"),
                    )
                return normalize_id(text)
            return text.casefold()
        if kind == "boolean":
            if not tok.keyword("true", "false"):
                raise self._type_error(tok, spec, "boolean", quoted=False)
            return tok.text.lower() == "true"
        if kind in _NUMBER_TYPES:
            if tok.kind != "number":
                raise self._type_error(tok, spec, _TYPE_WORDS[kind], quoted=False)
            return float(tok.text)
        if kind == "date":
            if tok.kind != "date":
                raise self._type_error(tok, spec, "date", quoted=False)
            return tok.text
        if kind == "datetime":
            parsed = parse_datetime_literal(tok.text) if tok.kind == "datetime" else None
            if parsed is None:
                if tok.kind == "datetime":
                    raise SoqlError(
                        "MALFORMED_QUERY",
                        _located(
                            self.query,
                            tok.pos,
                            f"line 1:{tok.pos} no viable alternative at character '{tok.text[19:20] or ' '}'",
                        ),
                    )
                raise self._type_error(tok, spec, "dateTime", quoted=False)
            return format_datetime(parsed)
        raise self.unexpected(tok)  # pragma: no cover - every field type is handled above

    def _type_error(self, tok: _Token, spec: FieldSpec, type_word: str, *, quoted: bool) -> SoqlError:
        if tok.kind in {"eof", "punct", "op"}:
            return self.unexpected(tok)
        quoting = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return SoqlError(
            "INVALID_FIELD",
            _located(
                self.query,
                tok.pos,
                f"value of filter criterion for field '{spec.name}' must be of type {type_word} and {quoting}",
            ),
        )


def _like_regex(body: str) -> re.Pattern[str]:
    parts = []
    for ch in body:
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        elif ch == "\x00":
            parts.append(re.escape("%"))
        elif ch == "\x01":
            parts.append(re.escape("_"))
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def parse(query: str) -> Query:
    """Parse ``query`` against the sandbox org's metadata.

    Raises:
        SoqlError: with Salesforce's error code (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
            INVALID_QUERY_FILTER_OPERATOR, NUMBER_OUTSIDE_VALID_RANGE) and message layout.
    """
    return _Parser(query).parse()


# --------------------------------------------------------------------------------------------------
# Evaluation over stored records (values as the sandbox stores them: text, ISO-like strings, bools,
# numbers, None).


def _comparable(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    if spec.type in _STRING_TYPES:
        return str(value).casefold()
    if spec.type in _NUMBER_TYPES:
        return float(value)
    return value


def _compile(cond: Condition) -> Callable[[Record], bool]:
    if isinstance(cond, Junction):
        parts = [_compile(item) for item in cond.items]
        if cond.op == "AND":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    if isinstance(cond, Negation):
        inner = _compile(cond.item)
        return lambda rec: not inner(rec)
    spec, op, target = cond.field, cond.op, cond.value
    name = spec.name

    def value_of(rec: Record) -> Any:
        return _comparable(spec, rec.get(name))

    if op == "LIKE":
        pattern: re.Pattern[str] = target
        return lambda rec: rec.get(name) is not None and pattern.fullmatch(str(rec[name])) is not None
    if op in {"IN", "NOT IN"}:
        members = frozenset(target)
        if op == "IN":
            return lambda rec: value_of(rec) in members
        return lambda rec: value_of(rec) not in members
    if op == "=":
        return lambda rec: value_of(rec) == target
    if op == "!=":
        return lambda rec: value_of(rec) != target
    ordering: Mapping[str, Callable[[Any, Any], bool]] = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
    compare = ordering[op]

    def ordered(rec: Record) -> bool:
        value = value_of(rec)
        return value is not None and compare(value, target)

    return ordered


def compile_where(cond: Condition | None) -> Callable[[Record], bool]:
    """A predicate over stored records for a parsed ``WHERE`` (always true without one)."""
    if cond is None:
        return lambda rec: True
    return _compile(cond)


def _sort_key(spec: FieldSpec, record: Record) -> Any:
    return _comparable(spec, record[spec.name])


def order_records(records: Sequence[Record], order_by: Sequence[OrderItem]) -> list[Record]:
    """Sort as Salesforce does (stable; text ignores case; nulls placed per term)."""
    result = list(records)
    for item in reversed(order_by):
        spec = item.field
        present = [r for r in result if r.get(spec.name) is not None]
        missing = [r for r in result if r.get(spec.name) is None]
        present.sort(key=partial(_sort_key, spec), reverse=item.descending)
        result = present + missing if item.nulls_last else missing + present
    return result
