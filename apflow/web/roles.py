"""The Roles page and API (issue 17): managers see the built-in roles and their organisation's own, who holds each, add,
rename and remove their own roles and give them to or take them from their staff."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, ServiceError
from apflow.services import permissions, roles

from .api import json_body
from .auth import api_user, check_form_csrf, current_core

bp = Blueprint("roles", __name__)
api_bp = Blueprint("roles_api", __name__)


bp.before_request(check_form_csrf)


def _organisation_arg(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _page(organisation_id=None, values=None, errors=None, status=200):
    try:
        listing = roles.list_roles(current_core(), current_user.user, organisation_id)
    except ServiceError as err:
        return render_template("message.html", title="Not available", message=err.message), err.status
    return render_template("roles.html", listing=listing, values=values or {"carries": []}, errors=errors or {}), status


def _back(organisation_id):
    return redirect(url_for("roles.roles_page", organisation=organisation_id) if organisation_id else url_for("roles.roles_page"))


@bp.get("/roles")
@login_required
def roles_page():
    return _page(_organisation_arg(request.args.get("organisation")))


@bp.post("/roles")
@login_required
def add():
    organisation = _organisation_arg(request.form.get("organisation_id"))
    values = {"title": request.form.get("title", "").strip(), "carries": request.form.getlist("carries")}
    try:
        added = roles.create(current_core(), current_user.user, values["title"], values["carries"], organisation)
    except Invalid as err:
        flash(err.message, "error")
        return _page(organisation, values, err.details.get("fields", {}) if isinstance(err.details, dict) else {}, 422)
    except ServiceError as err:
        return render_template("message.html", title="Not available", message=err.message), err.status
    carried = ", ".join(c["title"] for c in added["carries"]) or "no built-in role's permissions"
    flash(f"The role {added['title']} was added, carrying {carried}. Lanes may now be named '{added['title']}'.")
    return _back(organisation)


def _act(organisation, action, done):
    try:
        result = action()
    except Invalid as err:
        flash(err.message, "error")
        return _page(organisation, status=422)
    except ServiceError as err:
        return render_template("message.html", title="Not available", message=err.message), err.status
    flash(done(result))
    return _back(organisation)


@bp.post("/roles/<int:role_id>/rename")
@login_required
def rename(role_id):
    organisation = _organisation_arg(request.form.get("organisation_id"))
    return _act(organisation, lambda: roles.rename(current_core(), current_user.user, role_id, request.form.get("title", "")),
                lambda r: f"The role is now called {r['title']}.")


@bp.post("/roles/<int:role_id>/delete")
@login_required
def delete(role_id):
    organisation = _organisation_arg(request.form.get("organisation_id"))
    return _act(organisation, lambda: roles.delete(current_core(), current_user.user, role_id), lambda r: f"The role {r['title']} was removed.")


@bp.post("/roles/<int:role_id>/members")
@login_required
def give(role_id):
    organisation = _organisation_arg(request.form.get("organisation_id"))
    person = _organisation_arg(request.form.get("user_id"))  # the page's list gives an id; a script may name a username
    return _act(organisation, lambda: roles.give(current_core(), current_user.user, role_id,
                                                 person if person is not None else request.form.get("username", "").strip()),
                lambda r: f"{r['title']} is now held by {', '.join(h['display_name'] for h in r['holders'])}.")


@bp.post("/roles/<int:role_id>/members/<int:user_id>/remove")
@login_required
def take(role_id, user_id):
    organisation = _organisation_arg(request.form.get("organisation_id"))
    return _act(organisation, lambda: roles.take(current_core(), current_user.user, role_id, user_id),
                lambda r: f"The role {r['title']} was taken away.")


# -- the JSON API ----------------------------------------------------------------------------------------------------

def _int(body: dict, name: str, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(f"`{name}` must be an id (a whole number).", {"fields": {name: ["Not a number."]}})
    return value


def _person(body: dict):
    """The member of staff a body names: `user_id` (a number) or `username`."""
    if body.get("user_id") is not None:
        return _int(body, "user_id")
    if isinstance(body.get("username"), str) and body["username"].strip():
        return body["username"].strip()
    raise Invalid("Name the member of staff: `username` (text) or `user_id` (a number).", {"fields": {"username": ["Required."]}})


@api_bp.get("/roles")
def list_roles():
    """Managers: the built-in roles and their organisation's custom roles, with who holds each."""
    return jsonify(roles.list_roles(current_core(), api_user(), _organisation_arg(request.args.get("organisation_id"))))


@api_bp.post("/roles")
def create_role():
    user = api_user()
    permissions.require(user, "roles.manage")  # before the body's checks: only managers learn what it should hold
    body = json_body()
    carries = body.get("carries", [])
    if not isinstance(carries, list) or not all(isinstance(c, str) for c in carries):
        raise Invalid("`carries` must be a list of built-in role keys or titles, e.g. [\"headteacher\"].", {"fields": {"carries": ["A list of roles."]}})
    return jsonify(roles.create(current_core(), user, str(body.get("title", "")), carries, _int(body, "organisation_id"))), 201


@api_bp.patch("/roles/<int:role_id>")
def rename_role(role_id):
    user = api_user()
    permissions.require(user, "roles.manage")
    body = json_body()
    return jsonify(roles.rename(current_core(), user, role_id, str(body.get("title", ""))))


@api_bp.delete("/roles/<int:role_id>")
def delete_role(role_id):
    roles.delete(current_core(), api_user(), role_id)
    return "", 204


@api_bp.post("/roles/<int:role_id>/members")
def give_role(role_id):
    user = api_user()
    permissions.require(user, "roles.manage")
    body = json_body()
    return jsonify(roles.give(current_core(), user, role_id, _person(body)))


@api_bp.delete("/roles/<int:role_id>/members/<int:user_id>")
def take_role(role_id, user_id):
    return jsonify(roles.take(current_core(), api_user(), role_id, user_id))
