"""The ``[web]`` configuration section: session idle time, the cookie-signing key's variable, single
sign-on (OIDC) settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from hub.accounts.users import Role
from hub.settings.config import flatten_errors
from nurture.errors import ConfigError

_ENV = validate.Regexp(r"^[A-Z][A-Z0-9_]*$", error="must be an environment variable name (A-Z, 0-9, _)")


class _OidcSchema(Schema):
    issuer = fields.Url(required=True, require_tld=False, schemes={"https", "http"})
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    client_secret_env = fields.String(load_default="NURTUREHUB_OIDC_CLIENT_SECRET", validate=_ENV)
    scopes = fields.List(
        fields.String(validate=validate.Length(min=1)), load_default=lambda: ["openid", "email", "profile"]
    )
    username_claim = fields.String(load_default="email", validate=validate.Length(min=1))
    role_claim = fields.String(load_default="groups", validate=validate.Length(min=1))
    roles = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1)),
        values=fields.Enum(Role, by_value=True),
        required=True,
        validate=validate.Length(min=1, error="map at least one claim value to a role"),
    )
    label = fields.String(load_default="Sign in with single sign-on", validate=validate.Length(min=1, max=80))


class _WebSchema(Schema):
    secure_cookies = fields.Boolean(load_default=True)
    session_idle_minutes = fields.Integer(load_default=30, validate=validate.Range(min=5, max=720))
    preview_events = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))
    oidc = fields.Nested(_OidcSchema, load_default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcSettings:
    """Single sign-on with an OpenID Connect provider.

    Attributes:
        issuer: the provider's issuer URL (its discovery document is ``<issuer>/.well-known/openid-configuration``).
        client_id: this app's client id at the provider.
        client_secret_env: the environment variable holding the client secret.
        scopes: scopes to ask for (``openid`` is needed).
        username_claim: the ID-token claim used as the user name (``email``, ``preferred_username``).
        role_claim: the claim carrying group or role names (a string or a list of strings).
        roles: claim value → role; the highest role matched wins; no match refuses the sign-in.
        label: the sign-in button's text.
    """

    issuer: str
    client_id: str
    client_secret_env: str
    scopes: tuple[str, ...]
    username_claim: str
    role_claim: str
    roles: Mapping[str, Role]
    label: str

    def __post_init__(self) -> None:
        if "openid" not in self.scopes:
            raise ValueError("web.oidc.scopes: must include 'openid'")

    def role_for(self, claims: Mapping[str, Any]) -> Role | None:
        """The highest role the ID token's role claim maps to, or None."""
        value = claims.get(self.role_claim)
        values: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
        found = [self.roles[str(v)] for v in values if v is not None and str(v) in self.roles]
        return max(found, key=lambda r: r.rank) if found else None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """The ``[web]`` section.

    Attributes:
        secure_cookies: send the session cookie over HTTPS only (turn off only for http://localhost).
        session_idle_minutes: sign out after this long without a request.
        preview_events: how many recent inbound events the mapping editor previews.
        oidc: single sign-on, when configured.
    """

    secure_cookies: bool = True
    session_idle_minutes: int = 30
    preview_events: int = 5
    oidc: OidcSettings | None = None

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)


def load_web_settings(raw: Mapping[str, Any]) -> WebSettings:
    """Validate the ``[web]`` section of the parsed TOML. Raises ConfigError listing every problem."""
    try:
        data = _WebSchema().load(dict(raw.get("web", {})))
    except ValidationError as exc:
        raise ConfigError([f"web.{p}" for p in flatten_errors(exc.messages)]) from None
    oidc = data["oidc"]
    try:
        settings = WebSettings(
            secure_cookies=data["secure_cookies"],
            session_idle_minutes=data["session_idle_minutes"],
            preview_events=data["preview_events"],
            oidc=None
            if oidc is None
            else OidcSettings(
                issuer=oidc["issuer"].rstrip("/"),
                client_id=oidc["client_id"],
                client_secret_env=oidc["client_secret_env"],
                scopes=tuple(oidc["scopes"]),
                username_claim=oidc["username_claim"],
                role_claim=oidc["role_claim"],
                roles=dict(oidc["roles"]),
                label=oidc["label"],
            ),
        )
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    return settings
