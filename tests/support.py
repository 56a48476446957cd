"""Helpers shared by tests (fixtures live in the conftest files): the test password and making a user."""
from __future__ import annotations

import re
import socket

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


def token_for(client, username: str) -> dict:
    """The Authorization header of a bearer token that username got through POST /api/v1/tokens."""
    response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
