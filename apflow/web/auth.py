"""Who is calling: Flask-Login sessions for the browser, bearer tokens for scripts, and CSRF checks.

A browser session carries the person's session epoch from sign-in; signing out, a password change or a disabled
account moves the epoch on, and every session still holding the old one stops working. Sign-ins (the login page
and POST /api/v1/tokens) go through the limits of throttle.py before a password is checked."""
from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, abort, current_app, g, jsonify, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user

from apflow.errors import Forbidden, TooManyAttempts, Unauthorized
from apflow.services import users

from .throttle import Refused, SignInLimits


class SessionUser(UserMixin):
    def __init__(self, user):
        self.user = user
        self.id = user.id

    def get_id(self):
        return str(self.user.id)


login_manager = LoginManager()
login_manager.login_view = "pages.login"
login_manager.login_message = "Please sign in to continue."


def current_core():
    return current_app.extensions["apflow"]


@login_manager.user_loader
def _load_user(user_id: str):
    user = users.active_user(current_core(), int(user_id)) if user_id.isdigit() else None
    if user is None or session.get("epoch") != user.session_epoch:
        return None  # signed out elsewhere, password changed, or disabled since this session began
    return SessionUser(user)


def init_app(app) -> None:
    login_manager.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.extensions["apflow_sign_in_limits"] = SignInLimits()
    app.after_request(_retry_after)


def _retry_after(response):
    if response.status_code == 429 and g.get("retry_after"):
        response.headers["Retry-After"] = str(g.retry_after)
    return response


def _limited(username: str, sign_in):
    """sign_in() within the sign-in limits: refused at once (429, Retry-After) when over one, before any password check."""
    limits, address = current_app.extensions["apflow_sign_in_limits"], request.remote_addr or "unknown"
    try:
        attempt = limits.begin(address, username)
    except Refused as refused:
        g.retry_after = refused.retry_after
        raise TooManyAttempts(refused.message, {"retry_after": refused.retry_after}) from None
    result = sign_in()
    limits.succeeded(attempt, address, username)
    return result


def sign_in(username: str, password: str):
    """Check the credentials (within the limits) and start a browser session for the person."""
    user = _limited(username, lambda: users.sign_in(current_core(), username, password))
    login_user(SessionUser(user))
    keep_session(user.session_epoch)
    return user


def sign_in_for_token(username: str, password: str) -> str:
    """A new API token for these credentials, within the sign-in limits."""
    return _limited(username, lambda: users.sign_in_for_token(current_core(), username, password))


def keep_session(epoch: int) -> None:
    """This browser's session belongs to the person's current epoch (after signing in or changing the password)."""
    session["epoch"] = epoch


def sign_out(everywhere: bool = False) -> int:
    """End every browser session of the signed-in person (and with everywhere, their API tokens); tokens revoked."""
    revoked = users.sign_out(current_core(), current_user.user.id, everywhere) if current_user.is_authenticated else 0
    session.pop("epoch", None)
    return revoked


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf(submitted: str | None) -> None:
    expected = session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        abort(400, description="The form expired or was sent from another site. Reload the page and try again.")


def check_form_csrf() -> None:
    """A page blueprint's before-request hook (`bp.before_request(check_form_csrf)`): every form post carries the
    session's CSRF token."""
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))


def api_user():
    """The calling user for an API request: bearer token, else the browser session (with CSRF on writes)."""
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    user = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'; get a token from POST /api/v1/tokens.")
        user = users.user_for_token(current_core(), token.strip())
        if user is None:
            raise Unauthorized("The token is unknown, revoked or expired; get a new one from POST /api/v1/tokens.")
        g.api_token = token.strip()
    elif current_user.is_authenticated:
        if request.method not in {"GET", "HEAD", "OPTIONS"}:
            submitted = request.headers.get("X-CSRF-Token")
            expected = session.get("csrf")
            if not expected or not submitted or not hmac.compare_digest(expected, submitted):
                raise Forbidden("Browser-session requests that change data need the X-CSRF-Token header.")
        user = current_user.user
    else:
        raise Unauthorized("Sign in, or send 'Authorization: Bearer <token>' (POST /api/v1/tokens gives one).")
    g.api_user = user
    return user


# -- ending tokens and sessions through the API ---------------------------------------------------

api_bp = Blueprint("tokens", __name__)


@api_bp.delete("/tokens/current")
def revoke_current_token():
    """Sign a script out: the bearer token of this request stops working."""
    api_user()
    if "api_token" not in g:
        raise Unauthorized("Send the token to revoke as 'Authorization: Bearer <token>'.")
    users.revoke_token(current_core(), g.api_token)
    return jsonify({"revoked": 1})


@api_bp.delete("/tokens")
def sign_out_everywhere():
    """Sign out everywhere: every API token of the caller is revoked and every browser session of theirs ends."""
    user = api_user()
    return jsonify({"revoked": users.sign_out(current_core(), user.id, everywhere=True)})
