"""``nurturehub send-test-event``: sign a realistic sample payload as the source's sender would, and
post it to a running hub, so an admin can check a source end to end."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import requests

from connectors.inbound import sign_request
from connectors.inbound.jotform import encode_jotform_submission
from hub.settings.config import HubConfig
from nurture.clock import as_utc
from nurture.errors import ConfigError

__all__ = ["SAMPLES", "sample_payload", "send_test_event"]

#: The sample each source type sends by default (in ``mapping/samples/``).
SAMPLES = {
    "typeform": "typeform_appointment_en.json",
    "jotform": "jotform_referral.json",
    "calcom": "calcom_booking_created.json",
    "calendly": "calendly_invitee_created.json",
    "standard_webhook": "standard_webhook_referral.json",
}


def sample_payload(source_type: str) -> bytes:
    name = SAMPLES.get(source_type)
    if name is None:
        raise ConfigError([f"there is no sample payload for {source_type} sources; pass --file"])
    return resources.files("mapping").joinpath("samples", name).read_bytes()


def send_test_event(
    config: HubConfig,
    source: str,
    *,
    url: str,
    payload_file: str | None = None,
    environ: dict[str, str] | None = None,
) -> requests.Response:
    """Sign and post one payload to ``<url>/webhooks/<source>``."""
    from datetime import UTC, datetime

    env = dict(os.environ) if environ is None else environ
    src = config.sources.get(source)
    if src is None:
        raise ConfigError([f"sources.{source}: no such source; known: {', '.join(sorted(config.sources))}"])
    secret = env.get(src.secret_env)
    if not secret:
        raise ConfigError([f"sources.{source}.secret_env: {src.secret_env} is not set in this environment"])
    body = Path(payload_file).read_bytes() if payload_file else sample_payload(src.type)
    endpoint = f"{url.rstrip('/')}/webhooks/{source}"
    session = requests.Session()
    session.trust_env = False
    if src.type == "jotform":
        raw = json.loads(body)
        submission = str(raw.pop("submissionID", "test-submission"))
        form, content_type = encode_jotform_submission(
            {"formID": "test-form", "submissionID": submission, "rawRequest": json.dumps(raw)}
        )
        return session.post(f"{endpoint}/{secret}", data=form, headers={"Content-Type": content_type}, timeout=15)
    headers = sign_request(src.type, body, secret=secret, now=as_utc(datetime.now(UTC)), url=endpoint)
    return session.post(endpoint, data=body, headers={"Content-Type": "application/json", **headers}, timeout=15)
