"""Who is calling: Flask-Login sessions for the browser, bearer tokens for scripts, and CSRF checks."""
from __future__ import annotations

import hmac
import secrets

from flask import abort, current_app, g, request, session
from flask_login import LoginManager, UserMixin, current_user

from apflow.errors import Forbidden, Unauthorized
from apflow.services import users


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
    return SessionUser(user) if user is not None else None


def init_app(app) -> None:
    login_manager.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf(submitted: str | None) -> None:
    expected = session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        abort(400, description="The form expired or was sent from another site. Reload the page and try again.")


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
