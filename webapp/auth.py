"""Signing in and staying safe: the session cookie, server-side sessions, CSRF tokens, roles,
security headers, and optional OpenID Connect single sign-on.

- **Sessions.** Flask's signed cookie (``Secure`` unless ``[web] secure_cookies = false``,
  ``HttpOnly``, ``SameSite=Lax``, named ``__Host-nurturehub`` when secure) carries a random session
  token; the store keeps its SHA-256 with the account and the last request's time
  (:mod:`hub.accounts.users`). Signing in clears the cookie and issues a new token and a new CSRF secret.
  A session ends after ``session_idle_minutes`` (30) without a request.
- **CSRF.** Every form carries a token made for it: a random nonce and the HMAC-SHA256 of the
  nonce under the session's CSRF secret; a POST, PUT, PATCH or DELETE without a valid one (compared
  in constant time) is refused with 400, as is one whose ``Origin`` names another host. The webhook
  blueprint is exempt: it authenticates every request by its sender's signature.
- **Roles.** :func:`require` guards each view with the least role that may use it.
- **Headers.** A strict Content-Security-Policy (scripts and styles from this app only; forms may
  post here and to the configured CRMs' consent pages), no framing, no sniffing, no caching of
  signed-in pages.

The cookie-signing key comes from ``NURTUREHUB_SECRET_KEY`` (several comma-separated keys: the first
signs, the others still verify, so it rotates without signing anyone out); without it the demo keeps
one in the instance folder (:func:`hub.accounts.users.instance_secret_key`), and tests get a random one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.exceptions import BadRequest

from hub.accounts import sessions, users
from hub.accounts.users import Role, User
from hub.accounts.web_settings import WebSettings, load_web_settings
from hub.app.bootstrap import Hub
from webapp import current_hub

log = logging.getLogger(__name__)

__all__ = ["CsrfError", "bp", "configure", "csrf_token", "current_user", "init_app", "require", "web_settings"]

bp = Blueprint("auth", __name__)

#: Blueprints whose requests are authenticated otherwise (signatures) or need no session.
EXEMPT_BLUEPRINTS = frozenset({"webhooks", "health"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_TOKEN, _CSRF = "sid", "csrf"

F = TypeVar("F", bound=Callable[..., Any])


class CsrfError(BadRequest):
    description = "This form has expired or was not sent from this site. Reload the page and try again."


def web_settings() -> WebSettings:
    settings: WebSettings = current_app.extensions["nurturehub.web"]
    return settings


def current_user() -> User | None:
    """The signed-in account of this request, if any."""
    user: User | None = g.get("user")
    return user


def configure(app: Flask, hub: Hub, *, testing: bool = False, secret_key: str | None = None) -> None:
    """Session, cookie and security settings (before the caller's overrides are applied)."""
    settings = load_web_settings(hub.config.raw)
    app.extensions["nurturehub.web"] = settings
    # Several comma-separated keys rotate it without signing anyone out: the first signs, the others
    # are still accepted (Flask's SECRET_KEY_FALLBACKS) until they are dropped (docs/operations.md).
    keys = [k.strip() for k in (hub.secret(users.ENV_SECRET_KEY) or "").split(",") if k.strip()]
    key = (keys[0] if keys else None) or secret_key or (secrets.token_urlsafe(32) if testing else None)
    # Without a key, the demo's key file is read (or made) when a session is first needed.
    app.extensions["nurturehub.instance"] = hub.config.instance_path
    app.session_interface = _Sessions()
    secure = settings.secure_cookies
    app.config.update(
        SECRET_KEY=key,
        SECRET_KEY_FALLBACKS=keys[1:],
        SESSION_COOKIE_NAME="__Host-nurturehub" if secure else "nurturehub",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=sessions.ABSOLUTE_LIFETIME,
    )


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that without ``NURTUREHUB_SECRET_KEY`` the instance
    folder's key is used, read or made only when a session cookie is first read or written (webhook
    and health requests never carry or set one)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        _ensure_key(app)
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session:
            _ensure_key(app)
        super().save_session(app, session, response)


def _ensure_key(app: Flask) -> None:
    if not app.secret_key:
        log.warning("NURTUREHUB_SECRET_KEY is not set: using the key file in the instance folder (demo only)")
        app.secret_key = users.instance_secret_key(app.extensions["nurturehub.instance"])


def init_app(app: Flask, hub: Hub) -> None:
    """Register the sign-in blueprint, the request hooks and (when configured) single sign-on."""
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    app.register_error_handler(CsrfError, _csrf_refused)
    settings: WebSettings = app.extensions["nurturehub.web"]
    if settings.oidc is not None:
        from authlib.integrations.flask_client import OAuth

        oauth = OAuth(app)
        oauth.register(
            name="sso",
            client_id=settings.oidc.client_id,
            client_secret=hub.secret(settings.oidc.client_secret_env),
            server_metadata_url=f"{settings.oidc.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": " ".join(settings.oidc.scopes)},
        )
        app.extensions["nurturehub.oauth"] = oauth
    origins = {"'self'"}
    for crm in hub.crm.values():
        parts = urlsplit(crm.authorize_url)
        if parts.scheme and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    app.extensions["nurturehub.form_action"] = " ".join(sorted(origins))
    app.register_blueprint(bp)


# --- request hooks --------------------------------------------------------------------------------


def _load_user() -> None:
    g.user = None
    g.session_expired = False
    if request.blueprint in EXEMPT_BLUEPRINTS or request.endpoint in (None, "static"):
        return
    token = session.get(_TOKEN)
    if not isinstance(token, str):
        return
    hub = current_hub()
    check = sessions.check_session(hub.store, token, now=hub.clock(), idle=web_settings().idle)
    if check.user is not None:
        g.user = check.user
        return
    session.pop(_TOKEN, None)
    g.session_expired = check.ended in ("expired", "inactive")


def _check_csrf() -> None:
    if request.method in _SAFE or request.blueprint in EXEMPT_BLUEPRINTS or request.endpoint is None:
        return
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        log.warning("refused a %s to %s from another origin", request.method, request.endpoint)
        raise CsrfError()
    token = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not _valid_token(token):
        log.warning("refused a %s to %s without a valid CSRF token", request.method, request.endpoint)
        raise CsrfError()


def _csrf_secret() -> str:
    secret = session.get(_CSRF)
    if not isinstance(secret, str):
        secret = secrets.token_urlsafe(32)
        session[_CSRF] = secret
    return secret


def _mac(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode("utf-8"), f"csrf|{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """A fresh token for one form (a nonce and its HMAC under the session's CSRF secret)."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(_csrf_secret(), nonce)}"


def _valid_token(token: str) -> bool:
    secret = session.get(_CSRF)
    nonce, _, mac = token.partition(".")
    if not isinstance(secret, str) or not nonce or not mac:
        return False
    return hmac.compare_digest(_mac(secret, nonce), mac)


def _security_headers(response: Response) -> Response:
    form_action = current_app.extensions.get("nurturehub.form_action", "'self'")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors 'none'; form-action {form_action}",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.blueprint not in EXEMPT_BLUEPRINTS and request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure and web_settings().secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_user": current_user(), "Role": Role}


def _csrf_refused(error: CsrfError) -> Any:
    if request.blueprint in EXEMPT_BLUEPRINTS:
        return {"error": "csrf", "detail": error.description}, 400
    if request.endpoint == "auth.sign_in":
        return _sign_in_page(error=error.description, status=400)
    return render_template("error.html", title="The form has expired", message=error.description), 400


# --- guarding views -------------------------------------------------------------------------------


def _wants_fragment() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _to_sign_in() -> Any:
    expired = bool(g.get("session_expired"))
    if _wants_fragment():
        message = "Your session has ended. Sign in again." if expired else "Sign in first."
        return Response(message, status=401, mimetype="text/plain")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.sign_in", next=target, expired="1" if expired else None), code=303)


def require(role: Role) -> Callable[[F], F]:
    """Let only signed-in accounts with at least ``role`` use the view."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _to_sign_in()
            if not user.can(role):
                log.info("account %d (%s) refused %s", user.id, user.role, request.endpoint)
                abort(403, description=f"Your role ({user.role}) cannot do this; it needs {role} or above.")
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a same-origin relative path, else None.

    Browsers read ``/\\evil``, ``/\t/evil`` (tabs and newlines are dropped) and ``//evil`` as another
    host, and some fold look-alike characters (``〱``, ``ｰ``) into ``/``; so the path must be ASCII,
    start with exactly one ``/``, and no backslash, whitespace or control character may appear in
    it, nor in its percent-decoded form. The app's own URLs are all like that.
    """
    if not target or len(target) > 2048 or not target.isascii():
        return None
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return None
        if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in form):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _safe_next(target: str | None) -> str:
    return safe_next(target) or url_for("home.index")


def _begin(user: User, *, method: str) -> None:
    """A new session (and CSRF secret) for a successful sign-in."""
    hub = current_hub()
    session.clear()
    session[_TOKEN] = sessions.start_session(hub.store, user, now=hub.clock(), method=method)
    session.permanent = True
    _csrf_secret()


# --- sign in and out ------------------------------------------------------------------------------

_REFUSED = {
    "credentials": ("The user name or password is not right.", 401),
    "throttled": (
        "Too many failed sign-ins from this address for now. Wait {retry_after} seconds and try again.",
        429,
    ),
    "busy": ("Sign-in is busy this moment. Wait {retry_after} second and try again.", 503),
    "inactive": ("This account is switched off. Ask an admin to switch it on.", 403),
}


def _sign_in_page(*, error: str | None = None, status: int = 200, username: str = "") -> Any:
    settings = web_settings()
    message = None
    if request.args.get("expired"):
        message = f"Your session ended after {settings.session_idle_minutes} minutes without activity. Sign in again."
    return (
        render_template(
            "sign_in.html",
            error=error,
            message=message,
            username=username,
            next=request.values.get("next", ""),
            sso_label=settings.oidc.label if settings.oidc else None,
        ),
        status,
    )


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return _sign_in_page()
    hub = current_hub()
    username = request.form.get("username", "")
    outcome = users.authenticate(
        hub.store, username, request.form.get("password", ""), now=hub.clock(), source=request.remote_addr or ""
    )
    if outcome.user is None:
        message, status = _REFUSED[outcome.refused or "credentials"]
        page = _sign_in_page(error=message.format(retry_after=outcome.retry_after), status=status, username=username)
        if outcome.refused in ("throttled", "busy"):
            return (*page, {"Retry-After": str(outcome.retry_after)})
        return page
    _begin(outcome.user, method="password")
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/sign-out")
def sign_out() -> Any:
    hub = current_hub()
    token = session.get(_TOKEN)
    if isinstance(token, str):
        sessions.end_session(hub.store, token, now=hub.clock())
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"), code=303)


@bp.get("/sign-in/sso")
def sso_start() -> Any:
    oauth = current_app.extensions.get("nurturehub.oauth")
    if oauth is None:
        abort(404)
    return oauth.sso.authorize_redirect(url_for("auth.sso_callback", _external=True))


@bp.get("/sign-in/sso/callback")
def sso_callback() -> Any:
    from authlib.integrations.base_client import OAuthError

    oauth = current_app.extensions.get("nurturehub.oauth")
    settings = web_settings().oidc
    if oauth is None or settings is None:
        abort(404)
    try:
        token = oauth.sso.authorize_access_token()
    except OAuthError as exc:
        log.warning("single sign-on failed: %s", exc.error)
        return _sign_in_page(error="Single sign-on did not complete. Try again.", status=401)
    claims = token.get("userinfo") or {}
    role = settings.role_for(claims)
    username = claims.get(settings.username_claim)
    if role is None or not isinstance(username, str) or not claims.get("sub"):
        log.warning("single sign-on refused: no role or user name in the ID token")
        return _sign_in_page(error="Your account has no nurturehub role. Ask an admin to grant one.", status=403)
    hub = current_hub()
    outcome = users.sso_sign_in(
        hub.store,
        subject=f"{settings.issuer}|{claims['sub']}",
        username=username,
        display_name=str(claims.get("name") or ""),
        role=role,
        now=hub.clock(),
    )
    if outcome.user is None:
        message, status = _REFUSED[outcome.refused or "credentials"]
        if outcome.refused == "credentials":
            message = "A local account already uses this name; ask an admin to rename it."
        return _sign_in_page(error=message, status=status)
    _begin(outcome.user, method="sso")
    return redirect(url_for("home.index"), code=303)
