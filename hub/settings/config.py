"""Configuration: one TOML file, validated at start-up with marshmallow, every problem reported at
once with its key. Secrets come only from the environment.

``load_config(path)`` returns a :class:`HubConfig`; ``path=None`` loads the embedded defaults
(``config.example.toml``, packaged as ``hub/settings/defaults.toml``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from nurture.cadence import Cadence, CadenceStep, StepAction, StepCondition, UrgentRules
from nurture.capacity import ServiceInfo
from nurture.clock import ClinicHours, DailyWindow, zone
from nurture.consent import ContactRules
from nurture.contact import InvalidContact, normalize_phone
from nurture.errors import ConfigError
from nurture.settings import ChannelSettings, NurtureSettings, Routing
from nurture.templates import PhiApproval, Template, TemplateCatalog, check_template
from nurture.triage import TriageRules, rule_from_entry, rules_from_config
from nurture.triage_rules import DEFAULT_RULES, exact
from nurture.vocab import Channel, ContactChannel, Intent, Need, TemplateKind
from nurture.wording import clinic_words

__all__ = ["HubConfig", "Location", "Service", "load_config"]

ENV_CONFIG = "NURTUREHUB_CONFIG"
ENV_DATABASE_URL = "NURTUREHUB_DATABASE_URL"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_SECRET_KEY = re.compile(
    r"(secret|secret_key|password|passwd|pwd|token|api_key|apikey|private_key|credential|credentials)$", re.IGNORECASE
)
#: Where each secret the config may name belongs, when the file has it in place of its variable.
_SECRET_HOMES = {
    "crm.salesforce.client_secret": "NURTUREHUB_SALESFORCE_CLIENT_SECRET",
    "crm.hubspot.client_secret": "NURTUREHUB_HUBSPOT_CLIENT_SECRET",
    "scheduling.fhir.credential": "NURTUREHUB_FHIR_CREDENTIAL",
    "scheduling.calcom.api_key": "NURTUREHUB_CALCOM_API_KEY",
    "web.oidc.client_secret": "NURTUREHUB_OIDC_CLIENT_SECRET",
    "web.secret_key": "NURTUREHUB_SECRET_KEY",
}
#: Environment variables that hold secrets whatever the config names (their values are masked).
FIXED_SECRET_ENVS = ("NURTUREHUB_DATA_KEY", "NURTUREHUB_SECRET_KEY", "NURTUREHUB_DATABASE_URL")
_DEFAULT_SECRET_ENVS = tuple(dict.fromkeys(_SECRET_HOMES.values()))


def parse_window(text: str) -> DailyWindow:
    """``"08:00-21:00"`` → DailyWindow. Raises ValueError with a readable message."""
    m = _WINDOW.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a window like '08:00-12:00'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    end = time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2)
    return DailyWindow(start=time(h1, m1), end=end)


def _valid_window(text: str) -> None:
    try:
        parse_window(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _valid_zone(name: str) -> None:
    try:
        zone(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _valid_phone(text: str) -> None:
    if text:
        try:
            normalize_phone(text)
        except InvalidContact as exc:
            raise ValidationError(str(exc)) from None


_IDENT = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="must be snake_case (a-z, 0-9, _)")
_LANG = validate.Regexp(r"^[a-z]{2}$", error="must be a two-letter language code")


class _Strict(Schema):
    """Unknown keys are errors (a typo must not be silently ignored)."""


class HoursSchema(_Strict):
    mon = fields.List(fields.String(validate=_valid_window), load_default=list)
    tue = fields.List(fields.String(validate=_valid_window), load_default=list)
    wed = fields.List(fields.String(validate=_valid_window), load_default=list)
    thu = fields.List(fields.String(validate=_valid_window), load_default=list)
    fri = fields.List(fields.String(validate=_valid_window), load_default=list)
    sat = fields.List(fields.String(validate=_valid_window), load_default=list)
    sun = fields.List(fields.String(validate=_valid_window), load_default=list)

    @validates_schema
    def _open_sometime(self, data: Mapping[str, Any], **_: Any) -> None:
        if not any(data.get(d) for d in WEEKDAYS):
            raise ValidationError("the clinic must be open at some time of the week", "mon")


class LocationSchema(_Strict):
    id = fields.String(required=True, validate=_IDENT)
    name = fields.String(required=True, validate=validate.Length(min=1))
    address = fields.String(load_default="")
    telehealth = fields.Boolean(load_default=False)
    timezone = fields.String(load_default=None, validate=_valid_zone)


class ServiceSchema(_Strict):
    id = fields.String(required=True, validate=_IDENT)
    name = fields.String(required=True, validate=validate.Length(min=1))
    requires_referral = fields.Boolean(load_default=False)
    requires_authorization = fields.Boolean(load_default=False)


class ClinicSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    timezone = fields.String(required=True, validate=_valid_zone)
    language = fields.String(load_default="en", validate=_LANG)
    callback_number = fields.String(load_default="", validate=_valid_phone)
    phone_region = fields.String(load_default="US", validate=validate.Regexp(r"^[A-Z]{2}$", error="must be like 'US'"))
    holidays = fields.List(fields.Date(), load_default=list)
    hours = fields.Nested(HoursSchema, required=True)
    locations = fields.List(fields.Nested(LocationSchema), load_default=list)
    services = fields.List(fields.Nested(ServiceSchema), load_default=list)


class RoutingSchema(_Strict):
    clinical_queue = fields.String(required=True, validate=validate.Length(min=1))
    insurance_queue = fields.String(required=True, validate=validate.Length(min=1))
    referral_queue = fields.String(required=True, validate=validate.Length(min=1))
    language_queues = fields.Dict(keys=fields.String(validate=_LANG), values=fields.String(), load_default=dict)


class ChannelSchema(_Strict):
    owner_queue = fields.String(required=True, validate=validate.Length(min=1))
    response_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=10080))
    first_response_template = fields.String(load_default="first_response")


class StepSchema(_Strict):
    key = fields.String(required=True, validate=_IDENT)
    label = fields.String(required=True, validate=validate.Length(min=1, max=80))
    day = fields.Integer(required=True, validate=validate.Range(min=0, max=90))
    action = fields.Enum(StepAction, by_value=True, required=True)
    template = fields.String(load_default="")
    when = fields.Enum(StepCondition, by_value=True, load_default=StepCondition.ALWAYS)
    different_time_of_day = fields.Boolean(load_default=False)


class CadenceSchema(_Strict):
    min_gap_minutes = fields.Integer(load_default=30, validate=validate.Range(min=0, max=24 * 60))
    text_delay_minutes = fields.Integer(load_default=10, validate=validate.Range(min=0, max=24 * 60))
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(min=1))


class ConsentSchema(_Strict):
    quiet_hours = fields.String(load_default="08:00-21:00", validate=_valid_window)
    state_quiet_hours = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error="must be a two-letter state code")),
        values=fields.String(validate=_valid_window),
        load_default=dict,
    )
    sms_per_day = fields.Integer(load_default=1, validate=validate.Range(min=0, max=10))
    sms_per_week = fields.Integer(load_default=3, validate=validate.Range(min=0, max=50))
    response_needs_consent = fields.List(fields.Enum(ContactChannel, by_value=True), load_default=lambda: ["sms"])


_PHRASES = fields.Dict(keys=fields.String(), values=fields.List(fields.String(validate=validate.Length(min=1))))


class TriageSchema(_Strict):
    use_builtin_keywords = fields.Boolean(load_default=True)
    keywords = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["red_flags", "intents", "needs"])),
        values=fields.Dict(keys=fields.String(validate=_LANG), values=_PHRASES),
        load_default=dict,
    )
    # Rules in the form of nurture/triage_rules.py; checked one by one when the config is built.
    rules = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw()), load_default=list)
    payers = fields.List(fields.String(validate=validate.Length(min=2, max=80)), load_default=list)


class UrgentSchema(_Strict):
    retry_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=240))
    attempts = fields.Integer(load_default=3, validate=validate.Range(min=1, max=10))
    escalate_after_minutes = fields.Integer(load_default=60, validate=validate.Range(min=5, max=24 * 60))
    escalation_queue = fields.String(load_default="Clinical Lead", validate=validate.Length(min=1, max=120))
    after_hours_queue = fields.String(load_default="After-hours Nurse Line", validate=validate.Length(min=1, max=120))
    template = fields.String(load_default="urgent_callback", validate=_IDENT)
    crisis_template = fields.String(load_default="crisis_callback", validate=_IDENT)


class PhiApprovalSchema(_Strict):
    by = fields.String(required=True, validate=validate.Length(min=1, max=200))
    at = fields.String(required=True, validate=validate.Length(min=1, max=40))
    words = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True)


class TemplateSchema(_Strict):
    id = fields.String(required=True, validate=_IDENT)
    kind = fields.Enum(TemplateKind, by_value=True, required=True)
    language = fields.String(required=True, validate=_LANG)
    subject = fields.String(load_default="")
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    phi_approval = fields.Nested(PhiApprovalSchema, load_default=None)


SOURCE_TYPES = ("standard_webhook", "typeform", "calcom", "calendly", "jotform", "hubspot_v3")
_ENV_NAME = validate.Regexp(r"^[A-Z][A-Z0-9_]*$", error="must be an environment variable name (A-Z, 0-9, _)")


class SourceSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(SOURCE_TYPES))
    channel = fields.Enum(Channel, by_value=True, required=True)
    secret_env = fields.String(required=True, validate=_ENV_NAME)
    mapping = fields.String(load_default="default", validate=validate.Length(min=1, max=64))
    tolerance_seconds = fields.Integer(load_default=300, validate=validate.Range(min=30, max=3600))
    enabled = fields.Boolean(load_default=True)


class InboxSchema(_Strict):
    retention_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=3650))
    max_body_kb = fields.Integer(load_default=256, validate=validate.Range(min=1, max=10240))
    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=100))


class JobsSchema(_Strict):
    lease_seconds = fields.Integer(load_default=300, validate=validate.Range(min=5, max=3600))
    worker_idle_seconds = fields.Float(load_default=0.25, validate=validate.Range(min=0.01, max=60))
    leader_poll_seconds = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=60))


class StoreSchema(_Strict):
    database_url = fields.String(load_default="")


class InstanceSchema(_Strict):
    path = fields.String(load_default="instance")


class ConfigSchema(_Strict):
    clinic = fields.Nested(ClinicSchema, required=True)
    routing = fields.Nested(RoutingSchema, required=True)
    channels = fields.Dict(keys=fields.Enum(Channel, by_value=True), values=fields.Nested(ChannelSchema), required=True)
    cadence = fields.Nested(CadenceSchema, required=True)
    consent = fields.Nested(ConsentSchema, load_default=lambda: ConsentSchema().load({}))
    triage = fields.Nested(TriageSchema, load_default=lambda: TriageSchema().load({}))
    urgent = fields.Nested(UrgentSchema, load_default=lambda: UrgentSchema().load({}))
    templates = fields.List(fields.Nested(TemplateSchema), required=True)
    store = fields.Nested(StoreSchema, load_default=lambda: StoreSchema().load({}))
    sources = fields.Dict(keys=fields.String(validate=_IDENT), values=fields.Nested(SourceSchema), load_default=dict)
    inbox = fields.Nested(InboxSchema, load_default=lambda: InboxSchema().load({}))
    jobs = fields.Nested(JobsSchema, load_default=lambda: JobsSchema().load({}))
    instance = fields.Nested(InstanceSchema, load_default=lambda: InstanceSchema().load({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    id: str
    name: str
    address: str
    telehealth: bool
    timezone: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    id: str
    name: str
    requires_referral: bool
    requires_authorization: bool

    @property
    def info(self) -> ServiceInfo:
        """What the capacity and preparation rules need to know of it."""
        return ServiceInfo(
            id=self.id, requires_referral=self.requires_referral, requires_authorization=self.requires_authorization
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One inbound source: a webhook endpoint at ``/webhooks/<name>``.

    Attributes:
        name: the endpoint's name (snake_case).
        type: the sender's scheme (standard_webhook, typeform, calcom, calendly, jotform, hubspot_v3).
        channel: the channel its inquiries belong to (owner queue, response target, template).
        secret_env: the environment variable holding its signing secret (or Jotform path token).
        mapping: the field mapping to use ("default" for the built-in one of its type).
        tolerance_seconds: how old (or early) a signed timestamp may be.
        enabled: a disabled source answers 404.
    """

    name: str
    type: str
    channel: Channel
    secret_env: str
    mapping: str
    tolerance_seconds: int
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JobsSettings:
    """Worker timing.

    Attributes:
        lease_seconds: how long a claimed outbox batch is reserved for its worker; after a crash
            the batch is sent again once this has passed (safely: every write is an upsert).
        worker_idle_seconds: how long a worker loop sleeps when it found nothing to do.
        leader_poll_seconds: how often every process tries to take (or keep) the scheduler lease.
    """

    lease_seconds: int
    worker_idle_seconds: float
    leader_poll_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxSettings:
    retention_days: int
    max_body_kb: int
    max_attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HubConfig:
    """The validated configuration.

    Attributes:
        settings: the domain's rules.
        locations, services: by id.
        phone_region: default region for phone numbers.
        database_url: SQLAlchemy URL; empty means SQLite in the instance folder.
        instance_path: the instance folder.
        source: where it was loaded from.
        raw: the parsed TOML, for sections later components validate themselves.
    """

    settings: NurtureSettings
    locations: Mapping[str, Location]
    services: Mapping[str, Service]
    phone_region: str
    database_url: str
    instance_path: Path
    source: str
    raw: Mapping[str, Any]
    sources: Mapping[str, Source]
    inbox: InboxSettings
    jobs: JobsSettings

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.instance_path / 'nurturehub.sqlite3').resolve()}"


def _triage_rules(cfg: Mapping[str, Any], clinic: Mapping[str, Any], problems: list[str]) -> TriageRules:
    """The built-in rules (unless turned off), the clinic's ``[[triage.rules]]`` and its payers,
    and the older ``[triage.keywords]`` form, each checked with its key named."""
    entries: list[Mapping[str, Any]] = list(DEFAULT_RULES) if cfg["use_builtin_keywords"] else []
    services = {s["id"] for s in clinic["services"]}
    valid_keys = {"red_flags": None, "intents": {i.value for i in Intent}, "needs": {n.value for n in Need}}
    for group, langs in cfg["keywords"].items():
        for lang, keys in langs.items():
            for name, phrases in keys.items():
                allowed = valid_keys[group]
                if allowed is not None and name not in allowed:
                    problems.append(
                        f"triage.keywords.{group}.{lang}.{name}: unknown; use one of {', '.join(sorted(allowed))}"
                    )
                    continue
                target = {"red_flags": {"red_flag": name},
                          "intents": {"intent": name}, "needs": {"need": name}}[group]  # fmt: skip
                entries.append({"lang": lang, "any": list(phrases), **target})
    for i, entry in enumerate(cfg["rules"]):
        service = entry.get("service")
        if service and service not in services:
            problems.append(f"triage.rules[{i}].service: no service has the id {service!r}")
            continue
        try:
            rule_from_entry(entry)
        except ValueError as exc:
            problems.append(f"triage.rules[{i}]: {exc}")
            continue
        entries.append(entry)
    if cfg["payers"]:
        payers = exact(cfg["payers"])
        entries.append({"lang": "en", "need": "insurance", "any": payers})
        entries.append(
            {"lang": "en", "intent": "insurance_authorization", "weight": 1, "any": payers, "negatable": False}
        )
        asks = ["take", "accept", "cover", "covered", "in network", "aceptan", "toman"]
        entries.append(
            {"lang": "en", "intent": "insurance_authorization", "weight": 3, "negatable": False, "near": [asks, payers]}
        )
    return rules_from_config(entries, clinic_language=clinic["language"])


def flatten_errors(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested error dict → ``key.path: message`` lines."""
    out: list[str] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "value" and prefix:  # fields.Dict nests value errors under "value"
                out += flatten_errors(value, prefix)
                continue
            if key == "key" and prefix:
                out += [f"{prefix} (key): {m}" for m in _flatten_leaf(value)]
                continue
            if key == "_schema":
                out += [f"{prefix or '(top level)'}: {m}" for m in _flatten_leaf(value)]
                continue
            part = f"[{key}]" if isinstance(key, int) else str(key)
            path = f"{prefix}{part}" if isinstance(key, int) else (f"{prefix}.{part}" if prefix else part)
            out += flatten_errors(value, path)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out += [f"{prefix}: {m}" for m in messages]
    else:
        out.append(f"{prefix}: {messages}")
    return out


def _flatten_leaf(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, Mapping):
        return [f"{k}: {v}" for k, v in value.items()]
    return [str(value)]


def _secrets_in(data: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, str) and value and _SECRET_KEY.search(str(key)) and not str(key).endswith("_env"):
                found.append(
                    f"{path}: secrets do not belong in the config file; put it in the environment variable "
                    f"{_secret_home(path)} (and name it with '{key}_env' if you choose another)"
                )
            elif path == "store.database_url" and isinstance(value, str) and url_password(value):
                found.append(
                    f"{path}: the URL carries a password, and secrets do not belong in the config file; "
                    f"set the whole URL in the environment variable {ENV_DATABASE_URL} instead"
                )
            found += _secrets_in(value, path)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += _secrets_in(item, f"{prefix}[{i}]")
    return found


def _secret_home(path: str) -> str:
    if path in _SECRET_HOMES:
        return _SECRET_HOMES[path]
    if path.startswith("sources."):
        return f"NURTUREHUB_SECRET_{path.split('.')[1].upper()}"
    return "NURTUREHUB_" + re.sub(r"[^A-Z0-9]+", "_", path.upper()).strip("_")


_URL_USERINFO = re.compile(r"^([\w+.-]+://[^:/@?#]*):([^@/?#]*)@")


def url_password(url: str) -> str:
    """The password in a database URL as written (percent-encoded, if it was), or ""."""
    match = _URL_USERINFO.match(url)
    return match.group(2) if match else ""


def printable_url(url: str) -> str:
    """``url`` as it may be printed or logged: the password replaced by ``***``, no query string
    (which may carry one too)."""
    return _URL_USERINFO.sub(r"\1:***@", url, count=1).split("?", 1)[0]


def secret_env_names(raw: Mapping[str, Any]) -> list[str]:
    """Every environment variable the configuration reads a secret from (named by a ``*_env`` key, or
    by default), and the hub's own."""
    names: list[str] = [*FIXED_SECRET_ENVS, *_DEFAULT_SECRET_ENVS]

    def walk(data: Any) -> None:
        if isinstance(data, Mapping):
            for key, value in data.items():
                if str(key).endswith("_env") and isinstance(value, str) and value:
                    names.append(value)
                walk(value)
        elif isinstance(data, list):
            for item in data:
                walk(item)

    walk(raw)
    return list(dict.fromkeys(names))


def register_environment_secrets(raw: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Register every secret the configuration reads from ``environ`` for masking in the logs (the
    names of those set are returned). A database URL's password is registered, not the whole URL."""
    from hub.app.logs import register_secret

    registered = []
    for name in secret_env_names(raw):
        value = environ.get(name)
        if not value:
            continue
        if name == ENV_DATABASE_URL:
            parts = [url_password(value), unquote(url_password(value))]
        elif name == "NURTUREHUB_DATA_KEY":
            parts = [value, *value.split(",")]
        else:
            parts = [value, value.strip()]
        for part in parts:
            register_secret(part)
        registered.append(name)
    store_url = raw.get("store", {}).get("database_url") if isinstance(raw.get("store"), Mapping) else None
    if isinstance(store_url, str) and url_password(store_url):
        register_secret(url_password(store_url))
        register_secret(unquote(url_password(store_url)))
    return registered


#: Top-level sections later components validate themselves (connectors, sources, web, jobs).
EXTENSION_SECTIONS = ("crm", "scheduling", "web", "demo")


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> HubConfig:
    """Load and validate the configuration.

    Args:
        path: a TOML file; None loads ``$NURTUREHUB_CONFIG`` if set, else the embedded defaults.
        environ: the environment (defaults to ``os.environ``).

    Raises:
        ConfigError: listing every problem, each with its key.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(ENV_CONFIG):
        path = env[ENV_CONFIG]
    if path is None:
        text = resources.files("hub.settings").joinpath("defaults.toml").read_text(encoding="utf-8")
        source = "embedded defaults"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"(file): cannot read {path}: {exc.strerror}"], source=str(path)) from None
        source = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"(syntax): {exc}"], source=source) from None
    register_environment_secrets(raw, env)  # masked in every log line from now on
    return parse_config(raw, source=source, environ=env)


def parse_config(
    raw: Mapping[str, Any], *, source: str = "configuration", environ: Mapping[str, str] | None = None
) -> HubConfig:
    """Validate already-parsed TOML. See :func:`load_config`."""
    env = os.environ if environ is None else environ
    problems = _secrets_in(raw)
    core = {k: v for k, v in raw.items() if k not in EXTENSION_SECTIONS}
    try:
        data = ConfigSchema().load(core)
    except ValidationError as exc:
        raise ConfigError(problems + flatten_errors(exc.messages), source=source) from None
    try:
        config = _build(data, raw, source=source, environ=env, problems=problems)
    except ValueError as exc:  # a domain type refused a value the schema let through
        raise ConfigError([*problems, str(exc)], source=source) from None
    if problems:
        raise ConfigError(problems, source=source)
    return config


def clinic_vocabulary(data: Mapping[str, Any]) -> frozenset[str]:
    """The clinic's own words (its name, locations, services, staff queues): never a person's name
    to the template guard."""
    clinic, routing = data["clinic"], data["routing"]
    names = [clinic["name"]]
    names += [f"{loc['name']} {loc['address']}" for loc in clinic["locations"]]
    names += [s["name"] for s in clinic["services"]]
    names += [routing["clinical_queue"], routing["insurance_queue"], routing["referral_queue"]]
    names += list(routing["language_queues"].values())
    names += [c["owner_queue"] for c in data["channels"].values()]
    return clinic_words(names)


def _build(
    data: Mapping[str, Any],
    raw: Mapping[str, Any],
    *,
    source: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> HubConfig:
    clinic = data["clinic"]
    hours = ClinicHours(
        timezone=clinic["timezone"],
        weekly={i: tuple(parse_window(w) for w in clinic["hours"][day]) for i, day in enumerate(WEEKDAYS)},
        holidays=frozenset(d for d in clinic["holidays"] if isinstance(d, date)),
    )
    templates: list[Template] = []
    for i, t in enumerate(data["templates"]):
        approval = t["phi_approval"]
        templates.append(
            Template(
                id=t["id"],
                kind=t["kind"],
                language=t["language"],
                body=t["body"],
                subject=t["subject"],
                phi_approval=PhiApproval(by=approval["by"], at=approval["at"], words=tuple(approval["words"]))
                if approval and approval["words"]
                else None,
            )
        )
        key = (t["id"], t["kind"], t["language"])
        if key in {(x.id, x.kind, x.language) for x in templates[:-1]}:
            problems.append(f"templates[{i}]: {t['id']}/{t['kind']}/{t['language']} is defined twice")
            templates.pop()
    catalog = TemplateCatalog(templates, fallback_language=clinic["language"], clinic=clinic_vocabulary(data))
    for index, template in enumerate(templates):
        for problem in check_template(template, clinic=catalog.clinic):
            problems.append(f"templates[{index}] ({problem.template}): {problem.message}")

    steps = []
    for i, s in enumerate(data["cadence"]["steps"]):
        try:
            steps.append(CadenceStep(**s))
        except ValueError as exc:
            problems.append(f"cadence.steps[{i}]: {exc}")
            continue
        if s["template"] and not catalog.has(s["template"]):
            problems.append(f"cadence.steps[{i}].template: no template has the id {s['template']!r}")
    try:
        cadence = Cadence(
            steps=tuple(steps),
            min_gap=timedelta(minutes=data["cadence"]["min_gap_minutes"]),
            text_delay=timedelta(minutes=data["cadence"]["text_delay_minutes"]),
        )
    except ValueError as exc:
        problems.append(f"cadence.steps: {exc}")
        cadence = Cadence(
            steps=(CadenceStep(key="day0_call", label="Day 0 call", day=0, action=StepAction.CALL, template="x"),)
        )

    channels: dict[Channel, ChannelSettings] = {}
    for channel, c in data["channels"].items():
        channels[channel] = ChannelSettings(channel=channel, **c)
        if not catalog.has(c["first_response_template"]):
            missing = c["first_response_template"]
            problems.append(f"channels.{channel}.first_response_template: no template has the id {missing!r}")
    if Channel.OTHER not in channels:
        problems.append("channels.other: required: the fallback channel for sources without one")
        channels[Channel.OTHER] = ChannelSettings(channel=Channel.OTHER, owner_queue="Front Desk", response_minutes=30)

    consent = data["consent"]
    contact = ContactRules(
        quiet_hours=parse_window(consent["quiet_hours"]),
        state_quiet_hours={k: parse_window(v) for k, v in consent["state_quiet_hours"].items()},
        sms_per_day=consent["sms_per_day"],
        sms_per_week=consent["sms_per_week"],
        response_needs_consent=frozenset(consent["response_needs_consent"]),
    )
    if consent["sms_per_week"] < consent["sms_per_day"]:
        problems.append("consent.sms_per_week: must be at least consent.sms_per_day")

    triage_rules = _triage_rules(data["triage"], clinic, problems)
    urgent_cfg = data["urgent"]
    urgent = UrgentRules(
        retry_minutes=urgent_cfg["retry_minutes"],
        attempts=urgent_cfg["attempts"],
        escalate_after_minutes=urgent_cfg["escalate_after_minutes"],
        escalation_queue=urgent_cfg["escalation_queue"],
        after_hours_queue=urgent_cfg["after_hours_queue"],
        template=urgent_cfg["template"],
        crisis_template=urgent_cfg["crisis_template"],
    )
    for name in ("template", "crisis_template"):
        if not catalog.has(urgent_cfg[name]):
            problems.append(f"urgent.{name}: no template has the id {urgent_cfg[name]!r}")

    routing_cfg = data["routing"]
    settings = NurtureSettings(
        clinic_name=clinic["name"],
        clinic_language=clinic["language"],
        hours=hours,
        channels=channels,
        routing=Routing(
            clinical_queue=routing_cfg["clinical_queue"],
            insurance_queue=routing_cfg["insurance_queue"],
            referral_queue=routing_cfg["referral_queue"],
            language_queues=dict(routing_cfg["language_queues"]),
        ),
        cadence=cadence,
        contact=contact,
        triage=triage_rules,
        urgent=urgent,
        templates=catalog,
        callback_number=normalize_phone(clinic["callback_number"], default_region=clinic["phone_region"])
        if clinic["callback_number"]
        else "",
    )
    locations = {
        loc["id"]: Location(
            id=loc["id"],
            name=loc["name"],
            address=loc["address"],
            telehealth=loc["telehealth"],
            timezone=loc["timezone"],
        )
        for loc in clinic["locations"]
    }
    services = {s["id"]: Service(**s) for s in clinic["services"]}
    for what, items in (("locations", clinic["locations"]), ("services", clinic["services"])):
        ids = [x["id"] for x in items]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"clinic.{what}: the id {dup!r} is used twice")
    return HubConfig(
        settings=settings,
        locations=locations,
        services=services,
        phone_region=clinic["phone_region"],
        database_url=environ.get(ENV_DATABASE_URL) or data["store"]["database_url"],
        instance_path=Path(data["instance"]["path"]),
        source=source,
        raw=raw,
        sources={name: Source(name=name, **values) for name, values in data["sources"].items()},
        inbox=InboxSettings(**data["inbox"]),
        jobs=JobsSettings(**data["jobs"]),
    )
