from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping.apply import run_chain
from mapping.errors import MappingError, TransformError
from mapping.paths import ABSENT
from mapping.spec import TransformStep
from mapping.transforms import TRANSFORMS, split_full_name, to_boolean
from nurture.contact import InvalidContact, normalize_email, normalize_phone
from tests.canary import CANARY_EMAIL, CANARY_PHONE_RAW, CANARY_TEXT


def run(name: str, value: Any, data: object = None, /, **params: Any) -> Any:
    return run_chain([TransformStep(name=name, params=params)], value, data)


def fails(name: str, value: Any, /, **params: Any) -> str:
    """Run a transform that must fail; return its message after checking it does not echo the value."""
    with pytest.raises(TransformError) as info:
        run(name, value, **params)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    text = value if isinstance(value, str) else repr(value)
    assert text.strip() == "" or text not in message
    return message


def test_every_transform_is_registered_with_a_summary() -> None:
    assert set(TRANSFORMS) == {
        "trim", "lower", "upper", "title", "split_full_name", "e164", "normalize_email", "parse_date",
        "parse_datetime", "map_values", "default", "concat", "regex_extract", "boolean", "join_list",
        "to_string",
    }  # fmt: skip
    assert all(d.summary for d in TRANSFORMS.values())


def test_empty_values_skip_transforms_that_do_not_fill_them() -> None:
    for empty in (ABSENT, None, "", "   ", []):
        assert run("e164", empty) == empty
        assert run("boolean", empty) == empty


# --- text ---------------------------------------------------------------------------------------------


def test_trim_lower_upper_and_title_change_text_and_lists_of_text() -> None:
    assert run("trim", "  Ana  ") == "Ana"
    assert run("trim", [" a ", "b "]) == ["a", "b"]
    assert run("trim", 42) == 42
    assert run("lower", "ANA@Example.ORG") == "ana@example.org"
    assert run("upper", ["tx", "ca"]) == ["TX", "CA"]
    assert run("title", "maría garcía-lópez o'neil") == "María García-López O'Neil"


@pytest.mark.parametrize("name", ["lower", "upper", "title", "split_full_name"])
def test_case_transforms_refuse_what_is_not_text(name: str) -> None:
    params = {"part": "first"} if name == "split_full_name" else {}
    assert fails(name, {"nested": CANARY_TEXT}, **params).endswith("expected text")


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ana Ruiz", "Ana", "Ruiz"),
        ("Ruiz, Ana", "Ana", "Ruiz"),
        ("Cher", "Cher", ""),
        ("María de la Cruz", "María", "de la Cruz"),
        ("Juan Carlos de la Fuente", "Juan Carlos", "de la Fuente"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Martin Luther King Jr.", "Martin Luther", "King Jr."),
        ("  Ana   María   Ruiz ", "Ana María", "Ruiz"),
        ("Vega, Rosa de la", "Rosa de la", "Vega"),
        ("", "", ""),
    ],
)
def test_split_full_name_handles_commas_single_names_particles_and_suffixes(full: str, first: str, last: str) -> None:
    assert split_full_name(full) == (first, last)


def test_split_full_name_uses_a_known_first_name_to_keep_compound_surnames_whole() -> None:
    data = {"first": "Rosa", "name": "Rosa Delgado Méndez"}
    params = {"first_path": "first"}
    assert run("split_full_name", data["name"], data, part="first", **params) == "Rosa"
    assert run("split_full_name", data["name"], data, part="last", **params) == "Delgado Méndez"
    assert run("split_full_name", "Rosa Delgado Méndez", {}, part="last", **params) == "Méndez"


# --- contact ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["(512) 555-0142", "512.555.0142", "+1 512 555 0142", 5125550142])
def test_e164_normalises_national_and_international_spellings(raw: object) -> None:
    assert run("e164", raw) == "+15125550142"


def test_e164_reads_national_numbers_in_the_given_region() -> None:
    assert run("e164", "55 1234 5678", region="MX") == "+525512345678"


@pytest.mark.parametrize("raw", [CANARY_PHONE_RAW.replace("512", "000"), "call me maybe", "555-0142", True])
def test_e164_refuses_numbers_without_repeating_them(raw: object) -> None:
    message = fails("e164", raw)
    assert message in ("e164: not a valid phone number", "e164: expected text")


def test_normalize_email_lower_cases_and_trims() -> None:
    assert run("normalize_email", "  Ana.Ruiz@Example.ORG ") == "ana.ruiz@example.org"


@pytest.mark.parametrize("raw", [CANARY_EMAIL.replace("@", " at "), "nobody@", "@example.org"])
def test_normalize_email_refuses_non_addresses_without_repeating_them(raw: str) -> None:
    assert fails("normalize_email", raw) == "normalize_email: not a valid email address"


_NATIONAL = st.from_regex(r"\(?[2-9]\d\d\)?[ .-]?555[ .-]?01\d\d", fullmatch=True)


@settings(deadline=None)
@given(raw=_NATIONAL)
def test_e164_is_idempotent(raw: str) -> None:
    try:
        once = run("e164", raw)
    except TransformError:
        return
    assert run("e164", once) == once
    assert once == normalize_phone(once)


@given(raw=st.from_regex(r"\s*[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,12}\.[A-Za-z]{2,6}\s*", fullmatch=True))
def test_normalize_email_is_idempotent(raw: str) -> None:
    try:
        once = run("normalize_email", raw)
    except TransformError:
        with pytest.raises(InvalidContact):
            normalize_email(raw)
        return
    assert run("normalize_email", once) == once


# --- dates and times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-03", "2026-12-03"),
        ("12/03/2026", "2026-12-03"),
        ("12/3/26", "2026-12-03"),
        ("Dec 3, 2026", "2026-12-03"),
        ("December 3, 2026", "2026-12-03"),
        ("2026-12-03T14:30:00Z", "2026-12-03"),
    ],
)
def test_parse_date_reads_iso_and_us_dates(raw: str, expected: str) -> None:
    assert run("parse_date", raw) == expected


def test_parse_date_reads_day_first_when_told() -> None:
    assert run("parse_date", "03/12/2026", order="dmy") == "2026-12-03"


@pytest.mark.parametrize("raw", ["13/45/2026", "next Tuesday", "2026-02-30"])
def test_parse_date_refuses_non_dates_without_repeating_them(raw: str) -> None:
    assert fails("parse_date", raw) == "parse_date: not a recognised date"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12/03/2026 2:30 PM", "2026-12-03T14:30:00-06:00"),
        ("12/03/2026 2:30pm", "2026-12-03T14:30:00-06:00"),
        ("12/03/2026 14:30", "2026-12-03T14:30:00-06:00"),
        ("Dec 3, 2026 at 9 AM", "2026-12-03T09:00:00-06:00"),
        ("2026-12-03 14:30", "2026-12-03T14:30:00-06:00"),
        ("2026-07-03T14:30:00", "2026-07-03T14:30:00-05:00"),
        ("2026-12-03T14:30:00Z", "2026-12-03T14:30:00+00:00"),
        ("2026-12-03T14:30:00-05:00", "2026-12-03T14:30:00-05:00"),
    ],
)
def test_parse_datetime_reads_naive_values_in_the_given_time_zone(raw: str, expected: str) -> None:
    assert run("parse_datetime", raw, timezone="America/Chicago") == expected


def test_parse_datetime_reads_epoch_seconds_and_milliseconds_as_utc() -> None:
    assert run("parse_datetime", 1764858600) == "2025-12-04T14:30:00+00:00"
    assert run("parse_datetime", 1764858600000) == "2025-12-04T14:30:00+00:00"


def test_parse_datetime_refuses_a_local_time_skipped_by_daylight_saving() -> None:
    message = fails("parse_datetime", "03/08/2026 2:30 AM", timezone="America/Chicago")
    assert "daylight-saving" in message


@pytest.mark.parametrize("raw", ["12/03/2026", "tomorrow afternoon", "25:99"])
def test_parse_datetime_refuses_dates_without_times_and_nonsense(raw: str) -> None:
    fails("parse_datetime", raw, timezone="America/Chicago")


# --- tables, defaults, joins --------------------------------------------------------------------------

STAGES = {"new": "NEW", "attempting": "ATTEMPTED_TO_CONTACT"}


def test_map_values_translates_through_its_table() -> None:
    assert run("map_values", "new", table=STAGES) == "NEW"
    assert run("map_values", ["new", "attempting"], table=STAGES) == ["NEW", "ATTEMPTED_TO_CONTACT"]


def test_map_values_can_ignore_case() -> None:
    assert run("map_values", "Español", table={"español": "es"}, case_insensitive=True) == "es"
    with pytest.raises(TransformError):
        run("map_values", "Español", table={"español": "es"})


def test_map_values_unmatched_values_error_default_keep_or_vanish() -> None:
    assert fails("map_values", CANARY_TEXT, table=STAGES) == "map_values: value is not in the value table"
    assert run("map_values", "kept", table=STAGES, default="OTHER") == "OTHER"
    assert run("map_values", "kept", table=STAGES, unmatched="keep") == "kept"
    assert run("map_values", "kept", table=STAGES, unmatched="absent") is ABSENT


def test_map_values_reads_booleans_and_numbers_by_their_text() -> None:
    assert run("map_values", True, table={"true": "Yes"}) == "Yes"
    assert run("map_values", 3, table={"3": "three"}) == "three"


def test_default_fills_absent_and_blank_values_only() -> None:
    assert run("default", ABSENT, constant="Patient inquiry") == "Patient inquiry"
    assert run("default", "  ", constant="Patient inquiry") == "Patient inquiry"
    assert run("default", "Acme", constant="Patient inquiry") == "Acme"


def test_concat_joins_present_values_from_other_paths() -> None:
    data = {"reason": "Insurance question", "notes": "Do you take Aetna?", "blank": " "}
    assert run("concat", "Insurance question", data, paths=["notes"], separator="\n") == (
        "Insurance question\nDo you take Aetna?"
    )
    assert run("concat", ABSENT, data, paths=["blank", "notes"]) == "Do you take Aetna?"
    assert run("concat", ABSENT, data, paths=["missing"]) is ABSENT
    assert fails("concat", {"a": CANARY_TEXT}, paths=["notes"]) == "concat: expected text to join"


def test_regex_extract_returns_a_group_or_absent() -> None:
    assert run("regex_extract", "es-MX", pattern=r"^([a-z]{2})") == "es"
    assert run("regex_extract", "Order #12345", pattern=r"#(?P<n>\d+)", group="n") == "12345"
    assert run("regex_extract", "no digits", pattern=r"(\d+)") is ABSENT
    assert run("regex_extract", "ABC", pattern=r"b", ignore_case=True) == "B"
    assert fails("regex_extract", [CANARY_TEXT], pattern="x") == "regex_extract: expected text"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True), (False, False), (1, True), (0, False), ("yes", True), ("No", False),
        ("TRUE", True), ("0", False), ("checked", True), ("on", True), ("off", False),
        ("I agree", True), ("I agree to receive text messages.", True), ("Yes, text me!", True),
        ("sí", True), ("Si", True), ("Sí, acepto", True), ("acepto", True), ("de acuerdo", True),
        ("Acepto recibir mensajes de texto.", True), ("no acepto", False), ("No, gracias", False),
        (["I agree"], True), (["Yes", "yes"], True),
    ],
)  # fmt: skip
def test_boolean_reads_yes_and_no_in_english_and_spanish(raw: object, expected: bool) -> None:
    assert run("boolean", raw) is expected


@pytest.mark.parametrize("raw", ["maybe", CANARY_TEXT, 2, {"x": 1}, "signed", ["yes", "no"]])
def test_boolean_refuses_unknown_answers_without_repeating_them(raw: object) -> None:
    fails("boolean", raw)


def test_boolean_accepts_extra_words() -> None:
    assert run("boolean", "Claro que sí", true_values=["claro que sí"]) is True
    assert run("boolean", "nope", false_values=["nope"]) is False
    assert to_boolean("Yes") is True


def test_join_list_and_to_string_make_text() -> None:
    assert run("join_list", ["Back pain", "Knee", None, 3]) == "Back pain, Knee, 3"
    assert run("join_list", "single") == "single"
    assert run("join_list", ["a", "b"], separator=" / ") == "a / b"
    assert run("to_string", True) == "true"
    assert run("to_string", 4821) == "4821"
    assert fails("to_string", [CANARY_TEXT]) == "to_string: expected a single value"
    assert fails("join_list", [{"a": CANARY_TEXT}]) == "join_list: expected a list of single values"


# --- parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "key"),
    [
        ("e164", {"region": "ZZ"}, "params.region"),
        ("e164", {"regoin": "US"}, "params.regoin"),
        ("split_full_name", {}, "params.part"),
        ("split_full_name", {"part": "middle"}, "params.part"),
        ("parse_datetime", {"timezone": "Mars/Olympus"}, "params.timezone"),
        ("map_values", {"table": {}}, "params.table"),
        ("map_values", {"table": {"a": [1]}}, "params.table"),
        ("map_values", {"table": {"a": 1}, "default": 0, "unmatched": "keep"}, "params.unmatched"),
        ("map_values", {"table": {"A": 1, "a": 2}, "case_insensitive": True}, "params.table"),
        ("concat", {"paths": ["a[b"]}, "params.paths"),
        ("regex_extract", {"pattern": "("}, "params.pattern"),
        ("regex_extract", {"pattern": "(a)", "group": 2}, "params.group"),
        ("regex_extract", {"pattern": "(a)", "group": "nope"}, "params.group"),
        ("boolean", {"true_values": ["x"], "false_values": ["X"]}, "params.false_values"),
        ("default", {}, "params.constant"),
        ("frobnicate", {}, "name"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(name: str, params: dict[str, Any], key: str) -> None:
    with pytest.raises(MappingError) as info:
        TransformStep(name=name, params=params)
    assert any(p.startswith(key) for p in info.value.problems), info.value.problems
