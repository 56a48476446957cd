"""Safeguarding pages and API (R80, R81, R92, R111): raise a concern, the DSL's open concerns, a child's
child-protection file with its grants, read log and export, and emergency removal."""
from __future__ import annotations

import json
import secrets
from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.services import permissions, safeguarding

from .auth import api_user, check_form_csrf, current_core
from .downloads import attachment

bp = Blueprint("safeguarding", __name__)
api_bp = Blueprint("safeguarding_api", __name__)
MAX_ATTACHMENTS = 5


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.app_context_processor
def _links():
    """What the safeguarding partial offers on a placement, pupil or task page."""
    def safeguarding_links(instance_id=None, pupil_ref=None) -> dict:
        if not current_user.is_authenticated:
            return {}
        core, user = current_core(), _user()
        placement_id = safeguarding.placement_of_instance(core, user, instance_id) if instance_id else None
        return {"raise": placement_id is not None, "instance_id": instance_id, "pupil_ref": pupil_ref,
                "file": bool(pupil_ref) and safeguarding.may_read_file(core, user, pupil_ref),
                "remove": placement_id is not None and bool(user.role_names & safeguarding.REMOVERS),
                "family": not permissions.staff_roles(user)}
    return {"safeguarding_links": safeguarding_links}


def _placement(instance_id: int) -> int:
    placement_id = safeguarding.placement_of_instance(current_core(), _user(), instance_id)
    if placement_id is None:
        raise NotFound(f"There is no placement {instance_id} that you can see.")
    return placement_id


# -- raising a concern -----------------------------------------------------------------------

@bp.route("/placements/<int:instance_id>/concern", methods=["GET", "POST"])
@login_required
def raise_page(instance_id):
    core, user = current_core(), _user()
    placement_id = _placement(instance_id)
    family = not permissions.staff_roles(user)
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("summary", "detail")}
        values["child_protection"] = request.form.get("child_protection") == "true"
        nonce = request.form.get("nonce", "")[:64]
        done = session.get("concerns_raised", {})
        if nonce and nonce in done:  # sent twice (a double tap, a resend): it was raised once
            return redirect(url_for("safeguarding.raised_page", instance_id=instance_id))
        files = [f for f in request.files.getlist("attachments") if f and f.filename][:MAX_ATTACHMENTS]
        try:
            raised = safeguarding.raise_concern(core, user, placement_id, values["summary"], values["detail"],
                                                child_protection=values["child_protection"] and not family)
            for upload in files:
                safeguarding.attach(core, user, raised["concern_id"], upload.filename, upload.mimetype, upload.read())
            if nonce:
                session["concerns_raised"] = {**dict(list(done.items())[-20:]), nonce: raised["concern_id"]}
            return redirect(url_for("safeguarding.raised_page", instance_id=instance_id))
        except Invalid as err:
            errors, status = err.details.get("fields", {}) or {"summary": [err.message]}, 422
            flash(err.message, "error")
    return render_template("safeguarding_raise.html", instance_id=instance_id, values=values, errors=errors, family=family,
                           nonce=secrets.token_urlsafe(16)), status


@bp.get("/placements/<int:instance_id>/concern/raised")
@login_required
def raised_page(instance_id):
    return render_template("message.html", title="The concern has been passed on",
                           message="Thank you. The designated safeguarding lead has been told and will act on it now. "
                                   "If a child is in immediate danger, call 999.")


@api_bp.post("/placements/<int:placement_id>/concerns")
def raise_api(placement_id):
    user = api_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"summary": "...", "detail": "...", "child_protection": false}.')
    raised = safeguarding.raise_concern(current_core(), user, placement_id, str(body.get("summary", "")), str(body.get("detail", "")),
                                        child_protection=body.get("child_protection") is True and bool(permissions.staff_roles(user)))
    return jsonify({"concern_id": raised["concern_id"], "dsl_told": True}), 201


# -- the DSL's side ----------------------------------------------------------------------------

@bp.get("/concerns")
@login_required
def concerns_page():
    return render_template("safeguarding_concerns.html", concerns=safeguarding.open_concerns(current_core(), _user()))


@api_bp.get("/concerns")
def concerns_api():
    return jsonify({"concerns": safeguarding.open_concerns(current_core(), api_user())})


@bp.get("/pupils/<ref>/child-protection")
@login_required
def file_page(ref):
    return render_template("safeguarding_file.html", file=safeguarding.cp_file(current_core(), _user(), ref), errors={})


@api_bp.get("/pupils/<ref>/child-protection")
def file_api(ref):
    return jsonify(safeguarding.cp_file(current_core(), api_user(), ref))


def _export(user, ref):
    document = safeguarding.export_file(current_core(), user, ref)
    return attachment(json.dumps(document, indent=2, ensure_ascii=False), f"child-protection-{ref}-{date.today().isoformat()}.json",
                      "application/json", **{"Cache-Control": "no-store"})


@bp.get("/pupils/<ref>/child-protection/export")
@login_required
def export_page(ref):
    return _export(_user(), ref)


@api_bp.get("/pupils/<ref>/child-protection/export")
def export_api(ref):
    return _export(api_user(), ref)


def _expiry(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid("Give the end date as a date.", {"fields": {"expires_on": ["Use a date like 2026-03-31."]}}) from None


@bp.post("/pupils/<ref>/child-protection/grants")
@login_required
def grant_page(ref):
    core, user = current_core(), _user()
    file = safeguarding.cp_file(core, user, ref)
    try:
        granted = safeguarding.grant_cp_access(core, user, file["pupil"]["id"], request.form.get("username", ""), request.form.get("reason", ""),
                                               _expiry(request.form.get("expires_on", "")))
        flash(f"{granted['user']} can read this file until {granted['expires_at'][:10]}.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("safeguarding.file_page", ref=ref))


@bp.post("/pupils/<ref>/child-protection/grants/<int:grant_id>/revoke")
@login_required
def revoke_page(ref, grant_id):
    try:
        safeguarding.revoke_cp_access(current_core(), _user(), grant_id)
        flash("Access revoked.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("safeguarding.file_page", ref=ref))


@api_bp.post("/pupils/<ref>/child-protection/grants")
def grant_api(ref):
    user, core = api_user(), current_core()
    body = request.get_json(silent=True) or {}
    file = safeguarding.cp_file(core, user, ref)
    granted = safeguarding.grant_cp_access(core, user, file["pupil"]["id"], str(body.get("username", "")), str(body.get("reason", "")),
                                           _expiry(str(body.get("expires_on", ""))))
    return jsonify(granted), 201


@api_bp.delete("/child-protection/grants/<int:grant_id>")
def revoke_api(grant_id):
    safeguarding.revoke_cp_access(current_core(), api_user(), grant_id)
    return jsonify({"revoked": grant_id})


# -- emergency removal (R92) -------------------------------------------------------------------

@bp.post("/placements/<int:instance_id>/emergency-removal")
@login_required
def removal_page(instance_id):
    try:
        safeguarding.start_emergency_removal(current_core(), _user(), _placement(instance_id), request.form.get("reason", ""))
        flash("Emergency removal started: monitoring has stopped and the removal steps are in the inboxes now.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("inbox.placement_page", instance_id=instance_id))


@api_bp.post("/placements/<int:placement_id>/emergency-removal")
def removal_api(placement_id):
    body = request.get_json(silent=True) or {}
    return jsonify(safeguarding.start_emergency_removal(current_core(), api_user(), placement_id, str(body.get("reason", "")))), 201
