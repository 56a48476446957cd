"""Outcomes pages and API (issue 16): exam entries and results on a placement (R15), the destination checks (R101,
shown on the placement and pupil pages), the termly report to governors (R110, R114) and the annual policy review
(R113, R114)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.services import governors, outcomes, policy_review

from . import pdf
from .auth import api_user, check_form_csrf, current_core
from .downloads import attachment

bp = Blueprint("governors", __name__)
api_bp = Blueprint("governors_api", __name__)
QUALIFICATION_FIELDS = ("subject", "kind", "level", "awarding_body", "entered_on", "result", "gained", "result_on")


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.app_context_processor
def _outcome_panels():
    """The placement page's and pupil page's 'Exams and destinations' panels, for templates."""
    def placement_outcomes(instance_id):
        if not current_user.is_authenticated or instance_id is None:
            return None
        return outcomes.placement_outcomes(current_core(), _user(), int(instance_id))

    def pupil_outcomes(ref):
        if not current_user.is_authenticated or not ref:
            return None
        return outcomes.pupil_outcomes(current_core(), _user(), ref)
    return {"placement_outcomes": placement_outcomes, "pupil_outcomes": pupil_outcomes}


def _fields(err: Invalid) -> dict:
    flash(err.message, "error")
    return err.details.get("fields", {}) if isinstance(err.details, dict) else {}


# -- R15: exam entries and results on a placement ----------------------------------------------------------------

def _placement_id(instance_id: int) -> int:
    found = outcomes.placement_outcomes(current_core(), _user(), instance_id)
    if found is None:
        abort(404)
    return found["placement_id"]


@bp.post("/placements/<int:instance_id>/qualifications")
@login_required
def add_qualification(instance_id):
    placement_id = _placement_id(instance_id)
    try:
        added = outcomes.add_qualification(current_core(), _user(), placement_id, {k: request.form.get(k, "") for k in QUALIFICATION_FIELDS})
        flash(f"Entry recorded: {added['kind_words']} {added['subject']}.")
    except Invalid as err:
        _fields(err)
    return redirect(url_for("inbox.placement_page", instance_id=instance_id) + "#outcomes")


@bp.post("/placements/<int:instance_id>/qualifications/<int:qualification_id>")
@login_required
def record_result(instance_id, qualification_id):
    _placement_id(instance_id)
    try:
        saved = outcomes.record_result(current_core(), _user(), qualification_id,
                                       {k: request.form.get(k, "") for k in ("gained", "result", "result_on")})
        flash(f"Result saved: {saved['subject']}, {saved['gained_words'].lower()}.")
    except Invalid as err:
        _fields(err)
    return redirect(url_for("inbox.placement_page", instance_id=instance_id) + "#outcomes")


@api_bp.get("/placements/<int:placement_id>/qualifications")
def qualifications_api(placement_id):
    return jsonify({"qualifications": outcomes.list_qualifications(current_core(), api_user(), placement_id)})


@api_bp.post("/placements/<int:placement_id>/qualifications")
def add_qualification_api(placement_id):
    user, body = api_user(), request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"subject": ..., "kind": ..., "level": ..., "entered_on": "YYYY-MM-DD"}.')
    return jsonify(outcomes.add_qualification(current_core(), user, placement_id, body)), 201


@api_bp.put("/qualifications/<int:qualification_id>")
def record_result_api(qualification_id):
    user, body = api_user(), request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"gained": "yes" | "no" | "", "result": "5", "result_on": "YYYY-MM-DD"}.')
    return jsonify(outcomes.record_result(current_core(), user, qualification_id, body))


# -- R110, R114: the termly report to governors ------------------------------------------------------------------

def _leaders_only():
    try:
        return governors.list_reports(current_core(), _user()), None
    except NotFound:
        return None, (render_template("message.html", title="For the school's leaders",
                                      message="The governors' report is for the headteacher, the AP coordinator and managers."), 404)


@bp.route("/governors", methods=["GET", "POST"])
@login_required
def governors_page():
    reports, refused = _leaders_only()
    if refused:
        return refused
    core, user = current_core(), _user()
    term = request.values.get("term") or None
    errors, status, narrative = {}, 200, request.form.get("narrative", "")
    if request.method == "POST":
        try:
            saved = governors.save_report(core, user, request.form.get("term", ""), narrative)
            flash(f"The {saved['term']} report is saved with the figures as they stand today.")
            return redirect(url_for("governors.report_page", report_id=saved["id"]))
        except Invalid as err:
            errors, status = _fields(err), 422
    try:
        figures = governors.figures(core, user, term)
    except Invalid as err:
        figures, errors = None, _fields(err)
    existing = next((r for r in reports if figures and r["term"] == figures["term"]["name"]), None)
    return render_template("governors_home.html", reports=reports, figures=figures, terms=governors.terms(core), errors=errors,
                           narrative=narrative or (existing["narrative"] if existing else ""), existing=existing,
                           reviews=policy_review.list_reviews(core, user)), status


@bp.get("/governors/reports/<int:report_id>")
@login_required
def report_page(report_id):
    return render_template("governors_report.html", report=governors.get_report(current_core(), _user(), report_id), printable=False)


@bp.get("/governors/reports/<int:report_id>/print")
@login_required
def report_print(report_id):
    return render_template("governors_print.html", report=governors.get_report(current_core(), _user(), report_id), printable=True)


@bp.get("/governors/reports/<int:report_id>.pdf")
@login_required
def report_pdf(report_id):
    """The report as a PDF (the evidence packs' WeasyPrint workers, apflow/web/pdf.py), for the governors' papers."""
    report = governors.get_report(current_core(), _user(), report_id)
    html = render_template("governors_print.html", report=report, printable=True, for_pdf=True)
    css = (Path(__file__).parent / "static" / "governors_print.css").read_text(encoding="utf-8")
    title = f"Report to governors: alternative provision, {report['term']}"
    try:
        content, _ = pdf.to_pdf(html, css + "\n" + pdf.margin_css(title, "", f"Written by {report['written_by']}"))
    except ServiceError as err:
        return render_template("message.html", title="Try again in a minute", message=err.message), err.status
    return attachment(content, f"Governors report {report['term']}.pdf", "application/pdf", **{"Cache-Control": "no-store"})


@bp.post("/governors/reports/<int:report_id>/presented")
@login_required
def report_presented(report_id):
    try:
        governors.mark_presented(current_core(), _user(), report_id, request.form.get("presented_on", ""))
        flash("Recorded: the report went to governors. It is kept as they saw it.")
    except Invalid as err:
        _fields(err)
    return redirect(url_for("governors.report_page", report_id=report_id))


@api_bp.get("/governors/figures")
def figures_api():
    return jsonify(governors.figures(current_core(), api_user(), request.args.get("term") or None))


@api_bp.get("/governors/reports")
def reports_api():
    return jsonify({"reports": governors.list_reports(current_core(), api_user())})


@api_bp.post("/governors/reports")
def save_report_api():
    body = request.get_json(silent=True)
    user = api_user()
    if not isinstance(body, dict):
        raise Invalid('Send {"term": "Spring 2026", "narrative": "..."}.')
    return jsonify(governors.save_report(current_core(), user, str(body.get("term") or ""), str(body.get("narrative") or ""))), 201


@api_bp.get("/governors/reports/<int:report_id>")
def report_api(report_id):
    return jsonify(governors.get_report(current_core(), api_user(), report_id))


@api_bp.post("/governors/reports/<int:report_id>/presented")
def presented_api(report_id):
    body = request.get_json(silent=True)
    user = api_user()
    presented_on = str(body.get("presented_on") or "") if isinstance(body, dict) else ""
    return jsonify(governors.mark_presented(current_core(), user, report_id, presented_on))


# -- R113, R114: the annual policy review ------------------------------------------------------------------------

@bp.get("/policy-reviews/<int:review_id>")
@login_required
def policy_review_page(review_id):
    return render_template("policy_review.html", e=policy_review.review_evidence(current_core(), _user(), review_id))


@bp.route("/policy-reviews/<int:review_id>/feedback", methods=["GET", "POST"])
@login_required
def feedback_page(review_id):
    core, user = current_core(), _user()
    form = policy_review.feedback_form(core, user, review_id)
    values, errors, status = form["mine"] or {}, {}, 200
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("works_well", "to_change", "rating")}
        try:
            policy_review.give_feedback(core, user, review_id, **values)
            flash("Thank you: your feedback goes to the headteacher for this year's review.")
            return redirect(url_for("governors.feedback_page", review_id=review_id))
        except Invalid as err:
            errors, status = _fields(err), 422
    return render_template("policy_review_feedback.html", form=form, values=values, errors=errors), status


@api_bp.get("/policy-reviews")
def policy_reviews_api():
    return jsonify({"reviews": policy_review.list_reviews(current_core(), api_user())})


@api_bp.get("/policy-reviews/<int:review_id>")
def policy_review_api(review_id):
    return jsonify(policy_review.review_evidence(current_core(), api_user(), review_id))


@api_bp.post("/policy-reviews/<int:review_id>/feedback")
def feedback_api(review_id):
    body = request.get_json(silent=True)
    user = api_user()
    if not isinstance(body, dict):
        raise Invalid('Send {"works_well": "...", "to_change": "...", "rating": 1-5}.')
    return jsonify(policy_review.give_feedback(current_core(), user, review_id, str(body.get("works_well") or ""),
                                               str(body.get("to_change") or ""), body.get("rating"))), 201
