"""Helpers shared by tests (fixtures live in the conftest files): the test password and making a user."""
from __future__ import annotations

import re

from apflow.config import ROOT
from apflow.services import users

PASSWORD = "correct horse battery"


def make_user(core, username: str, *roles: str, organisations: list[str] | None = None):
    """A user with these roles and PASSWORD, committed; in the named organisations, else the installation's own."""
    with core.db.session() as s:
        return users.add_user(s, username, PASSWORD, list(roles), organisations=organisations)


def browser(app, username: str):
    """A Flask test client signed in as username through the login page, carrying its CSRF token."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    client.csrf = token
    return client


def post(client, path: str, data=None, **kwargs):
    """A form post from a signed-in test client, with its CSRF token."""
    return client.post(path, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


SHOTS = ROOT / "docs" / "screenshots"  # the browser tests save the README's screenshots here


def sign_in(page, base: str, username: str) -> None:
    """Sign in through the login page in a Playwright page."""
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
