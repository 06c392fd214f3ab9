from __future__ import annotations

import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import DEFAULT_MAPPINGS, MappingError, from_toml, to_toml
from mapping.spec import FieldMapping, MappingKind, Rule, SourceType, TransformStep


@pytest.mark.parametrize("name", sorted(DEFAULT_MAPPINGS))
def test_every_default_mapping_round_trips_through_toml_exactly(name: str) -> None:
    mapping = DEFAULT_MAPPINGS[name]
    text = to_toml(mapping)
    assert from_toml(text) == mapping
    assert to_toml(from_toml(text)) == text


def test_the_toml_is_readable_and_leaves_defaults_out() -> None:
    text = to_toml(DEFAULT_MAPPINGS["salesforce_lead_default"])
    assert '[[rules]]\ntarget = "Status"\nsources = ["stage"]\ndirection = "both"\nconflict = "newest_wins"' in text
    assert '[rules.transforms.params.table]\nnew = "Open - Not Contacted"' in text
    assert "required = false" not in text


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=15)
_SCALAR = st.one_of(
    _TEXT, st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False)
)


@settings(max_examples=60)
@given(
    table=st.dictionaries(_TEXT, _SCALAR, min_size=1, max_size=6),
    constant=_SCALAR,
    separator=st.text(max_size=3),
)
def test_any_value_table_and_constants_survive_the_round_trip(
    table: dict[str, Any], constant: Any, separator: str
) -> None:
    mapping = FieldMapping(
        name="odd_values",
        kind=MappingKind.SOURCE,
        source_type=SourceType.TYPEFORM,
        version=7,
        rules=(
            Rule(
                target="text",
                sources=('form_response.answers[ref="a \\"quoted\\" ref"].text',),
                transforms=(
                    TransformStep(name="map_values", params={"table": table, "default": constant}),
                    TransformStep(name="concat", params={"paths": ["x.y[0]"], "separator": separator}),
                ),
                required=True,
            ),
        ),
    )
    assert from_toml(to_toml(mapping)) == mapping


def test_a_toml_syntax_error_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as info:
        from_toml("name = 'x'\nkind = ", source="bad.toml")
    assert info.value.source == "bad.toml"
    assert info.value.problems[0].startswith("(toml): ")


def test_an_invalid_mapping_in_toml_lists_every_problem() -> None:
    text = """
name = "typeform_custom"
kind = "source"
source_type = "typeform"

[[rules]]
target = "phone"
sources = ["form_response.answers[ref=phone].phone_number"]

[[rules.transforms]]
name = "e164"

[rules.transforms.params]
region = "USA"

[[rules]]
target = "email"
sources = ["form_response.answers[ref=email].email"]
conflict = "crm_wins"
"""
    with pytest.raises(MappingError) as info:
        from_toml(text, source="typeform.toml")
    assert info.value.problems == (
        "rules[0].transforms[0].params.region: must be a supported ISO 3166 region code, e.g. 'US' or 'MX'",
        "rules[1].conflict: only CRM mappings have a conflict rule",
    )
    assert "typeform.toml has 2 problem(s)" in str(info.value)


def test_the_output_is_plain_toml() -> None:
    for mapping in DEFAULT_MAPPINGS.values():
        assert tomllib.loads(to_toml(mapping))["name"] == mapping.name
