"""Staff pages: a manager adds, invites, changes the roles of, disables and enables the staff of their organisations;
and the page where invited staff choose their password."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, ServiceError
from apflow.services import people

from .auth import check_form_csrf, current_core

bp = Blueprint("people", __name__)
FIELDS = ("username", "display_name", "email", "organisation_id")


bp.before_request(check_form_csrf)


def _refused(err: ServiceError):
    return render_template("message.html", title="Not available", message=err.message), err.status


def _page(values=None, errors=None, status=200, editing=None, role_values=None, role_errors=None):
    try:
        listing = people.list_staff(current_core(), current_user.user)
    except ServiceError as err:
        return _refused(err)
    return render_template("people.html", listing=listing, me=current_user.user.id, values=values or {"roles": []}, errors=errors or {},
                           editing=editing, role_values=role_values or [], role_errors=role_errors or []), status


@bp.get("/people")
@login_required
def people_page():
    return _page()


@bp.post("/people")
@login_required
def add():
    values = {k: request.form.get(k, "").strip() for k in FIELDS}
    values["roles"] = request.form.getlist("roles")
    organisation = int(values["organisation_id"]) if values["organisation_id"].isdigit() else None
    try:
        added = people.add_staff(current_core(), current_user.user, values["username"], values["display_name"], values["email"],
                                 values["roles"], organisation)
    except Invalid as err:
        flash(err.message, "error")
        return _page(values=values, errors=err.details.get("fields", {}), status=422)
    except ServiceError as err:
        return _refused(err)
    flash(f"{added['display_name']} was added with the username {added['username']}. An invitation to choose a password was "
          f"e-mailed to {added['email']}; the link works for {people.INVITE_DAYS} days.")
    return redirect(url_for("people.people_page"))


@bp.post("/people/<int:user_id>/roles")
@login_required
def change_roles(user_id):
    roles = request.form.getlist("roles")
    try:
        changed = people.set_roles(current_core(), current_user.user, user_id, roles)
    except Invalid as err:
        flash(err.message, "error")
        return _page(status=422, editing=user_id, role_values=roles, role_errors=err.details.get("fields", {}).get("roles", [err.message]))
    except ServiceError as err:
        return _refused(err)
    flash(f"{changed['display_name']}'s roles are now: {', '.join(r['title'] for r in changed['roles'])}.")
    return redirect(url_for("people.people_page"))


def _act(user_id: int, action, done):
    try:
        changed = action(current_core(), current_user.user, user_id)
    except Invalid as err:
        flash(err.message, "error")
        return _page(status=422)
    except ServiceError as err:
        return _refused(err)
    flash(done(changed))
    return redirect(url_for("people.people_page"))


@bp.post("/people/<int:user_id>/disable")
@login_required
def disable(user_id):
    def done(p):
        held = f" The {p['tasks_released']} task(s) they held are back with their role for a colleague to pick up." if p["tasks_released"] else ""
        return f"{p['display_name']} can no longer sign in.{held}"
    return _act(user_id, people.disable, done)


@bp.post("/people/<int:user_id>/enable")
@login_required
def enable(user_id):
    return _act(user_id, people.enable, lambda p: f"{p['display_name']} can sign in again.")


@bp.post("/people/<int:user_id>/invite")
@login_required
def invite(user_id):
    return _act(user_id, people.resend_invitation, lambda p: f"A new invitation was e-mailed to {p['email']}; any earlier link no longer works.")


@bp.route("/welcome/staff/<token>", methods=["GET", "POST"])
def welcome(token):
    """An invited member of staff chooses their password from the link in their e-mail (the link works once)."""
    errors, status = {}, 200
    if request.method == "POST":
        try:
            username = people.accept_invitation(current_core(), token[:100], request.form.get("password", ""), request.form.get("confirm", ""))
            flash(f"Your password is set. Sign in with your username, {username}.")
            return redirect(url_for("pages.login"))
        except ServiceError as err:
            if err.status == 404:
                return _lapsed()
            errors, status = err.details.get("fields") or {"password": [err.message]}, err.status
    elif not people.invitation_valid(current_core(), token[:100]):
        return _lapsed()
    return render_template("welcome_staff.html", errors=errors), status


def _lapsed():
    return render_template("message.html", title="This link no longer works",
                           message="It has been used or has lapsed. Ask your manager to send a new invitation."), 404
