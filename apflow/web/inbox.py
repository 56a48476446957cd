"""Inbox pages: the task list, a task with its form, a placement, a pupil, and the account page."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Conflict, Invalid, NotFound, ServiceError, WorkflowFailed
from apflow.services import (
    caseload,
    documents,
    families,
    inbox,
    incidents,
    instances,
    permissions,
    placement_file,
    placements,
    processes,
    pupils,
    safeguarding,
    users,
)

from . import forms
from .auth import check_form_csrf, current_core, keep_session
from .downloads import attachment

bp = Blueprint("inbox", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.get("/inbox")
@login_required
def inbox_page():
    query = inbox.InboxQuery.from_args(request.args)
    listing = inbox.inbox(current_core(), _user(), query)
    return render_template("inbox.html", listing=listing, query=query, filters=inbox.saved_filters(current_core(), _user()),
                           is_manager=permissions.is_manager(_user()), can_start=bool(processes.startable(current_core(), _user())))


@bp.post("/inbox/filters")
@login_required
def save_filter():
    query = inbox.InboxQuery.from_args(request.form)
    try:
        inbox.save_filter(current_core(), _user(), request.form.get("name", ""), query)
        flash(f"Saved the filter '{request.form.get('name', '').strip()}'.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("inbox.inbox_page") + "?" + query.to_querystring())


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id):
    inbox.delete_filter(current_core(), _user(), filter_id)
    return redirect(url_for("inbox.inbox_page"))


@bp.post("/inbox/bulk")
@login_required
def bulk():
    ids = request.form.getlist("task")
    if not ids:
        flash("Tick at least one task first.", "error")
        return redirect(request.referrer or url_for("inbox.inbox_page"))
    outcome = inbox.bulk(current_core(), _user(), ids, request.form.get("action", ""), request.form.get("assignee", ""))
    if outcome["done"]:
        flash(f"{len(outcome['done'])} task(s) updated.")
    for message in sorted(set(outcome["failed"].values())):
        flash(message, "error")
    return redirect(request.referrer or url_for("inbox.inbox_page"))


# -- one task ------------------------------------------------------------------------------

def _task_view(task_id: str, values: dict | None = None, errors: dict | None = None, summary: str | None = None, status: int = 200):
    core, user = current_core(), _user()
    task = instances.get_task(core, user, task_id)
    draft = inbox.get_draft(core, user, task_id) if values is None else None
    if values is None:
        values = dict(task["data"])
        if draft is not None:
            values.update(draft.data)
    form = task["form"]
    fields = forms.build(form["schema"], form["ui_schema"], values, errors or {}) if form else []
    view = inbox.task_view(core, user, task_id)
    actions = view["actions"]
    colleagues = inbox.colleagues(core, user, task_id) if task["state"] == "ready" and actions["assign"] else []
    return render_template("task.html", task=task, fields=fields, errors=errors or {}, summary=summary, actions=actions,
                           colleagues=colleagues, draft=draft, instance=view["instance"], documents=view["documents"], user=user,
                           file=_file_or_none(core, user, task["instance_id"])), status


def _file_or_none(core, user, instance_id: int) -> dict | None:
    """The placement file for a task page: what was recorded before, so the decision is made on the case (R110)."""
    try:
        return placement_file.placement_file(core, user, instance_id)
    except NotFound:
        return None


@bp.get("/tasks/<task_id>")
@login_required
def task_page(task_id):
    return _task_view(task_id)


@bp.post("/tasks/<task_id>")
@login_required
def task_submit(task_id):
    core, user = current_core(), _user()
    task = instances.get_task(core, user, task_id)
    form = task["form"] or {"schema": {"type": "object", "properties": {}}, "ui_schema": {}}
    uploaded = {}
    try:
        for name in forms.file_fields(form["schema"], form["ui_schema"]):
            upload = request.files.get(name)
            if upload and upload.filename:
                restricted = form["schema"]["properties"].get(name, {}).get("x-apflow-restricted") is True
                uploaded[name] = documents.upload(core, user, task["instance_id"], task_id, upload.filename, upload.mimetype, upload.read(),
                                                  restricted=restricted)
    except Invalid as err:
        values = forms.parse(form["schema"], form["ui_schema"], request.form)
        return _task_view(task_id, values, {name: err.details.get("file", [err.message]) for name in forms.file_fields(form["schema"], form["ui_schema"])},
                          "There is a problem with the file.", 422)
    values = forms.parse(form["schema"], form["ui_schema"], request.form, documents=uploaded)
    if "add_row" in request.form or "remove_row" in request.form:
        return _task_view(task_id, values)
    if request.form.get("action") == "for_family":
        try:
            result = families.record_for_family(core, user, task_id, values, request.form.get("recorded_how", ""))
        except Invalid as err:
            return _task_view(task_id, values, err.details.get("fields", {}), err.message, 422)
        except (Conflict, WorkflowFailed) as err:
            return _task_view(task_id, values, {}, err.message, 422)
        return _done(task, result)
    if request.form.get("action") == "draft":
        inbox.save_draft(core, user, task_id, values)
        flash("Draft saved. Nobody else sees it; complete the task when you are ready.")
        return redirect(url_for("inbox.task_page", task_id=task_id))
    try:
        result = instances.complete_task(core, user, task_id, values)
    except Invalid as err:
        fields = err.details.get("fields", {})
        return _task_view(task_id, values, fields, err.message, 422)
    except Conflict as err:
        flash(err.message, "error")
        return redirect(url_for("inbox.placement_page", instance_id=task["instance_id"]))
    except WorkflowFailed as err:
        return _task_view(task_id, values, {}, err.message, 422)
    return _done(task, result)


def _done(task: dict, result: dict):
    names = [t["name"] for t in result["next_tasks"]]
    if result["instance"]["status"] == "completed":
        flash(f"'{task['name']}' is done and the placement process has finished.")
    elif names:
        flash(f"'{task['name']}' is done. Next: {', '.join(names)}.")
    else:
        flash(f"'{task['name']}' is done. The placement is now waiting (for example for a deadline or another organisation).")
    return redirect(url_for("inbox.placement_page", instance_id=task["instance_id"]))


@bp.post("/tasks/<task_id>/<action>")
@login_required
def task_action(task_id, action):
    core, user = current_core(), _user()
    try:
        if action == "claim":
            inbox.claim(core, user, task_id)
            flash("You have claimed this task; colleagues see that you hold it.")
        elif action == "unclaim":
            inbox.unclaim(core, user, task_id)
            flash("The task is back with its role for anyone to claim.")
        elif action in {"assign", "delegate"}:
            inbox.assign(core, user, task_id, request.form.get("assignee", ""), delegate=action == "delegate")
            flash("The task has been handed over." if action == "assign" else "Delegated. You can take it back at any time.")
        elif action == "take-back":
            inbox.take_back(core, user, task_id)
            flash("You hold this task again.")
        else:
            abort(404)
    except ServiceError as err:
        flash(err.message, "error")
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("inbox.task_page", task_id=task_id))


# -- placements and pupils -------------------------------------------------------------------

@bp.get("/placements")
@login_required
def caseload_page():
    query = caseload.CaseloadQuery.from_args(request.args)
    return render_template("caseload.html", board=caseload.caseload(current_core(), _user(), query), query=query)


@bp.get("/providers")
@login_required
def providers_page():
    everyone = request.args.get("all") == "1"
    return render_template("providers.html", providers=placements.provider_register(current_core(), _user(), include_all=everyone),
                           everyone=everyone)


@bp.get("/providers/<int:provider_id>")
@login_required
def provider_page(provider_id):
    return render_template("provider.html", p=placements.provider_record(current_core(), _user(), provider_id))


@bp.get("/placements/<int:instance_id>")
@login_required
def placement_page(instance_id):
    core, user = current_core(), _user()
    instance = instances.get_instance(core, user, instance_id)
    file = placement_file.placement_file(core, user, instance_id)
    return render_template("placement.html", instance=instance, file=file, timeline=instances.list_events(core, user, instance_id),
                           pupil_ref=file["pupil_ref"], can_retry=permissions.can(user, "instance.retry"))


@bp.route("/placements/<int:instance_id>/incidents", methods=["GET", "POST"])
@login_required
def incidents_page(instance_id):
    core, user = current_core(), _user()
    placement_id = _placement_id(instance_id)
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("kind", "occurred_at", "summary", "action_taken")}
        try:
            result = incidents.record_incident(core, user, placement_id, **values)
            flash("Incident logged." + (" The risk assessment and plan review is in the coordinator's inbox now." if result["review_opened"] else ""))
            if values["kind"] == "safeguarding":
                flash("This was a safeguarding incident: raise it as a concern too, so the DSL acts on it now.", "error")
                return redirect(url_for("safeguarding.raise_page", instance_id=instance_id))
            return redirect(url_for("inbox.incidents_page", instance_id=instance_id))
        except Invalid as err:
            errors, status = err.details.get("fields", {}), 422
            flash(err.message, "error")
    return render_template("incidents.html", instance_id=instance_id, incidents=incidents.list_incidents(core, user, placement_id),
                           kinds=incidents.KINDS, values=values, errors=errors, staff=bool(permissions.staff_roles(user))), status


@bp.route("/placements/<int:instance_id>/review-request", methods=["GET", "POST"])
@login_required
def review_request_page(instance_id):
    placement_id = _placement_id(instance_id)
    if request.method == "POST":
        try:
            incidents.ask_for_review(current_core(), _user(), placement_id, request.form.get("reason", ""))
            flash("Thank you: a review of the placement has been asked for, and the coordinator will arrange it.")
            return redirect(url_for("inbox.placement_page", instance_id=instance_id))
        except ServiceError as err:
            flash(err.message, "error")
    return render_template("review_request.html", instance_id=instance_id)


def _placement_id(instance_id: int) -> int:
    placement_id = safeguarding.placement_of_instance(current_core(), _user(), instance_id)
    if placement_id is None:
        abort(404)
    return placement_id


@bp.post("/placements/<int:instance_id>/retry")
@login_required
def retry(instance_id):
    try:
        instances.retry(current_core(), _user(), instance_id)
        flash("The failed step was run again and went through.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("inbox.placement_page", instance_id=instance_id))


@bp.get("/placements/<int:instance_id>/documents/<int:document_id>")
@login_required
def document(instance_id, document_id):
    found = documents.download(current_core(), _user(), instance_id, document_id)
    return attachment(found.content, found.filename, found.content_type)


@bp.get("/pupils/<ref>")
@login_required
def pupil_page(ref, values=None, errors=None, status=200, failed="contact"):
    """The pupil's profile; `failed` names the form whose `values` and `errors` are shown again (contact, professional,
    or update-<id>)."""
    try:
        found = pupils.profile(current_core(), _user(), ref)
    except NotFound:
        abort(404)
    can_refer = any(p["id"] == "placement" for p in processes.startable(current_core(), _user()))
    return render_template("pupil.html", ref=ref, profile=found, name=found["pupil"]["name"], family=found.get("family"),
                           can_refer=can_refer, nonce=secrets.token_urlsafe(16),
                           relationships=families.RELATIONSHIPS, professional_roles=pupils.PROFESSIONAL_ROLES,
                           values=values or {}, errors=errors or {}, failed=failed), status


@bp.post("/pupils/<ref>/contacts")
@login_required
def add_contact(ref):
    fields = ("name", "relationship", "email", "phone")
    values = {k: request.form.get(k, "") for k in fields}
    try:
        added = families.add_contact(current_core(), _user(), ref, **values, parental_responsibility=bool(request.form.get("parental_responsibility")),
                                     invite=bool(request.form.get("invite")))
    except Invalid as err:
        flash(err.message, "error")
        return pupil_page(ref, values=values, errors=err.details.get("fields", {}), status=422)
    message = f"{added['name']} was added."
    if added["invited"]:
        message += f" An invitation to set a password was e-mailed to {added['email']}; their username is {added['username']}."
    if added["tasks_handed"]:
        message += f" {added['tasks_handed']} waiting task(s) for the family are now with them."
    flash(message)
    return redirect(url_for("inbox.pupil_page", ref=ref))


@bp.post("/pupils/<ref>/contacts/<int:contact_id>/remove")
@login_required
def remove_contact(ref, contact_id):
    families.remove_contact(current_core(), _user(), ref, contact_id)
    flash("Removed. Any of this pupil's tasks they held are back with the family role, unanswered.")
    return redirect(url_for("inbox.pupil_page", ref=ref))


@bp.post("/pupils/<ref>/professionals")
@login_required
def add_professional(ref):
    values = {k: request.form.get(k, "") for k in ("role", "name", "organisation", "email", "phone")}
    try:
        added = pupils.add_professional(current_core(), _user(), ref, **values)
    except Invalid as err:
        flash(err.message, "error")
        return pupil_page(ref, values=values, errors=err.details.get("fields", {}), status=422, failed="professional")
    flash(f"{added['name']} ({added['role_label']}) was added. Record here what they are told, so they are kept informed.")
    return redirect(url_for("inbox.pupil_page", ref=ref) + "#professionals")


@bp.post("/pupils/<ref>/professionals/<int:pid>/remove")
@login_required
def remove_professional(ref, pid):
    pupils.remove_professional(current_core(), _user(), ref, pid)
    flash("Removed: they are no longer listed as involved with the pupil.")
    return redirect(url_for("inbox.pupil_page", ref=ref) + "#professionals")


@bp.post("/pupils/<ref>/professionals/<int:pid>/updates")
@login_required
def record_professional_update(ref, pid):
    values = {k: request.form.get(k, "") for k in ("told_on", "summary")}
    try:
        pupils.record_update(current_core(), _user(), ref, pid, **values)
    except Invalid as err:
        flash(err.message, "error")
        return pupil_page(ref, values=values, errors=err.details.get("fields", {}), status=422, failed=f"update-{pid}")
    flash("Recorded what they were told.")
    return redirect(url_for("inbox.pupil_page", ref=ref) + f"#professional-{pid}")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    errors, status = {}, 200
    if request.method == "POST":
        try:
            epoch = users.change_password(current_core(), _user().id, request.form.get("current", ""), request.form.get("new", ""),
                                          request.form.get("confirm", ""))
            keep_session(epoch)  # this browser stays signed in; other sessions and API tokens end
            flash("Your password has been changed. You are signed out on other browsers, and API tokens no longer work.")
            return redirect(url_for("inbox.inbox_page"))
        except ServiceError as err:
            errors, status = err.details or {"current": [err.message]}, err.status if err.status != 401 else 422
    return render_template("password.html", errors=errors), status

