"""The process library in the browser: library and process pages, the diagram editor, the form
editor, version comparison, bulk moves and rollback; and the JSON endpoints the editor calls
(/api/v1/processes/<id>/draft, /deploy, /diff, /migration, /rollback, /api/v1/forms/...).

Only managers use any of it (permission "process.deploy"); the services check that too.
"""
from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, ServiceError
from apflow.services import drafts, form_library, library, migration, permissions, roles

from . import forms
from .api import json_body
from .auth import api_user, check_csrf, current_core
from .downloads import attachment

bp = Blueprint("modeler", __name__)
api_bp = Blueprint("modeler_api", __name__)

# Offered in the editor next to timer and dueIn fields (docs/authoring.md explains each).
TIMER_EXAMPLES = ["P7D", "PT4H", "R3/P1W", "2027-01-15T09:00:00Z", "end_of_half_term()", "end_of_term()",
                  "school_days(5)", "weeks(6)", "days(10)", "same_school_day(hours=1)"]


def _user():
    return current_user.user


def _refused(message: str, status: int = 403):
    return render_template("message.html", title="Not available", message=message), status


@bp.before_request
def _only_managers():
    if not current_user.is_authenticated:
        return None  # login_required on each view sends people to sign in
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
    if not permissions.can(_user(), "process.deploy"):
        return _refused("Only managers can see and change the process library.")
    return None


def _download(filename: str, text: str) -> Response:
    return attachment(text, filename, "application/xml")


# -- pages ---------------------------------------------------------------------------------

@bp.get("/processes")
@login_required
def library_page(upload_problems=None, upload_message=None, status=200):
    core, user = current_core(), _user()
    return render_template("library.html", processes=library.library(core, user), forms=form_library.list_forms(core, user),
                           upload_problems=upload_problems, upload_message=upload_message), status


@bp.post("/processes/upload")
@login_required
def upload_page():
    core, user = current_core(), _user()
    upload = request.files.get("file")
    process_id = request.form.get("process_id") or None
    revision = request.form.get("revision")
    try:
        if upload is None or not upload.filename:
            raise Invalid("Choose a .bpmn file to upload.")
        result = drafts.upload(core, user, upload.filename, upload.read(core.settings.max_diagram_bytes + 1),
                                note=request.form.get("note", ""), process_id=process_id,
                                revision=int(revision) if revision and revision.isdigit() else None)
    except ServiceError as err:
        problems = err.details.get("problems", []) if isinstance(err.details, dict) else []
        if process_id:
            return process_page(process_id, upload_problems=problems, upload_message=err.message, status=err.status)
        return library_page(upload_problems=problems, upload_message=err.message, status=err.status)
    flash(f"Uploaded as draft revision {result['saved_revision']} of '{result['name']}'. It is not live until you deploy it.")
    for warning in (p for p in result.get("problems", []) if p.get("severity") == "warning"):  # they do not stop a deploy
        flash(f"Warning: {warning['element'] + ': ' if warning['element'] else ''}{warning['message']} Fix: {warning['fix']}")
    return redirect(url_for("modeler.editor_page", process_id=result["process_id"]))


@bp.get("/processes/<process_id>")
@login_required
def process_page(process_id, upload_problems=None, upload_message=None, status=200, rollback_error=None):
    core, user = current_core(), _user()
    try:
        detail = library.process_detail(core, user, process_id)
    except ServiceError as err:
        return _refused(err.message, err.status)
    return render_template("process.html", process=detail, upload_problems=upload_problems, upload_message=upload_message,
                           rollback_error=rollback_error), status


@bp.get("/processes/<process_id>/edit")
@login_required
def editor_page(process_id):
    core, user = current_core(), _user()
    try:
        draft = drafts.get_draft(core, user, process_id)
    except ServiceError as err:
        return _refused(err.message, err.status)
    return render_template("modeler.html", draft=draft, roles=roles.load_catalogue(core).titles(), timer_examples=TIMER_EXAMPLES,
                           forms=form_library.list_forms(core, user))


@bp.get("/processes/<process_id>/draft/download")
@login_required
def download_draft(process_id):
    draft = drafts.get_draft(current_core(), _user(), process_id)
    return _download(draft["source_file"], draft["xml"])


@bp.get("/processes/<process_id>/versions/<int:version>/download")
@login_required
def download_version(process_id, version):
    try:
        filename, text = library.version_xml(current_core(), _user(), process_id, version)
    except ServiceError as err:
        return _refused(err.message, err.status)
    stem = filename[:-5] if filename.endswith(".bpmn") else filename
    return _download(f"{stem}.v{version}.bpmn", text)


@bp.get("/processes/<process_id>/diff")
@login_required
def diff_page(process_id):
    core, user = current_core(), _user()
    try:
        detail = library.process_detail(core, user, process_id)
        newest = detail["latest_version"]
        if newest is None:
            return render_template("message.html", title="Nothing to compare yet",
                                   message="This process has not been deployed yet, so there is no version to compare its draft with.")
        after = request.args.get("to") or ("draft" if detail["draft"] else newest)
        before = request.args.get("from") or (newest if after == "draft" else max((newest or 1) - 1, 1))
        result = library.diff(core, user, process_id, before, after)
    except ServiceError as err:
        return _refused(err.message, 404 if err.status == 404 else 422)
    return render_template("diff.html", process=detail, diff=result)


@bp.route("/processes/<process_id>/migrate", methods=["GET", "POST"])
@login_required
def migrate_page(process_id):
    core, user = current_core(), _user()
    outcome, error, status = None, None, 200
    to_version = request.values.get("to") or None
    if request.method == "POST":
        ids = [int(i) for i in request.form.getlist("instance") if i.isdigit()]
        if not ids:
            error, status = "Tick at least one instance that can move.", 422
        else:
            try:
                outcome = migration.move_instances(core, user, process_id, to_version, ids, request.form.get("note", ""))
            except ServiceError as err:
                error, status = err.message, err.status
    try:
        preview = migration.migration_preview(core, user, process_id, to_version)
        detail = library.process_detail(core, user, process_id)
    except ServiceError as err:
        return _refused(err.message, err.status)
    return render_template("migrate.html", process=detail, preview=preview, outcome=outcome, error=error), status


@bp.post("/processes/<process_id>/rollback")
@login_required
def rollback_page(process_id):
    core, user = current_core(), _user()
    version = request.form.get("version", "")
    try:
        if not version.isdigit():
            raise Invalid("Choose the version to roll back to.")
        result = library.rollback(core, user, process_id, int(version), request.form.get("note", ""))
    except ServiceError as err:
        return process_page(process_id, status=err.status if err.status != 403 else 403,
                            rollback_error={"message": err.message, "problems": err.details.get("problems", []) if isinstance(err.details, dict) else []})
    flash(result["message"])
    return redirect(url_for("modeler.process_page", process_id=process_id))


@bp.get("/forms/<name>")
@login_required
def form_page(name):
    core, user = current_core(), _user()
    try:
        form = form_library.get_form(core, user, name)
    except ServiceError as err:
        if err.status != 404 or request.args.get("new") != "1":
            return _refused(err.message, err.status)
        starter = '{\n  "title": "New form",\n  "type": "object",\n  "required": [],\n  "properties": {\n    "notes": {"type": "string", "title": "Notes"}\n  }\n}\n'
        form = {"name": name, "content": "{}\n" if form_library.is_ui_schema(name) else starter, "revision": 0,
                "kind": "ui" if form_library.is_ui_schema(name) else "schema", "source": "new", "updated_by": None, "updated_at": None}
    ui_forms = [f["name"] for f in form_library.list_forms(core, user) if f["kind"] == "ui"]
    return render_template("form_editor.html", form=form, ui_forms=ui_forms)


# -- JSON API --------------------------------------------------------------------------------

def _api_manager():
    user = api_user()
    permissions.require(user, "process.deploy")
    return user


@api_bp.get("/processes/<process_id>")
def api_process(process_id):
    return jsonify(library.process_detail(current_core(), _api_manager(), process_id))


@api_bp.get("/processes/<process_id>/draft")
def api_get_draft(process_id):
    return jsonify(drafts.get_draft(current_core(), _api_manager(), process_id))


@api_bp.put("/processes/<process_id>/draft")
def api_save_draft(process_id):
    user = _api_manager()
    body = json_body()
    return jsonify(drafts.save_draft(current_core(), user, process_id, body.get("xml"), body.get("revision"), body.get("note", "")))


@api_bp.post("/processes/<process_id>/draft/validate")
def api_validate_draft(process_id):
    user = _api_manager()
    body = request.get_json(silent=True) or {}
    return jsonify(drafts.validate_draft(current_core(), user, process_id, body.get("xml") if isinstance(body, dict) else None))


@api_bp.post("/processes/<process_id>/deploy")
def api_deploy(process_id):
    user = _api_manager()
    body = json_body()
    result = drafts.deploy_draft(current_core(), user, process_id, body.get("revision"), body.get("note"))
    return jsonify(result), 201 if result["created"] else 200


@api_bp.get("/processes/<process_id>/versions/<int:version>")
def api_version(process_id, version):
    user = _api_manager()
    filename, text = library.version_xml(current_core(), user, process_id, version)
    return jsonify({"process_id": process_id, "version": version, "source_file": filename, "xml": text})


@api_bp.get("/processes/<process_id>/diff")
def api_diff(process_id):
    user = _api_manager()
    before, after = request.args.get("from"), request.args.get("to")
    if not before or not after:
        raise Invalid("Give `from` and `to`: version numbers, or 'draft'.")
    return jsonify(library.diff(current_core(), user, process_id, before, after))


@api_bp.get("/processes/<process_id>/migration")
def api_migration_preview(process_id):
    return jsonify(migration.migration_preview(current_core(), _api_manager(), process_id, request.args.get("to")))


@api_bp.post("/processes/<process_id>/migration")
def api_migrate(process_id):
    user = _api_manager()
    body = json_body()
    return jsonify(migration.move_instances(current_core(), user, process_id, body.get("to"), body.get("instance_ids"), body.get("note", "")))


@api_bp.post("/processes/<process_id>/rollback")
def api_rollback(process_id):
    user = _api_manager()
    body = json_body()
    return jsonify(library.rollback(current_core(), user, process_id, body.get("version"), body.get("note"))), 201


@api_bp.post("/processes/upload")
def api_upload():
    user = _api_manager()
    body = json_body()
    revision = body.get("revision")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
        raise Invalid("`revision` must be a whole number.")
    result = drafts.upload(current_core(), user, str(body.get("filename", "")), body.get("xml") if isinstance(body.get("xml"), str) else "",
                            note=str(body.get("note", "")), process_id=body.get("process_id"), revision=revision)
    return jsonify(result), 201


@api_bp.get("/forms")
def api_forms():
    return jsonify({"forms": form_library.list_forms(current_core(), _api_manager())})


@api_bp.get("/forms/<name>")
def api_get_form(name):
    return jsonify(form_library.get_form(current_core(), _api_manager(), name))


@api_bp.put("/forms/<name>")
def api_save_form(name):
    user = _api_manager()
    body = json_body()
    return jsonify(form_library.save_form(current_core(), user, name, body.get("content"), body.get("revision")))


@api_bp.post("/forms/preview")
def api_preview_form():
    """The form as people will see it, rendered by the one form renderer, from schema text being edited."""
    user = _api_manager()
    body = json_body()
    schema, ui, problems = form_library.preview_form(user, body.get("schema"), body.get("ui_schema"))
    if problems:
        return jsonify({"html": None, "problems": problems})
    try:
        fields = forms.build(schema, ui, {}, {})
        html = render_template("_form_preview.html", fields=fields, title=schema.get("title"))
    except Exception as err:  # noqa: BLE001 - a schema the renderer cannot draw is a problem to show, not a crash
        return jsonify({"html": None, "problems": [{"file": "schema", "element": None, "message": f"The form cannot be shown: {err}",
                                                    "fix": "Check each field has a type the form renderer knows."}]})
    return jsonify({"html": html, "problems": []})
