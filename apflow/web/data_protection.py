"""Data protection pages and API (R111, issue 16): the read log, who looked at a pupil, the subject access export and
the retention report; and the one place that logs reads of pupils' records for every route.

The read log hook runs after every request: a successful GET of a route naming a pupil (`ref`), a placement
(`placement_id`, or its workflow's `instance_id`), a task, a plan or a lesson material writes one row per pupil named
(one short transaction: a lookup and an INSERT). List pages name their pupils with `note_reads`. A failed write does
not fail the page (see apflow/services/read_log.py for why, and where the entry goes instead).
"""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, render_template, request
from flask_login import current_user, login_required

from apflow.errors import Invalid, NotFound
from apflow.services import permissions, read_log, retention, subject_access

from .auth import api_user, current_core
from .downloads import attachment

bp = Blueprint("data_protection", __name__)
api_bp = Blueprint("data_protection_api", __name__)

# what each route shows, in words for the log; a route not named here is described by its endpoint's name
WHAT = {
    "inbox.pupil_page": "Pupil page", "api.pupil_profile": "Pupil record",
    "api.pupil_contacts": "Family contacts", "api.pupil_professionals": "Professionals involved",
    "inbox.placement_page": "Placement page and file", "api.get_instance": "Placement workflow",
    "api.instance_events": "Placement history", "api.instance_file": "Placement file",
    "inbox.document": "Placement document", "inbox.task_page": "Task", "api.get_task": "Task",
    "inbox.incidents_page": "Incidents", "api.list_incidents": "Incidents",
    "registers.placement_page": "Register", "registers_api.placement_api": "Register",
    "registers.pupil_whereabouts_page": "Whereabouts", "registers_api.pupil_whereabouts_api": "Whereabouts",
    "registers.whereabouts_page": "Whereabouts list", "registers_api.whereabouts_api": "Whereabouts list",
    "registers.today_page": "Registers (provider's day)", "registers_api.today_api": "Registers (provider's day)",
    "family.child_page": "Family page", "family_api.api_child": "Family page",
    "lessons.report_page": "Lesson report", "lessons.placement_page": "Lessons and lesson reports",
    "lessons.material_file": "Lesson material", "lessons_api.reports_api": "Lesson reports",
    "lessons_api.materials_api": "Lesson materials", "lessons_api.views_api": "Pupil views",
    "provider_side.referral_page": "Referral", "provider_side.signoff_page": "Plan sign-off",
    "provider_side.effectiveness_page": "Effectiveness report", "provider_side_api.quality_api": "Provider quality records",
    "evidence.placement_pack": "Evidence pack (placement)", "evidence.provider_pack": "Evidence pack (provider)",
    "safeguarding.file_page": "Child-protection file", "safeguarding_api.file_api": "Child-protection file",
    "safeguarding.export_page": "Child-protection file export", "safeguarding_api.export_api": "Child-protection file export",
}
RESTRICTED = {"safeguarding.file_page", "safeguarding_api.file_api", "safeguarding.export_page", "safeguarding_api.export_api"}
# pages that show nothing of the pupil's records (a form to raise a concern, its confirmation), and this module's own
# (the subject access export logs itself in its transaction; reading the read log is not a read of the records)
NOT_READS = {"safeguarding.raise_page", "safeguarding.raised_page", "inbox.review_request_page",
             "data_protection.reads_page", "data_protection_api.reads_api",
             "data_protection.export_page", "data_protection_api.export_api"}
KEYS = {"ref", "instance_id", "placement_id", "task_id", "material_id"}


def init_app(app) -> None:
    app.after_request(_log_reads)
    app.context_processor(lambda: {"data_protection_links": _links})


def note_reads(*, refs=(), placement_ids=(), what: str | None = None) -> None:
    """For a page listing several pupils: name them, and the hook logs a read of each."""
    noted = g.setdefault("read_log_noted", {"refs": [], "placement_ids": [], "what": None})
    noted["refs"] += [r for r in refs if r]
    noted["placement_ids"] += [p for p in placement_ids if p is not None]
    noted["what"] = what or noted["what"]


def _reader():
    if "api_user" in g:
        return g.api_user
    return current_user.user if current_user and current_user.is_authenticated else None


def _log_reads(response):
    try:
        _log(response)
    except Exception:  # noqa: BLE001 - a read is never failed by its log; the error log says what was missed
        read_log.log.error("read log: %s %s was not logged", request.method, request.path, exc_info=True)
    return response


def _log(response) -> None:
    endpoint = request.endpoint or ""
    if request.method != "GET" or not 200 <= response.status_code < 300 or endpoint in NOT_READS:
        return
    view_args = request.view_args or {}
    args = {k: v for k, v in view_args.items() if k in KEYS}
    noted = g.get("read_log_noted")
    if not args and not noted and view_args.get("plan_id") is None:
        return
    user = _reader()
    if user is None:
        return
    core = current_core()
    what = (noted or {}).get("what") or WHAT.get(endpoint) or endpoint.rpartition(".")[2].replace("_", " ").capitalize()
    read_log.write_named(core, user, what, request.full_path.rstrip("?"), restricted=endpoint in RESTRICTED, **args,
                         refs=(noted or {}).get("refs", ()), placement_ids=(noted or {}).get("placement_ids", ()),
                         plan_id=view_args.get("plan_id"))


def _links(ref: str) -> list[tuple[str, str]]:
    """The data-protection links the signed-in person may follow for this pupil (for the pupil's page)."""
    user = _reader()
    if user is None or not ref:
        return []
    core = current_core()
    links = []
    if read_log.may_view(core, user, ref):
        links.append(("Who looked at this pupil", f"/pupils/{ref}/reads"))
    if subject_access.may_export(core, user, ref):
        links.append(("Subject access export (ZIP)", f"/pupils/{ref}/subject-access.zip"))
    return links


# -- who looked at this pupil -------------------------------------------------------------------------------------

def _filters(args) -> dict:
    return {k: args.get(k, "") for k in ("who", "role", "what", "since", "until")}


@bp.get("/pupils/<ref>/reads")
@login_required
def reads_page(ref):
    filters = _filters(request.args)
    try:
        found = read_log.reads(current_core(), current_user.user, ref, **filters)
        errors, status = {}, 200
    except NotFound:
        abort(404)
    except Invalid as err:
        found = read_log.reads(current_core(), current_user.user, ref)
        errors, status = err.details.get("fields", {}), 422
    return render_template("data_protection_reads.html", log=found, filters=filters, errors=errors, ref=ref), status


@api_bp.get("/pupils/<ref>/reads")
def reads_api(ref):
    return jsonify(read_log.reads(current_core(), api_user(), ref, **_filters(request.args)))


# -- subject access -----------------------------------------------------------------------------------------------

@bp.get("/pupils/<ref>/subject-access.zip")
@login_required
def export_page(ref):
    try:
        name, content = subject_access.export(current_core(), current_user.user, ref)
    except NotFound:
        abort(404)
    return attachment(content, name, "application/zip", **{"Cache-Control": "no-store"})


@api_bp.get("/pupils/<ref>/subject-access")
def export_api(ref):
    name, content = subject_access.export(current_core(), api_user(), ref)
    return attachment(content, name, "application/zip", **{"Cache-Control": "no-store"})


# -- retention ----------------------------------------------------------------------------------------------------

@bp.get("/retention")
@login_required
def retention_page():
    user = current_user.user
    if not permissions.can(user, "retention.view"):
        abort(404)
    try:
        found, errors, status = retention.report(current_core(), user, request.args.get("on")), {}, 200
    except Invalid as err:
        found, errors, status = retention.report(current_core(), user), err.details.get("fields", {}), 422
    return render_template("data_protection_retention.html", report=found, errors=errors,
                           asked=request.args.get("on", "")), status


@api_bp.get("/retention")
def retention_api():
    return jsonify(retention.report(current_core(), api_user(), request.args.get("on")))
