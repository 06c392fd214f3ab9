from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping.errors import PathSyntaxError
from mapping.paths import ABSENT, Index, Key, Select, parse_path, resolve

TYPEFORM = {
    "form_response": {
        "answers": [
            {"type": "text", "text": "Dana", "field": {"id": "a1", "ref": "first_name"}},
            {"type": "email", "email": "dana@example.org", "field": {"id": "a2", "ref": "email"}},
            {"ref": "phone", "phone_number": "+15125550134"},
        ],
        "hidden": {"utm_campaign": "fall"},
    }
}


def test_dotted_keys_and_list_indexes_walk_into_the_payload() -> None:
    assert resolve(TYPEFORM, "form_response.answers[0].text") == "Dana"
    assert resolve(TYPEFORM, "form_response.answers[-1].phone_number") == "+15125550134"
    assert resolve(TYPEFORM, "form_response.hidden.utm_campaign") == "fall"


def test_a_selector_finds_the_element_by_its_own_key_or_by_field_ref() -> None:
    assert resolve(TYPEFORM, "form_response.answers[ref=phone].phone_number") == "+15125550134"
    assert resolve(TYPEFORM, "form_response.answers[ref=email].email") == "dana@example.org"
    assert resolve(TYPEFORM, "form_response.answers[field.ref=email].email") == "dana@example.org"
    assert resolve(TYPEFORM, "form_response.answers[type=text].text") == "Dana"


def test_selector_values_may_hold_spaces_and_punctuation_or_be_quoted() -> None:
    data = {"qa": [{"question": "What is the reason for your visit?", "answer": "Knee"},
                   {"question": "Phone (mobile) [optional]", "answer": "512"}]}  # fmt: skip
    assert resolve(data, "qa[question=What is the reason for your visit?].answer") == "Knee"
    assert resolve(data, 'qa[question="Phone (mobile) [optional]"].answer') == "512"


def test_selectors_compare_numbers_and_booleans_as_text() -> None:
    data = {"items": [{"id": 7, "ok": True, "v": "a"}, {"id": 8, "ok": False, "v": "b"}]}
    assert resolve(data, "items[id=8].v") == "b"
    assert resolve(data, "items[ok=true].v") == "a"


def test_quoted_keys_reach_labels_with_spaces_and_bare_keys_may_be_in_any_script() -> None:
    data = {"payload": {"responses": {"What brings you in?": {"value": "Back pain"}, "Teléfono": "512"}}}
    assert resolve(data, 'payload.responses["What brings you in?"].value') == "Back pain"
    assert resolve(data, "payload.responses.Teléfono") == "512"


@pytest.mark.parametrize(
    "path",
    [
        "form_response.missing",
        "form_response.answers[9].text",
        "form_response.answers[ref=nope].text",
        "form_response.hidden[0]",
        "form_response.answers.text",
        "form_response.hidden.utm_campaign.deeper",
    ],
)
def test_missing_paths_resolve_to_absent_not_an_error(path: str) -> None:
    assert resolve(TYPEFORM, path) is ABSENT


def test_null_is_a_value_that_callers_treat_as_absent() -> None:
    assert resolve({"a": None}, "a") is None


def test_a_path_parses_into_typed_steps() -> None:
    path = parse_path("a.b[2][ref=x][field.ref=y]")
    assert path.steps == (
        Key(name="a"),
        Key(name="b"),
        Index(position=2),
        Select(keys=("ref",), value="x"),
        Select(keys=("field", "ref"), value="y"),
    )
    assert not path.is_plain
    assert parse_path("consent.sms.state").keys == ("consent", "sms", "state")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("a..b", "expected a key name"),
        ("a[ref=email", "expected ']'"),
        ("a[ref=]", "needs a value"),
        ("a[ref]", "expected '='"),
        ("a b", "expected '.' or '['"),
        ('a["unterminated]', "unterminated"),
        (".a", "expected a key name"),
    ],
)
def test_syntax_errors_say_what_was_expected_and_where(text: str, expected: str) -> None:
    with pytest.raises(PathSyntaxError) as info:
        parse_path(text)
    assert expected in str(info.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)
_KEY = st.from_regex(r"[A-Za-z0-9_]{1,6}", fullmatch=True)
_STEP = st.one_of(
    _KEY.map(lambda k: f".{k}"),
    st.integers(-3, 3).map(lambda i: f"[{i}]"),
    st.tuples(_KEY, st.text(alphabet=st.characters(blacklist_characters="[]\"'"), min_size=1, max_size=6))
    .filter(lambda kv: kv[1].strip() != "")
    .map(lambda kv: f"[{kv[0]}={kv[1]}]"),
)
_PATH = st.tuples(_KEY, st.lists(_STEP, max_size=5)).map(lambda p: p[0] + "".join(p[1]))


@settings(max_examples=300)
@given(data=_JSON, path=_PATH)
def test_resolution_never_raises_on_arbitrary_json(data: Any, path: str) -> None:
    result = resolve(data, path)
    assert result is ABSENT or result is None or isinstance(result, bool | int | float | str | list | dict)


@given(path=_PATH)
def test_every_generated_path_parses_and_keeps_its_text(path: str) -> None:
    assert parse_path(path).text == path
