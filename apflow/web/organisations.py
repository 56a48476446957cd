"""Organisations page and API (issue 17): the schools, LAs and providers one installation serves. Managers of the
installation's own organisation add organisations; every manager puts the staff they manage into, and takes them out
of, their own organisations (never out of their last one)."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, ServiceError
from apflow.services import organisations

from .auth import api_user, check_form_csrf, current_core

bp = Blueprint("organisations", __name__)
api_bp = Blueprint("organisations_api", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


def _refused(err: ServiceError):
    return render_template("message.html", title="Not available", message=err.message), err.status


def _page(values=None, errors=None, status=200):
    try:
        listing = organisations.list_organisations(current_core(), _user())
    except ServiceError as err:
        return _refused(err)
    return render_template("organisations.html", listing=listing, values=values or {}, errors=errors or {}), status


@bp.get("/organisations")
@login_required
def organisations_page():
    return _page()


@bp.post("/organisations")
@login_required
def add():
    values = {k: request.form.get(k, "").strip() for k in ("name", "kind")}
    try:
        added = organisations.add_organisation(current_core(), _user(), values["name"], values["kind"])
    except Invalid as err:
        flash(err.message, "error")
        return _page(values, err.details.get("fields", {}) if isinstance(err.details, dict) else {}, 422)
    except ServiceError as err:
        return _refused(err)
    flash(f"{added['name']} was added. Give it its first manager with `apflow users create NAME --role manager "
          f"--organisation \"{added['name']}\"`, or add yourself or a colleague to it from its members page.")
    return redirect(url_for("organisations.organisations_page"))


def _members_page(organisation_id: int, status=200):
    try:
        found = organisations.members(current_core(), _user(), organisation_id)
    except ServiceError as err:
        return _refused(err)
    return render_template("organisation_members.html", organisation=found, me=_user().id), status


@bp.get("/organisations/<int:organisation_id>")
@login_required
def members_page(organisation_id):
    return _members_page(organisation_id)


def _member_action(organisation_id: int, action, done):
    user_id = request.form.get("user_id", "")
    try:
        changed = action(current_core(), _user(), organisation_id, int(user_id) if user_id.isdigit() else None)
    except Invalid as err:
        flash(err.message, "error")
        return _members_page(organisation_id, 422)
    except ServiceError as err:
        return _refused(err)
    flash(done(changed))
    return redirect(url_for("organisations.members_page", organisation_id=organisation_id))


@bp.post("/organisations/<int:organisation_id>/members")
@login_required
def add_member(organisation_id):
    return _member_action(organisation_id, organisations.add_member,
                          lambda c: f"They are now a member of {c['organisation']['name']}.")


@bp.post("/organisations/<int:organisation_id>/members/remove")
@login_required
def remove_member(organisation_id):
    return _member_action(organisation_id, organisations.remove_member,
                          lambda c: f"They are no longer a member of {c['organisation']['name']}.")


# -- the JSON API ---------------------------------------------------------------------------------------------------

def _body() -> dict:
    """The JSON object sent (an empty one otherwise: the service says what is missing, after checking who asks)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@api_bp.get("/organisations")
def list_api():
    return jsonify(organisations.list_organisations(current_core(), api_user()))


@api_bp.post("/organisations")
def add_api():
    user, body = api_user(), _body()
    return jsonify(organisations.add_organisation(current_core(), user, body.get("name"), body.get("kind"))), 201


@api_bp.get("/organisations/<int:organisation_id>/members")
def members_api(organisation_id):
    return jsonify(organisations.members(current_core(), api_user(), organisation_id))


@api_bp.post("/organisations/<int:organisation_id>/members")
def add_member_api(organisation_id):
    user = api_user()
    return jsonify(organisations.add_member(current_core(), user, organisation_id, _body().get("user_id")))


@api_bp.delete("/organisations/<int:organisation_id>/members/<int:user_id>")
def remove_member_api(organisation_id, user_id):
    return jsonify(organisations.remove_member(current_core(), api_user(), organisation_id, user_id))
