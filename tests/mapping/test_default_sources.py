"""Each default source mapping, applied to realistic sample payloads, yields the expected inquiry JSON,
and the hub's own inquiry schema accepts it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.inbound.inquiry_schema import inquiry_from_json
from hub.settings.config import HubConfig
from mapping import apply, default_source_mapping
from mapping.spec import SourceType
from tests.factories import T0
from tests.mapping.conftest import PAYLOADS, load_payload

EXPECTED: dict[str, dict[str, Any]] = {
    "typeform_appointment_en": {
        "channel": "website_form",
        "first_name": "Dana",
        "last_name": "Whitfield",
        "email": "dana.whitfield@example.org",
        "phone": "+15125550134",
        "language": "en",
        "contact_window": "morning",
        "intent": "ready_to_schedule",
        "text": "Book an appointment\nMy knee has been stiff since a ski trip. "
        "I'd like an evaluation next week if possible.",
        "consent": {
            "sms": {
                "granted": True,
                "wording": "May Hill Country Physical Therapy text you at this number about your inquiry? "
                "Msg & data rates may apply. Reply STOP to opt out.",
                "source": "typeform:sms_consent",
            }
        },
        "campaign": "fall_knee_pain",
        "external_ids": {"typeform": "5v1k9c2x0qz8ttd35v1k9c2x0qz8ttd3"},
    },
    "typeform_insurance_es": {
        "channel": "website_form",
        "first_name": "Lucía",
        "last_name": "Fernández",
        "email": "lucia.fernandez@example.com",
        "phone": "+15125550187",
        "language": "es",
        "contact_window": "afternoon",
        "intent": "insurance_authorization",
        "text": "Pregunta sobre seguro\n¿Aceptan el seguro de Blue Cross? Mi hija necesita terapia del habla.",
        "consent": {
            "sms": {
                "granted": False,
                "wording": "¿Podemos enviarle mensajes de texto a este número sobre su consulta? Pueden "
                "aplicarse tarifas. Responda STOP para cancelar.",
                "source": "typeform:sms_consent",
            }
        },
        "external_ids": {"typeform": "r8e4w6q2t0y9u7i5o3p1a8s6d4f2g0h9"},
    },
    "jotform_referral": {
        "channel": "website_form",
        "first_name": "Marcus",
        "last_name": "O'Neill",
        "email": "marcus.oneill@example.com",
        "phone": "+17375550112",
        "language": "en",
        "intent": "referral_coordination",
        "text": "Referral from my doctor\nDr. Patel referred me for physical therapy after my "
        "shoulder surgery. I have the referral paperwork and can fax it.",
        "consent": {
            "sms": {
                "granted": True,
                "wording": "I agree to receive text messages from Hill Country Physical Therapy about my inquiry.",
                "source": "jotform:q8_smsConsent",
            }
        },
        "campaign": "referral_partners",
        "external_ids": {"jotform": "6012345678901234567"},
    },
    "jotform_clinical_es": {
        "channel": "website_form",
        "first_name": "María José",
        "last_name": "de la Cruz",
        "email": "mj.delacruz@example.net",
        "phone": "+15125550168",
        "language": "es",
        "intent": "clinical_question",
        "text": "Pregunta médica\nTengo dolor de espalda y hormigueo en la pierna desde hace "
        "dos semanas. ¿Debo ver a un médico primero?",
        "consent": {
            "sms": {
                "granted": True,
                "wording": "Acepto recibir mensajes de texto sobre mi consulta.",
                "source": "jotform:q8_smsConsent",
            }
        },
        "external_ids": {"jotform": "6012345678901299999"},
    },
    "calcom_booking_created": {
        "channel": "appointment_request",
        "first_name": "Priya",
        "last_name": "Raman",
        "email": "priya.raman@example.org",
        "phone": "+15125550145",
        "timezone": "America/Chicago",
        "language": "en",
        "intent": "ready_to_schedule",
        "text": "Schedule a visit\nPlantar fasciitis in my left foot for about a month.",
        "consent": {
            "sms": {
                "granted": True,
                "wording": "Text me appointment reminders and updates. Reply STOP to opt out.",
                "source": "calcom:smsConsent",
            }
        },
        "external_ids": {"calcom": "bkg_7Hq2kXy9PqZ3mN4r"},
    },
    "calcom_booking_cancelled": {
        "channel": "appointment_request",
        "first_name": "Jorge",
        "last_name": "Villalobos",
        "email": "jorge.villalobos@example.com",
        "timezone": "America/Chicago",
        "language": "es",
        "text": "Necesito cambiar la fecha, tengo trabajo ese día.",
        "external_ids": {"calcom": "bkg_Qw3Er5Ty7Ui9Op1A"},
    },
    "calcom_form_submitted_no_event": {
        "channel": "website_form",
        "first_name": "Elena",
        "last_name": "Petrova",
        "email": "elena.petrova@example.org",
        "phone": "+15125550176",
        "intent": "insurance_authorization",
        "text": "Insurance question\nDo you take Aetna? My doctor said I need a prior "
        "authorization for aquatic therapy.",
        "external_ids": {"calcom_form": "4821"},
    },
    "calendly_invitee_created": {
        "channel": "appointment_request",
        "first_name": "Rosa",
        "last_name": "Delgado Méndez",
        "email": "rosa.delgado@example.com",
        "phone": "+15125550157",
        "timezone": "America/Chicago",
        "language": "es",
        "intent": "ready_to_schedule",
        "text": "Quiero una cita\nMe duele el hombro cuando levanto el brazo.",
        "consent": {
            "sms": {
                "granted": True,
                "wording": "May we text you about your appointment?",
                "source": "calendly:questions_and_answers",
            }
        },
        "campaign": "es_radio_spring",
        "external_ids": {
            "calendly": "https://api.calendly.com/scheduled_events/7c6b5a49-3827-1605-f4e3-d2c1b0a9f8e7/"
            "invitees/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
        },
    },
    "calendly_routing_form_submission": {
        "channel": "website_form",
        "first_name": "Tomás",
        "last_name": "Herrera",
        "email": "tomas.herrera@example.net",
        "phone": "+15125550193",
        "language": "es",
        "intent": "insurance_authorization",
        "text": "Insurance or cost question\n¿Cubre Medicaid la evaluación? Mi hijo tiene 7 años.",
        "consent": {
            "sms": {
                "granted": False,
                "wording": "May we text you about your appointment?",
                "source": "calendly:questions_and_answers",
            }
        },
        "campaign": "medicaid_outreach",
        "external_ids": {
            "calendly": "https://api.calendly.com/routing_form_submissions/9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9"
        },
    },
    "standard_webhook_referral": load_payload("standard_webhook_referral"),
    "standard_webhook_clinical_es": load_payload("standard_webhook_clinical_es"),
}


def source_type_of(name: str) -> SourceType:
    return next(t for t in SourceType if name.startswith(t.value))


def test_every_sample_payload_has_an_expectation() -> None:
    assert {p.stem for p in PAYLOADS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_default_mapping_turns_the_sample_into_the_expected_inquiry(name: str) -> None:
    result = apply(default_source_mapping(source_type_of(name)), load_payload(name))
    assert result.errors == ()
    assert result.record() == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_hub_accepts_every_mapped_inquiry(name: str, config: HubConfig) -> None:
    record = apply(default_source_mapping(source_type_of(name)), load_payload(name)).record()
    inquiry = inquiry_from_json(record, config=config, received_at=T0, source=source_type_of(name).value)
    assert inquiry.email == record.get("email")


def test_sources_say_which_path_each_value_came_from() -> None:
    calendly = apply(default_source_mapping("calendly"), load_payload("calendly_routing_form_submission"))
    assert calendly.sources["email"] == "payload.questions_and_answers[question=Email].answer"
    calcom = apply(default_source_mapping("calcom"), load_payload("calcom_booking_created"))
    assert calcom.sources["phone"] == "payload.attendees[0].phoneNumber"
    assert "consent.sms.source" not in calcom.sources  # a constant has no path


def test_a_consent_wording_without_an_answer_is_dropped_not_sent_half_made() -> None:
    payload = load_payload("typeform_appointment_en")
    answers = payload["form_response"]["answers"]
    payload["form_response"]["answers"] = [a for a in answers if a["field"]["ref"] != "sms_consent"]
    result = apply(default_source_mapping("typeform"), payload)
    assert "consent" not in result.record()
    assert {"consent.sms.granted", "consent.sms.wording", "consent.sms.source"} <= set(result.absent)


def test_bad_values_become_field_errors_next_to_the_values_that_mapped() -> None:
    payload = load_payload("jotform_referral")
    payload["q5_phoneNumber"] = {"full": "(737) 555-01"}
    payload["q8_smsConsent"] = ["Maybe later"]
    result = apply(default_source_mapping("jotform"), payload)
    assert result.errors == (
        ("phone", "e164: not a valid phone number"),
        ("consent.sms.granted", "boolean: not a yes/no answer"),
    )
    assert result.values["email"] == "marcus.oneill@example.com"
    assert "phone" not in result.values
    assert "(737) 555-01" not in repr(result.errors)


def test_a_required_field_without_a_value_is_an_error() -> None:
    payload = load_payload("typeform_appointment_en")
    del payload["form_response"]["token"]
    result = apply(default_source_mapping("typeform"), payload)
    assert result.errors == (
        ("external_ids.typeform", "required, but there is no value (looked at form_response.token)"),
    )


def test_a_standard_webhook_body_with_wrong_types_is_refused_field_by_field() -> None:
    body = {"channel": "fax", "email": 12, "consent": {"sms": {"granted": "yes"}}, "phone": "+15125550101"}
    result = apply(default_source_mapping("standard_webhook"), body)
    assert {e.target for e in result.errors} == {"channel", "email", "consent.sms.granted"}
    assert result.record() == {"phone": "+15125550101"}


def test_hubspot_webhooks_have_no_default_source_mapping() -> None:
    with pytest.raises(KeyError):
        default_source_mapping("hubspot_webhook")
