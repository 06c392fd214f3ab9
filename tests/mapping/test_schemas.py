from __future__ import annotations

from typing import Any

import pytest

from mapping.errors import MappingError
from mapping.schemas import dump_mapping, load_mapping, record_problems
from mapping.spec import Conflict, Direction, FieldMapping, MappingKind, Rule, TransformStep, is_reversible


def source_doc(*rules: dict[str, Any], **header: Any) -> dict[str, Any]:
    return {"name": "test_form", "kind": "source", "source_type": "typeform", "rules": list(rules), **header}


def crm_doc(*rules: dict[str, Any], **header: Any) -> dict[str, Any]:
    base = {"name": "test_crm", "kind": "crm_object", "system": "salesforce", "object": "Lead"}
    return {**base, "rules": list(rules), **header}


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(MappingError) as info:
        load_mapping(doc)
    return list(info.value.problems)


def test_a_valid_document_loads_into_a_mapping() -> None:
    mapping = load_mapping(
        source_doc(
            {"target": "email", "sources": ["form_response.answers[ref=email].email"],
             "transforms": [{"name": "normalize_email"}], "required": True},
            {"target": "channel",
             "transforms": [{"name": "default", "params": {"constant": "website_form"}}]},
        )
    )  # fmt: skip
    assert mapping.kind is MappingKind.SOURCE
    assert mapping.rules[0].required
    assert mapping.rules[1].transforms[0].params == {"constant": "website_form"}
    assert load_mapping(dump_mapping(mapping)) == mapping


def test_every_problem_is_reported_at_once_naming_the_rule_index_and_the_field() -> None:
    problems = problems_of(
        source_doc(
            {"target": "email", "sources": ["answers[ref=email"]},
            {
                "target": "phone",
                "sources": ["p"],
                "transforms": [{"name": "e164", "params": {"region": "XX"}}],
            },
            {"target": "phone", "sources": ["q"]},
            {"target": "first_name", "sources": ["n"], "transforms": [{"name": "soundex"}]},
            {"target": "text", "sources": ["t"], "conflict": "hub_wins", "direction": "both"},
            {"target": "favourite_colour", "sources": ["c"]},
            {"target": "consent.fax.granted", "sources": ["c"]},
            {"target": "last_name"},
            "not a rule",
        )
    )
    expected = [
        "rules[0].sources[0]: bad path: expected ']' at position 18",
        "rules[1].transforms[0].params.region: must be a supported ISO 3166 region code, e.g. 'US' or 'MX'",
        "rules[2].target: the same target as rules[1]",
        "rules[3].transforms[0].name: unknown transform;",
        "rules[4].direction: only CRM mappings have a direction",
        "rules[4].conflict: only CRM mappings have a conflict rule",
        "rules[5].target: not an inquiry field;",
        "rules[6].target: consent is kept per channel",
        "rules[7].sources: give a source path, or start the chain with default or concat",
        "rules[8].(rule): must be a table of rule fields",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)
    assert len(problems) == len(expected)


def test_header_problems_name_the_header_field() -> None:
    problems = problems_of({"name": "bad name!", "kind": "source", "version": 0, "system": "salesforce",
                            "rules": [], "colour": "red"})  # fmt: skip
    assert "name: must be 1-80 letters, digits, _ . - starting with a letter or digit" in problems
    assert "version: must be a whole number from 1" in problems
    assert "rules: a mapping needs at least one rule" in problems
    assert any(p.startswith("source_type: required for a source mapping") for p in problems)
    assert "system: only CRM mappings have a system" in problems
    assert "colour: Unknown field." in problems


def test_crm_rules_need_a_direction_a_known_lead_view_path_and_a_conflict_rule_when_two_way() -> None:
    problems = problems_of(
        crm_doc(
            {"target": "Email", "sources": ["contact.email"]},
            {"target": "Phone", "sources": ["contact.fone"], "direction": "hub_to_crm"},
            {"target": "Status", "sources": ["stage"], "direction": "both"},
            {"target": "Score__c", "sources": ["score"], "direction": "hub_to_crm", "conflict": "crm_wins"},
            {"target": "Bad Field", "sources": ["id"], "direction": "hub_to_crm"},
            {"target": "Stage__c", "sources": ["stage"], "direction": "crm_to_hub",
             "transforms": [{"name": "title"}]},
            {"target": "Lead__c", "sources": ["follow_ups[0].due_at"], "direction": "hub_to_crm"},
            object="Opportunity",
        )
    )  # fmt: skip
    expected = [
        "object: salesforce objects that can be mapped: Lead, Contact, Account",
        "rules[0].direction: a CRM rule needs a direction",
        "rules[1].sources[0]: the lead view has no 'fone' here",
        "rules[2].conflict: a rule that syncs both ways needs a conflict rule",
        "rules[3].conflict: crm_wins on a hub_to_crm rule would never write anything",
        "rules[4].target: must be a field name",
        "rules[5].transforms: a crm_to_hub rule must be reversible",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)
    assert len(problems) == len(expected)


def test_problem_lines_never_repeat_payload_like_values() -> None:
    doc = source_doc({"target": "phone", "sources": ["p"], "transforms": [{"name": "e164", "params": {"region": 5}}]})
    assert problems_of(doc) == ["rules[0].transforms[0].params.region: Not a valid string."]


def test_constructing_a_bad_mapping_directly_raises_with_every_problem() -> None:
    with pytest.raises(MappingError) as info:
        FieldMapping(
            name="x",
            kind=MappingKind.SOURCE,
            rules=(
                Rule(target="email", sources=("e",)),
                Rule(target="email", sources=("f",), conflict=Conflict.HUB_WINS),
            ),
        )
    assert info.value.problems == (
        "source_type: required for a source mapping: typeform, jotform, calcom, calendly, standard_webhook, "
        "hubspot_webhook",
        "rules[1].conflict: only CRM mappings have a conflict rule",
        "rules[1].target: the same target as rules[0]",
    )


def test_a_rule_validates_its_own_paths() -> None:
    with pytest.raises(MappingError) as info:
        Rule(target="email", sources=("a[",))
    assert info.value.problems[0].startswith("sources[0]: bad path:")


def test_reversibility_follows_the_transforms() -> None:
    def rule(*steps: TransformStep, sources: tuple[str, ...] = ("consent.sms.state",)) -> Rule:
        return Rule(target="X", sources=sources, transforms=steps, direction=Direction.BOTH,
                    conflict=Conflict.NEWEST_WINS)  # fmt: skip

    assert is_reversible(rule())
    assert is_reversible(rule(TransformStep(name="e164")))
    assert is_reversible(rule(TransformStep(name="boolean"), TransformStep(name="to_string")))
    assert is_reversible(rule(TransformStep(name="map_values", params={"table": {"a": "A", "b": "B"}})))
    assert not is_reversible(rule(TransformStep(name="map_values", params={"table": {"a": "A", "b": "A"}})))
    assert not is_reversible(rule(TransformStep(name="title")))
    assert not is_reversible(rule(sources=("a", "b")))
    assert not is_reversible(rule(sources=("follow_ups[0].step",)))


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"email": 42}, "email"),
        ({"language": "english"}, "language"),
        ({"callback_at": "2026-12-03T14:30:00"}, "callback_at"),
        ({"consent": {"sms": {"granted": "yes"}}}, "consent.sms.granted"),
        ({"consent": {"fax": {"granted": True}}}, "consent.fax (key)"),
        ({"needs": ["money"]}, "needs[0]"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"external_ids": {"calcom": ""}}, "external_ids"),
    ],
)
def test_record_problems_check_the_inquiry_types_by_field(record: dict[str, Any], key: str) -> None:
    problems = record_problems(record)
    assert any(k.startswith(key) for k, _ in problems), problems
    assert all(str(v) not in m for k, m in problems for v in record.values() if isinstance(v, str) and v)


def test_a_well_typed_record_has_no_problems() -> None:
    record = {
        "channel": "website_form",
        "email": "a@example.org",
        "consent": {"sms": {"granted": True}},
        "callback_at": "2026-12-03T14:30:00-06:00",
        "needs": ["insurance"],
    }
    assert record_problems(record) == []
