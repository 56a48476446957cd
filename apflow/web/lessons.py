"""Lesson pages and API (R7, R63, R72, R115): a tutor's sessions of the day and the report of each, phone first; a
placement's lessons page (reports, lesson plans and materials with the school's check, pupil views recorded by
staff); the download of a material's file, for staff and, once checked, the pupil's parents."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.services import lessons

from .api import json_body
from .auth import api_user, check_form_csrf, current_core
from .downloads import attachment

bp = Blueprint("lessons", __name__)
api_bp = Blueprint("lessons_api", __name__)
MEASURES = ("participation", "behaviour", "relationships", "progress", "wellbeing")
VIEW_FIELDS = ("held_on", "method", "adaptation", "adaptation_detail", "pupil_words", "going_well", "could_be_better", "feel_safe",
               "want_to_continue")


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


def _refused(err: ServiceError):
    return render_template("message.html", title="Not available", message=err.message), err.status


# -- the tutor's day ----------------------------------------------------------------------------------------------


@bp.get("/lessons")
@login_required
def today_page():
    try:
        day = lessons.tutor_sessions(current_core(), _user())
    except ServiceError as err:
        return _refused(err)
    return render_template("lessons_today.html", day=day)


@bp.route("/lessons/report/<int:placement_id>/<day>/<starts>", methods=["GET", "POST"])
@login_required
def report_page(placement_id, day, starts):
    core, user = current_core(), _user()
    try:
        form = lessons.report_form(core, user, placement_id, day, starts)
    except ServiceError as err:
        return _refused(err)
    report = form["report"] or {}
    values = {"covered": report.get("covered", ""), "school_comment": report.get("school_comment", ""), **(report.get("engagement") or {})}
    errors, status = {}, 200
    if request.method == "POST":
        values = {"covered": request.form.get("covered", ""), "school_comment": request.form.get("school_comment", ""),
                  **{m: request.form.get(m, "") for m in MEASURES}}
        try:
            saved = lessons.write_report(core, user, placement_id, day, starts, values["covered"], {m: values[m] for m in MEASURES},
                                         values["school_comment"])
            flash("Report saved." if saved["created"] else "Report corrected." if saved["changed"] else "Report saved (no changes).")
            if saved["review_opened"]:
                flash("The scores show repeated low engagement: a review of the placement has been asked for and the school told.")
            return redirect(url_for("lessons.today_page"))
        except Invalid as err:
            errors, status = err.details.get("fields", {}), 422
            flash(err.message, "error")
    return render_template("lessons_report.html", form=form, values=values, errors=errors), status


# -- a placement's lessons -------------------------------------------------------------------------------------------


def _placement(instance_id: int) -> int:
    return lessons.placement_for_instance(current_core(), _user(), instance_id)


def _lessons_page(instance_id, status=200, share=None, share_errors=None, views=None, view_errors=None, check_errors=None):
    try:
        overview = lessons.lessons_overview(current_core(), _user(), _placement(instance_id))
    except ServiceError as err:
        return _refused(err)
    return render_template("lessons_placement.html", o=overview, instance_id=instance_id, share=share or {}, share_errors=share_errors or {},
                           views=views or {}, view_errors=view_errors or {}, check_errors=check_errors or {}), status


@bp.get("/placements/<int:instance_id>/lessons")
@login_required
def placement_page(instance_id):
    return _lessons_page(instance_id)


@bp.post("/placements/<int:instance_id>/lessons/materials")
@login_required
def share_page(instance_id):
    values = {k: request.form.get(k, "") for k in ("kind", "title", "for_date", "description", "link")}
    values["whole_week"] = request.form.get("whole_week") == "true"
    values["confidentiality_agreed"] = request.form.get("confidentiality_agreed") == "true"
    upload = request.files.get("file")
    file = (upload.filename, upload.mimetype, upload.read()) if upload and upload.filename else None
    try:
        lessons.share_material(current_core(), _user(), _placement(instance_id), file=file, **values)
    except Invalid as err:
        flash(err.message, "error")
        return _lessons_page(instance_id, 422, share=values, share_errors=err.details.get("fields", {}))
    except ServiceError as err:
        return _refused(err)
    flash("Shared. The school will check it; the pupil's parents can see it once it is checked.")
    return redirect(url_for("lessons.placement_page", instance_id=instance_id))


@bp.post("/lessons/materials/<int:material_id>/check")
@login_required
def check_page(material_id):
    instance_id = request.form.get("instance_id", "")
    try:
        decided = lessons.decide_material(current_core(), _user(), material_id, request.form.get("decision", ""),
                                          **{k: request.form.get(k) == "true" for k in ("accurate", "age_appropriate", "unbiased")},
                                          reason=request.form.get("reason", ""))
    except Invalid as err:
        flash(err.message, "error")
        if instance_id.isdigit():
            return _lessons_page(int(instance_id), 422, check_errors={material_id: err.details.get("fields", {})})
        return _refused(err)
    except ServiceError as err:
        return _refused(err)
    flash("Checked: the pupil's parents can now see it." if decided["status"] == "checked" else "Sent back to the provider with your reason.")
    return redirect(url_for("lessons.placement_page", instance_id=int(instance_id)) if instance_id.isdigit() else url_for("lessons.today_page"))


@bp.post("/placements/<int:instance_id>/lessons/pupil-views")
@login_required
def views_page(instance_id):
    values = {k: request.form.get(k, "") for k in VIEW_FIELDS}
    try:
        lessons.record_pupil_views(current_core(), _user(), _placement(instance_id), **values)
    except Invalid as err:
        flash(err.message, "error")
        return _lessons_page(instance_id, 422, views=values, view_errors=err.details.get("fields", {}))
    except ServiceError as err:
        return _refused(err)
    flash("The pupil's views are recorded.")
    return redirect(url_for("lessons.placement_page", instance_id=instance_id))


@bp.get("/lessons/materials/<int:material_id>/file")
@login_required
def material_file(material_id):
    try:
        document = lessons.material_file(current_core(), _user(), material_id)
    except NotFound as err:
        return _refused(err)
    return attachment(document.content, document.filename, document.content_type)


# -- API --------------------------------------------------------------------------------------------------------------


@api_bp.get("/lessons/today")
def today_api():
    return jsonify(lessons.tutor_sessions(current_core(), api_user()))


@api_bp.get("/placements/<int:placement_id>/lesson-reports")
def reports_api(placement_id):
    limit = request.args.get("limit", "50")
    return jsonify(lessons.list_reports(current_core(), api_user(), placement_id, int(limit) if limit.isdigit() else 50))


@api_bp.post("/placements/<int:placement_id>/lesson-reports")
def write_report_api(placement_id):
    user, body = api_user(), json_body()
    saved = lessons.write_report(current_core(), user, placement_id, str(body.get("day", "")), str(body.get("starts", "")),
                                 str(body.get("covered", "")), dict(body.get("engagement") or {}) if isinstance(body.get("engagement"), dict) else {},
                                 str(body.get("school_comment", "")))
    return jsonify(saved), 201 if saved["created"] else 200


@api_bp.get("/placements/<int:placement_id>/lesson-materials")
def materials_api(placement_id):
    return jsonify(lessons.list_materials(current_core(), api_user(), placement_id))


@api_bp.post("/placements/<int:placement_id>/lesson-materials")
def share_api(placement_id):
    """JSON with a link, or a multipart form with the same fields and a `file`."""
    user = api_user()
    upload = request.files.get("file")
    if upload is not None or request.form:
        body = {k: request.form.get(k, "") for k in ("kind", "title", "for_date", "description", "link")}
        body.update(whole_week=request.form.get("whole_week") == "true", confidentiality_agreed=request.form.get("confidentiality_agreed") == "true")
    else:
        body = json_body()
    file = (upload.filename, upload.mimetype, upload.read()) if upload and upload.filename else None
    shared = lessons.share_material(current_core(), user, placement_id, str(body.get("kind", "")), str(body.get("title", "")),
                                    str(body.get("for_date", "")), body.get("whole_week") is True, str(body.get("description", "")),
                                    str(body.get("link", "")), body.get("confidentiality_agreed") is True, file=file)
    return jsonify(shared), 201


@api_bp.post("/lesson-materials/<int:material_id>/check")
def check_api(material_id):
    user, body = api_user(), json_body()
    return jsonify(lessons.decide_material(current_core(), user, material_id, str(body.get("decision", "")),
                                           body.get("accurate") is True, body.get("age_appropriate") is True, body.get("unbiased") is True,
                                           str(body.get("reason", ""))))


@api_bp.get("/placements/<int:placement_id>/pupil-views")
def views_api(placement_id):
    return jsonify(lessons.list_pupil_views(current_core(), api_user(), placement_id))


@api_bp.post("/placements/<int:placement_id>/pupil-views")
def record_views_api(placement_id):
    user, body = api_user(), json_body()
    recorded = lessons.record_pupil_views(current_core(), user, placement_id, **{k: str(body.get(k, "") or "") for k in VIEW_FIELDS})
    return jsonify(recorded), 201
