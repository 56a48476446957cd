"""The JSON API (/api/v1): thin handlers that turn requests into service calls.

Errors are always JSON: {"error": {"code", "message", "details"}}.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from apflow.engine.problems import InvalidDiagram
from apflow.engine.xml import text_to_utf8
from apflow.errors import Invalid, NotFound, ServiceError, Unavailable
from apflow.services import (
    calendars,
    caseload,
    deadlines,
    families,
    faults,
    inbox,
    incidents,
    instances,
    notifications,
    people,
    permissions,
    placement_file,
    placements,
    processes,
    pupils,
)

from .auth import api_user, current_core, sign_in_for_token
from .openapi import openapi_document

bp = Blueprint("api", __name__)
TASKS_PAGE, TASKS_PAGE_MAX = 200, 1000
log = logging.getLogger(__name__)


def json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None:
        raise Invalid("Send a JSON object in the request body with Content-Type: application/json.")
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/tokens")
def create_token():
    body = json_body()
    token = sign_in_for_token(str(body.get("username", "")), str(body.get("password", "")))
    return jsonify({"token": token, "expires_in_hours": current_core().settings.token_hours}), 201


@bp.get("/me")
def me():
    user = api_user()
    return jsonify({"username": user.username, "display_name": user.display_name, "roles": sorted(user.role_names)})


@bp.get("/processes")
def list_processes():
    api_user()
    return jsonify({"processes": processes.list_processes(current_core())})


@bp.post("/processes")
def deploy():
    """Deploy diagrams sent as {"files": {"name.bpmn": "<xml>", "review.form": "<json>"}, "note": "..."} (managers only);
    form files (.json, Camunda .form) sent with them are found before the forms folder."""
    user = api_user()
    permissions.require(user, "process.deploy")
    files, note, forms = _diagram_files(json_body())
    try:
        deployed = processes.deploy_sources(current_core(), files, by=user.username, note=note, user=user, forms=forms)
    except InvalidDiagram as err:
        raise processes.invalid_from(err) from None
    return jsonify({"deployed": [d.__dict__ for d in deployed]}), 201


@bp.post("/processes/validate")
def validate():
    user = api_user()
    permissions.require(user, "process.deploy")
    files, _, forms = _diagram_files(json_body())
    result = processes.check_sources(current_core(), files, forms)
    return jsonify({"ok": result.ok, "problems": processes.problems_payload(result.problems)})


def _diagram_files(body: dict) -> tuple[dict[str, bytes], str, dict[str, bytes]]:
    """The diagrams, the change note and the form files (.json, Camunda .form) of a deploy or validate request."""
    files = body.get("files")
    if not isinstance(files, dict) or not files or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise Invalid('Send {"files": {"name.bpmn": "<bpmn xml>"}}.', {"files": ["An object of file names to BPMN XML text."]})
    if not all(name.endswith((".bpmn", ".json", ".form")) and "/" not in name and "\\" not in name for name in files):
        raise Invalid("File names must end in .bpmn (diagrams), .json or .form (forms) and contain no folders.", {"files": list(files)})
    if not any(name.endswith(".bpmn") for name in files):
        raise Invalid("Send at least one .bpmn diagram; forms are deployed with the diagrams that use them.", {"files": list(files)})
    forms = {name: text.encode("utf-8") for name, text in files.items() if not name.endswith(".bpmn")}
    # JSON carries characters, not bytes: a declaration naming another encoding (ISO-8859-1, say) no longer holds.
    return ({name: text_to_utf8(text) for name, text in files.items() if name.endswith(".bpmn")}, str(body.get("note", ""))[:2000],
            forms)


@bp.post("/processes/<process_id>/instances")
def start_instance(process_id):
    user = api_user()
    body = json_body()
    return jsonify(instances.start_instance(current_core(), user, process_id, body.get("data") or {})), 201


@bp.get("/tasks")
def list_tasks():
    user = api_user()
    instance = request.args.get("instance")
    if instance is not None and not _whole(instance):
        raise Invalid("`instance` must be an instance id (a whole number).", {"instance": ["Not a number."]})
    limit, offset = request.args.get("limit", str(TASKS_PAGE)), request.args.get("offset", "0")
    if not _whole(limit) or not _whole(offset) or not 1 <= int(limit) <= TASKS_PAGE_MAX:
        raise Invalid(f"`limit` is 1 to {TASKS_PAGE_MAX} and `offset` a whole number.", {"limit": [limit], "offset": [offset]})
    tasks = instances.list_ready_tasks(current_core(), user, int(instance) if instance else None, int(limit) + 1, int(offset))
    more = len(tasks) > int(limit)
    body = {"tasks": tasks[:int(limit)]}
    if more:
        body["next_offset"] = int(offset) + int(limit)
    return jsonify(body)


def _whole(text: str) -> bool:
    """A whole number written in ASCII digits that fits a database integer (ids, offsets)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


@bp.get("/tasks/<task_id>")
def get_task(task_id):
    return jsonify(instances.get_task(current_core(), api_user(), task_id))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id):
    user = api_user()
    body = json_body()
    return jsonify(instances.complete_task(current_core(), user, task_id, body.get("data", {})))


@bp.post("/tasks/<task_id>/record-for-family")
def record_for_family(task_id):
    """The school records a family's answer given on paper (the family has no account or asked for help)."""
    body = json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise Invalid("`data` must be a JSON object of form fields.")
    return jsonify(families.record_for_family(current_core(), api_user(), task_id, data, str(body.get("recorded_how", ""))))


@bp.get("/providers")
def provider_list():
    """The approved-provider register (R22); ?all=1 adds proposed, suspended and withdrawn providers."""
    return jsonify({"providers": placements.provider_register(current_core(), api_user(), include_all=request.args.get("all") == "1")})


@bp.get("/providers/<int:provider_id>")
def provider_detail(provider_id):
    return jsonify(placements.provider_record(current_core(), api_user(), provider_id))


@bp.get("/pupils/<ref>/contacts")
def pupil_contacts(ref):
    return jsonify(families.list_contacts(current_core(), api_user(), ref))


@bp.post("/pupils/<ref>/contacts")
def add_pupil_contact(ref):
    body = json_body()
    text = {k: str(body.get(k, "")) for k in ("name", "relationship", "email", "phone")}
    added = families.add_contact(current_core(), api_user(), ref, **text, parental_responsibility=body.get("parental_responsibility", True) is True,
                                 invite=body.get("invite") is True)
    return jsonify(added), 201


@bp.delete("/pupils/<ref>/contacts/<int:contact_id>")
def remove_pupil_contact(ref, contact_id):
    families.remove_contact(current_core(), api_user(), ref, contact_id)
    return "", 204


@bp.get("/pupils/<ref>")
def pupil_profile(ref):
    """The pupil's page as data: each part only for those entitled to it (docs/api.md)."""
    return jsonify(pupils.profile(current_core(), api_user(), ref))


@bp.get("/pupils/<ref>/professionals")
def pupil_professionals(ref):
    return jsonify(pupils.list_professionals(current_core(), api_user(), ref))


@bp.post("/pupils/<ref>/professionals")
def add_pupil_professional(ref):
    user, body = api_user(), json_body()
    text = {k: str(body.get(k, "")) for k in ("role", "name", "organisation", "email", "phone")}
    return jsonify(pupils.add_professional(current_core(), user, ref, **text)), 201


@bp.post("/pupils/<ref>/professionals/<int:professional_id>/updates")
def record_professional_update(ref, professional_id):
    user, body = api_user(), json_body()
    return jsonify(pupils.record_update(current_core(), user, ref, professional_id, str(body.get("told_on", "")), str(body.get("summary", "")))), 201


@bp.delete("/pupils/<ref>/professionals/<int:professional_id>")
def remove_pupil_professional(ref, professional_id):
    pupils.remove_professional(current_core(), api_user(), ref, professional_id)
    return "", 204


@bp.get("/people")
def staff_list():
    """Managers: the staff of their organisations, and the organisations and roles a new member may be given."""
    return jsonify(people.list_staff(current_core(), api_user()))


@bp.post("/people")
def add_staff():
    user, body = api_user(), json_body()
    permissions.require(user, "people.manage")  # before the body's checks: only managers learn what it should hold
    organisation = body.get("organisation_id")
    if organisation is not None and (not isinstance(organisation, int) or isinstance(organisation, bool)):
        raise Invalid("`organisation_id` must be an organisation id (a whole number).", {"fields": {"organisation_id": ["Not a number."]}})
    text = {k: str(body.get(k, "")) for k in ("username", "display_name", "email")}
    return jsonify(people.add_staff(current_core(), user, **text, roles=_role_list(body), organisation_id=organisation)), 201


@bp.put("/people/<int:user_id>/roles")
def set_staff_roles(user_id):
    user, body = api_user(), json_body()
    permissions.require(user, "people.manage")
    return jsonify(people.set_roles(current_core(), user, user_id, _role_list(body)))


@bp.post("/people/<int:user_id>/disable")
def disable_staff(user_id):
    return jsonify(people.disable(current_core(), api_user(), user_id))


@bp.post("/people/<int:user_id>/enable")
def enable_staff(user_id):
    return jsonify(people.enable(current_core(), api_user(), user_id))


@bp.post("/people/<int:user_id>/invite")
def invite_staff(user_id):
    return jsonify(people.resend_invitation(current_core(), api_user(), user_id))


def _role_list(body: dict) -> list[str]:
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Invalid('`roles` must be a list of role names, e.g. ["coordinator"].', {"fields": {"roles": ["A list of role names."]}})
    return roles


@bp.get("/inbox")
def inbox_list():
    """The inbox with tabs, filters and sorting, as the browser shows it."""
    listing = inbox.inbox(current_core(), api_user(), inbox.InboxQuery.from_args(request.args))
    rows = [{**row, "due_at": row["due_at"].isoformat() if row["due_at"] else None, "created_at": row["created_at"].isoformat()}
            for row in listing["rows"]]
    return jsonify({"tasks": rows, "total": listing["total"], "counts": listing["counts"], "count_cap": listing["count_cap"],
                    "has_next": listing["has_next"]})


@bp.post("/tasks/<task_id>/<action>")
def task_action(task_id, action):
    user, core = api_user(), current_core()
    body = request.get_json(silent=True) or {}
    if action == "claim":
        inbox.claim(core, user, task_id)
    elif action == "unclaim":
        inbox.unclaim(core, user, task_id)
    elif action in {"assign", "delegate"}:
        inbox.assign(core, user, task_id, str(body.get("username", "")), delegate=action == "delegate")
    elif action == "take-back":
        inbox.take_back(core, user, task_id)
    elif action == "draft":
        if not isinstance(body.get("data"), dict):
            raise Invalid('Send {"data": {...}} with the answers so far.')
        inbox.save_draft(core, user, task_id, body["data"])
    else:
        raise NotFound(f"No task action '{action}'. Use claim, unclaim, assign, delegate, take-back, draft or complete.")
    return jsonify(instances.get_task(core, user, task_id))


@bp.post("/tasks/bulk")
def bulk_tasks():
    body = json_body()
    ids = body.get("task_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Invalid('Send {"action": "claim"|"assign", "task_ids": [...], "username": "..."}.')
    return jsonify(inbox.bulk(current_core(), api_user(), ids, str(body.get("action", "")), str(body.get("username", ""))))


@bp.get("/placements")
def list_placements():
    """The caseload: placements this person may see with stage, next deadline and who holds it."""
    board = caseload.caseload(current_core(), api_user(), caseload.CaseloadQuery.from_args(request.args))
    return jsonify({"placements": [{**row, "next_due": row["next_due"].isoformat() if row["next_due"] else None} for row in board["rows"]]})


@bp.get("/placements/<int:placement_id>/incidents")
def list_incidents(placement_id):
    return jsonify({"incidents": incidents.list_incidents(current_core(), api_user(), placement_id)})


@bp.post("/placements/<int:placement_id>/incidents")
def record_incident(placement_id):
    user, body = api_user(), json_body()
    result = incidents.record_incident(current_core(), user, placement_id, str(body.get("kind", "")), str(body.get("occurred_at", "")),
                                       str(body.get("summary", "")), str(body.get("action_taken", "")))
    return jsonify(result), 201


@bp.post("/placements/<int:placement_id>/review-requests")
def request_review(placement_id):
    user, body = api_user(), json_body()
    return jsonify(incidents.ask_for_review(current_core(), user, placement_id, str(body.get("reason", "")))), 201


@bp.get("/instances/<int:instance_id>")
def get_instance(instance_id):
    return jsonify(instances.get_instance(current_core(), api_user(), instance_id))


@bp.get("/instances/<int:instance_id>/events")
def instance_events(instance_id):
    return jsonify({"events": instances.list_events(current_core(), api_user(), instance_id)})


@bp.get("/instances/<int:instance_id>/file")
def instance_file(instance_id):
    return jsonify(placement_file.placement_file(current_core(), api_user(), instance_id))


@bp.post("/instances/<int:instance_id>/retry")
def retry_instance(instance_id):
    return jsonify(instances.retry(current_core(), api_user(), instance_id))


@bp.get("/calendar")
def get_calendar():
    api_user()
    return jsonify(calendars.describe(calendars.current(current_core())))


@bp.put("/calendar")
def put_calendar():
    user = api_user()
    body = json_body()
    if not isinstance(body.get("csv"), str):
        raise Invalid('Send {"csv": "kind,name,start,end\\n..."}.', {"csv": ["The term-dates file as text."]})
    calendars.import_csv(current_core(), body["csv"], by=user.username, user=user)
    return jsonify(calendars.describe(calendars.current(current_core())))


@bp.get("/escalations")
def list_escalations():
    user = api_user()
    return jsonify({"escalations": deadlines.list_escalations(current_core(), user, include_closed=request.args.get("all") == "1")})


@bp.post("/escalations/<int:escalation_id>/acknowledge")
def acknowledge_escalation(escalation_id):
    user = api_user()
    body = json_body()
    return jsonify(deadlines.acknowledge(current_core(), user, escalation_id, str(body.get("note", ""))))


@bp.get("/dashboard")
def dashboard():
    return jsonify(deadlines.dashboard(current_core(), api_user()))


@bp.get("/notifications")
def list_notifications():
    user = api_user()
    rows = notifications.list_notifications(current_core(), user, unread_only=request.args.get("unread") == "1")
    return jsonify({"notifications": [{"id": n.id, "kind": n.kind, "message": n.message, "instance_id": n.instance_id, "link": n.link,
                                           "created_at": n.created_at.isoformat(), "read": n.read_at is not None} for n in rows]})


@bp.post("/notifications/read")
def read_notifications():
    user = api_user()
    ids = json_body().get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        raise Invalid("`ids` must be a list of notification ids, or left out to mark all as read.")
    notifications.mark_read(current_core(), user, ids)
    return jsonify({"ok": True})


def _error(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details if details is not None else {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="apflow"'
    return response


UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unavailable for a moment - apflow</title></head>
<body><main><h1>The service is unavailable for a moment</h1>
<p>Please try again in a few seconds. If you were sending a form, go back and send it again.</p></main></body></html>
"""


def register_error_handlers(app) -> None:
    @app.errorhandler(ServiceError)
    def service_error(err: ServiceError):
        return _error(err.status, err.code, err.message, err.details)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if not request.path.startswith("/api/"):
            return err
        return _error(err.code or 500, (err.name or "error").lower().replace(" ", "_"), err.description or err.name)

    @app.errorhandler(Unavailable)
    def unavailable(err: Unavailable):
        log.warning("the database did not answer on %s %s: %s", request.method, request.path, err.cause or err)
        if request.path.startswith("/api/"):
            response = _error(err.status, err.code, err.message)
        else:  # a page of its own: the usual page template reads the database (the signed-in person, unread counts)
            response = current_app.response_class(UNAVAILABLE_PAGE, status=err.status, mimetype="text/html")
        response.headers["Retry-After"] = str(err.retry_after)
        return response

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        refusal = faults.refusal_for(err)
        if refusal is not None:  # a value the database could not take got past the checks: the request's fault
            log.warning("the database refused a value on %s %s: %s", request.method, request.path, err)
            if not request.path.startswith("/api/"):
                return refusal.message, refusal.status
            return service_error(refusal)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return "Something went wrong on our side; it has been logged. Please try again.", 500
        return _error(500, "internal_error", "Something went wrong on our side; it has been logged. Please try again.")
