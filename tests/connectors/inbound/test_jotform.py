"""Jotform: no signature, a secret path token compared in constant time, a multipart body."""

from __future__ import annotations

import hashlib
import json

import pytest

from connectors.inbound import VerifiedEvent, WebhookRejected, verify
from connectors.inbound.jotform import encode_jotform_submission
from tests.connectors.inbound.helpers import (
    JOTFORM_ANSWERS,
    JOTFORM_BODY,
    JOTFORM_CONTENT_TYPE,
    JOTFORM_FIELDS,
    NOW,
    SECRETS,
    request,
    signed,
)

TOKEN = SECRETS["jotform"]


def post(body: bytes, content_type: str = JOTFORM_CONTENT_TYPE, token: str | None = TOKEN) -> VerifiedEvent:
    return verify("jotform", request({"Content-Type": content_type}, body, path_token=token), secret=TOKEN, now=NOW)


def rejection(body: bytes, content_type: str = JOTFORM_CONTENT_TYPE, token: str | None = TOKEN) -> tuple[str, int]:
    with pytest.raises(WebhookRejected) as excinfo:
        post(body, content_type, token)
    return excinfo.value.code, excinfo.value.status


def test_a_submission_with_the_right_token_is_parsed_with_raw_request_decoded() -> None:
    event = verify("jotform", signed("jotform"), secret=TOKEN, now=NOW)
    assert event.event_id == "5912345678901234567"
    assert event.event_type == "form_submission"
    assert event.occurred_at is None
    assert event.payload["formID"] == "241234567890123"
    assert event.payload["rawRequest"] == JOTFORM_ANSWERS


def test_every_top_level_field_is_kept_as_text() -> None:
    payload = post(JOTFORM_BODY).payload
    assert {k: v for k, v in payload.items() if k != "rawRequest"} == {
        k: v for k, v in JOTFORM_FIELDS.items() if k != "rawRequest"
    }


def test_a_wrong_path_token_is_rejected_before_the_body_is_read() -> None:
    assert rejection(b"not even multipart", "text/plain", token=TOKEN[:-1] + "x") == ("bad_path_token", 401)


def test_a_missing_path_token_is_rejected() -> None:
    assert rejection(JOTFORM_BODY, token=None) == ("bad_path_token", 401)


def test_a_path_token_with_non_ascii_characters_is_simply_wrong() -> None:
    assert rejection(JOTFORM_BODY, token="jf-tökén-2b9c7e1f0a6d4e8b") == ("bad_path_token", 401)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain", ""])
def test_a_body_that_is_not_multipart_form_data_is_unsupported_media(content_type: str) -> None:
    assert rejection(JOTFORM_BODY, content_type) == ("unsupported_media_type", 415)


def test_content_type_parameters_and_case_do_not_matter() -> None:
    ct = JOTFORM_CONTENT_TYPE.replace("multipart/form-data", "Multipart/Form-Data") + "; charset=utf-8"
    assert post(JOTFORM_BODY, ct).event_id == "5912345678901234567"


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        JOTFORM_BODY.replace(b"----jotformBoundary7MA4YWxk--", b""),  # truncated: no closing boundary
    ],
)
def test_a_broken_multipart_body_is_invalid(body: bytes) -> None:
    assert rejection(body) == ("invalid_body", 400)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary
        "multipart/form-data; 0*",  # makes the stdlib header parser raise IndexError
        "multipart/form-data; boundary=other",
        "multipart/form-data; boundary=x\r\nX-Injected: 1",
    ],
)
def test_a_multipart_content_type_that_does_not_fit_the_body_is_invalid(content_type: str) -> None:
    assert rejection(JOTFORM_BODY, content_type) == ("invalid_body", 400)


@pytest.mark.parametrize("raw", [None, "not json", "[1, 2]", '"text"'])
def test_a_missing_or_non_object_raw_request_is_invalid(raw: str | None) -> None:
    fields = {k: v for k, v in JOTFORM_FIELDS.items() if k != "rawRequest"}
    if raw is not None:
        fields["rawRequest"] = raw
    body, ct = encode_jotform_submission(fields)
    assert rejection(body, ct)[1] == 400


def test_a_field_value_that_is_not_utf8_is_invalid() -> None:
    body = JOTFORM_BODY.replace(b"New patient inquiry", b"New patient \xff inquiry")
    assert rejection(body) == ("invalid_body", 400)


def test_without_a_submission_id_the_event_id_is_the_body_digest() -> None:
    fields = {k: v for k, v in JOTFORM_FIELDS.items() if k != "submissionID"}
    body, ct = encode_jotform_submission(fields)
    assert post(body, ct).event_id == hashlib.sha256(b"jotform" + body).hexdigest()


def test_a_repeated_field_becomes_a_list_and_file_parts_are_skipped() -> None:
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="rawRequest"\r\n\r\n{json.dumps({"a": 1})}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="submissionID"\r\n\r\n77\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="tag"\r\n\r\none\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="tag"\r\n\r\ntwo\r\nlines\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="x.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    payload = post(body, f"multipart/form-data; boundary={boundary}").payload
    assert payload == {"rawRequest": {"a": 1}, "submissionID": "77", "tag": ["one", "two\r\nlines"]}


def test_a_short_configured_token_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        verify("jotform", signed("jotform"), secret="short", now=NOW)
