"""A provider's compliance documents (R25, issue 16): the page where the commissioning side keeps them and the provider's
staff upload renewals, the download of an uploaded file, and the JSON API. The provider's page shows a summary."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.services import compliance

from .auth import api_user, check_form_csrf, current_core
from .downloads import attachment

bp = Blueprint("compliance", __name__)
api_bp = Blueprint("compliance_api", __name__)
FIELDS = ("kind", "site_id", "title", "reference", "issued_on", "expires_on", "notes")


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.app_context_processor
def _compliance_helpers():
    """The provider page's compliance summary and the renewal task's context, for templates."""
    def provider_compliance(provider_id):
        if not current_user.is_authenticated or provider_id is None:
            return None
        try:
            return compliance.overview(current_core(), _user(), int(provider_id))
        except NotFound:
            return None

    def compliance_task_context(task_id):
        if not current_user.is_authenticated or not task_id:
            return None
        return compliance.for_task(current_core(), _user(), task_id)
    return {"provider_compliance": provider_compliance, "compliance_task_context": compliance_task_context}


def _upload():
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return None
    return sent.filename, sent.mimetype or "", sent.read()


@bp.route("/providers/<int:provider_id>/compliance", methods=["GET", "POST"])
@login_required
def page(provider_id):
    core, user = current_core(), _user()
    found = compliance.overview(core, user, provider_id)  # first: NotFound for anyone who may not see them
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in FIELDS}
        try:
            saved = compliance.record(core, user, provider_id, values, _upload())
            flash(f"{saved['label']} recorded: {saved['state_words'].lower()}." if saved["status"] == "accepted"
                  else f"{saved['label']} sent to the school to accept.")
            return redirect(url_for("compliance.page", provider_id=provider_id))
        except Invalid as err:
            flash(err.message, "error")
            errors, status = err.details.get("fields", {}) if isinstance(err.details, dict) else {}, 422
        except Forbidden as err:
            flash(err.message, "error")
            status = 403
        found = compliance.overview(core, user, provider_id)
    return render_template("compliance_provider.html", c=found, values=values, errors=errors), status


@bp.post("/providers/<int:provider_id>/compliance/<int:compliance_id>/decision")
@login_required
def decision(provider_id, compliance_id):
    try:
        decided = compliance.decide(current_core(), _user(), provider_id, compliance_id, request.form.get("decision", ""),
                                    request.form.get("notes", ""))
        flash(f"{decided['label']}: {decided['state_words'].lower()}." if decided["status"] == "accepted"
              else f"{decided['label']} not accepted; the provider's staff are told why.")
    except (Invalid, Forbidden) as err:
        flash(err.message, "error")
        found = compliance.overview(current_core(), _user(), provider_id)
        errors = {f"decision-{compliance_id}": err.details.get("fields", {}).get("notes") or [err.message]} if isinstance(err, Invalid) else {}
        return render_template("compliance_provider.html", c=found, values={}, errors=errors), 422 if isinstance(err, Invalid) else 403
    return redirect(url_for("compliance.page", provider_id=provider_id))


@bp.get("/providers/<int:provider_id>/compliance/<int:compliance_id>/file")
@login_required
def download(provider_id, compliance_id):
    found = compliance.file(current_core(), _user(), provider_id, compliance_id)
    return attachment(found.content, found.filename, found.content_type)


# -- the JSON API --------------------------------------------------------------------------------------------------

@api_bp.get("/providers/<int:provider_id>/compliance")
def overview_api(provider_id):
    return jsonify(compliance.overview(current_core(), api_user(), provider_id))


@api_bp.post("/providers/<int:provider_id>/compliance")
def record_api(provider_id):
    """JSON with a reference to where the document is kept, or multipart/form-data with the file."""
    if request.mimetype == "multipart/form-data":
        user = api_user()
        values, upload = {key: request.form.get(key, "") for key in FIELDS}, _upload()
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Invalid("Send a JSON object in the request body with Content-Type: application/json, or a form with the file.")
        user, values, upload = api_user(), body, None
    return jsonify(compliance.record(current_core(), user, provider_id, values, upload)), 201


@api_bp.post("/providers/<int:provider_id>/compliance/<int:compliance_id>/decision")
def decision_api(provider_id, compliance_id):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"decision": "accept"} or {"decision": "reject", "notes": "why"}.')
    return jsonify(compliance.decide(current_core(), api_user(), provider_id, compliance_id, str(body.get("decision", "")),
                                     str(body.get("notes", ""))))
