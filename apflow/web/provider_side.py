"""The provider's own pages and API (R12, R14, R24): its admission criteria and the referrals waiting for its decision,
the quality check of plans and the termly effectiveness report, and telling the school of changed arrangements. The
school reads what the provider decided and reported on the placement page and through the API."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from apflow.errors import Forbidden, Invalid
from apflow.placements import provider_side as words
from apflow.services import permissions, provider_side

from .auth import api_user, check_form_csrf, current_core

bp = Blueprint("provider_side", __name__)
api_bp = Blueprint("provider_side_api", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.app_context_processor
def _provider_side_helpers():
    """The placement page's 'provider's side' panel and the task page's context (the referral with the admission
    criteria, or the provider's notice), for templates."""
    def provider_quality(instance_id):
        if not current_user.is_authenticated or instance_id is None:
            return None
        return provider_side.quality_for_instance(current_core(), _user(), int(instance_id))

    def provider_task_context(task_id):
        if not current_user.is_authenticated or not task_id:
            return None
        return provider_side.notice_for_task(current_core(), _user(), task_id)
    return {"provider_quality": provider_quality, "provider_task_context": provider_task_context, "provider_words": words}


def _provider_staff_only():
    if "provider" not in permissions.staff_roles(_user()):
        return render_template("message.html", title="For provider staff",
                               message="These pages are for the staff of an alternative provision provider."), 403
    return None


def _invalid(err: Invalid) -> dict:
    flash(err.message, "error")
    return err.details.get("fields", {}) if isinstance(err.details, dict) else {}


# -- the provider's home ----------------------------------------------------------------------------------------

@bp.get("/provider")
@login_required
def home():
    refused = _provider_staff_only()
    if refused:
        return refused
    core, user = current_core(), _user()
    return render_template("provider_home.html", referrals=provider_side.referrals_to_decide(core, user),
                           plans=provider_side.plans_to_check(core, user), placements=provider_side.placements_to_tell(core, user),
                           providers=provider_side.my_providers(core, user))


# -- R12: admission criteria and referrals ----------------------------------------------------------------------

@bp.route("/provider/admission-criteria/<int:provider_id>", methods=["GET", "POST"])
@login_required
def admission_criteria_page(provider_id):
    core, user = current_core(), _user()
    found = provider_side.admission_criteria(core, user, provider_id)
    values, errors, status = dict(found["criteria"]), {}, 200
    if request.method == "POST":
        values = {"reasons": request.form.getlist("reasons"), "age_from": request.form.get("age_from", ""),
                  "age_to": request.form.get("age_to", ""), "notes": request.form.get("notes", "")}
        try:
            provider_side.save_admission_criteria(core, user, provider_id, values["reasons"], values["age_from"], values["age_to"], values["notes"])
            flash("Your admission criteria are saved. Your staff see them beside every referral.")
            return redirect(url_for("provider_side.admission_criteria_page", provider_id=provider_id))
        except Invalid as err:
            errors, status = _invalid(err), 422
        except Forbidden as err:
            flash(err.message, "error")
            status = 403
    return render_template("provider_admission.html", found=found, values=values, errors=errors), status


@bp.route("/provider/referrals/<int:placement_id>", methods=["GET", "POST"])
@login_required
def referral_page(placement_id):
    core, user = current_core(), _user()
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {"referral_decision": request.form.get("referral_decision", ""), "decision_reason": request.form.get("decision_reason", ""),
                  "criteria_met": request.form.getlist("criteria_met")}
        found = provider_side.referral(core, user, placement_id)  # first: NotFound for anyone who may not see it
        if found["task_id"] is None and not found["waiting"] and found["decisions"]:
            flash("This referral has been decided already.")  # a second submit of the same decision
            return redirect(url_for("provider_side.referral_page", placement_id=placement_id))
        try:
            provider_side.decide(core, user, placement_id, values["referral_decision"], values["decision_reason"], values["criteria_met"])
            flash("Thank you: the school has your decision." if values["referral_decision"] == "decline"
                  else "You accepted the referral. The school now plans the placement with the family.")
            return redirect(url_for("provider_side.home"))
        except Invalid as err:
            errors, status = _invalid(err), 422
    found = provider_side.referral(core, user, placement_id)
    return render_template("provider_referral.html", r=found, values=values, errors=errors), status


# -- R14: quality checks and effectiveness reports --------------------------------------------------------------

@bp.route("/provider/plans/<int:plan_id>/sign-off", methods=["GET", "POST"])
@login_required
def signoff_page(plan_id):
    core, user = current_core(), _user()
    plan = provider_side.plan_for_signoff(core, user, plan_id)
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {"checks": request.form.getlist("checks"), "comments": request.form.get("comments", "")}
        try:
            provider_side.sign_off(core, user, plan_id, values["checks"], values["comments"])
            flash(f"{plan['title']} signed off. The school sees your sign-off on the placement page.")
            return redirect(url_for("provider_side.home"))
        except Invalid as err:
            errors, status = _invalid(err), 422
        except Forbidden as err:
            flash(err.message, "error")
            status = 403
    return render_template("provider_signoff.html", plan=plan, values=values, errors=errors, user=user), status


@bp.route("/provider/placements/<int:placement_id>/effectiveness", methods=["GET", "POST"])
@login_required
def effectiveness_page(placement_id):
    core, user = current_core(), _user()
    found = provider_side.effectiveness_form(core, user, placement_id)
    values, errors, status = {}, {}, 200
    if found["existing"]:
        values = {"what_worked": found["existing"]["what_worked"], "changes": found["existing"]["changes"],
                  **{f"target_{n}": t["status"] for n, t in enumerate(found["existing"]["targets"])}}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in request.form if k != "csrf_token"}
        statuses = {str(n): request.form.get(f"target_{n}", "") for n in range(len(found["targets"]))}
        try:
            provider_side.report_effectiveness(core, user, placement_id, statuses, values.get("what_worked", ""), values.get("changes", ""))
            flash(f"Your report for {found['term']} is with the school.")
            return redirect(url_for("provider_side.home"))
        except Invalid as err:
            errors, status = _invalid(err), 422
    return render_template("provider_effectiveness.html", f=found, values=values, errors=errors, statuses=words.TARGET_STATUS), status


# -- R24: tell the school ---------------------------------------------------------------------------------------

@bp.route("/provider/tell-the-school", methods=["GET", "POST"])
@login_required
def tell_page():
    refused = _provider_staff_only()
    if refused:
        return refused
    core, user = current_core(), _user()
    placements = provider_side.placements_to_tell(core, user)
    chosen = request.args.get("placement", type=int)
    values = {"placement_ids": [str(chosen)] if chosen else []}
    errors, status = {}, 200
    if request.method == "POST":
        values = {"placement_ids": request.form.getlist("placement_ids"), "kind": request.form.get("kind", ""),
                  "summary": request.form.get("summary", ""), "effective_on": request.form.get("effective_on", ""),
                  "adult_name": request.form.get("adult_name", ""), "checks_confirmed": request.form.get("checks_confirmed") == "true"}
        nonce = request.form.get("nonce", "")[:64]
        done = session.get("notices_sent", {})
        if nonce and nonce in done:  # sent twice: the schools were told once
            return redirect(url_for("provider_side.home"))
        try:
            sent = provider_side.tell_the_school(core, user, values["placement_ids"], values["kind"], values["summary"],
                                                 values["effective_on"], values["adult_name"], values["checks_confirmed"])
            if nonce:
                session["notices_sent"] = {**dict(list(done.items())[-20:]), nonce: sent["batch"]}
            count = len(sent["notices"])
            flash(f"Told the school{'s' if count > 1 else ''} of {count} pupil{'s' if count > 1 else ''}. Each school re-checks the "
                  "arrangements and records what it decided on the placement.")
            return redirect(url_for("provider_side.home"))
        except Invalid as err:
            errors, status = _invalid(err), 422
    return render_template("provider_tell_school.html", placements=placements, values=values, errors=errors,
                           kinds=words.ARRANGEMENTS, nonce=secrets.token_urlsafe(16)), status


# -- API --------------------------------------------------------------------------------------------------------

def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("Send a JSON object in the request body with Content-Type: application/json.")
    return body


@api_bp.get("/provider/referrals")
def referrals_api():
    return jsonify({"referrals": provider_side.referrals_to_decide(current_core(), api_user())})


@api_bp.post("/placements/<int:placement_id>/referral-decision")
def decide_api(placement_id):
    body = _body()
    provider_side.decide(current_core(), api_user(), placement_id, str(body.get("decision", "")), str(body.get("reason", "")),
                         body.get("criteria_met") or [])
    return jsonify(provider_side.referral(current_core(), api_user(), placement_id)), 201


@api_bp.get("/providers/<int:provider_id>/admission-criteria")
def criteria_api(provider_id):
    return jsonify(provider_side.admission_criteria(current_core(), api_user(), provider_id))


@api_bp.put("/providers/<int:provider_id>/admission-criteria")
def save_criteria_api(provider_id):
    body = _body()
    saved = provider_side.save_admission_criteria(current_core(), api_user(), provider_id, body.get("reasons"), body.get("age_from"),
                                                  body.get("age_to"), str(body.get("notes", "")))
    return jsonify(saved)


@api_bp.get("/placements/<int:placement_id>/provider-quality")
def quality_api(placement_id):
    return jsonify(provider_side.provider_quality(current_core(), api_user(), placement_id))


@api_bp.post("/plans/<int:plan_id>/sign-off")
def signoff_api(plan_id):
    body = _body()
    return jsonify(provider_side.sign_off(current_core(), api_user(), plan_id, body.get("checks"), str(body.get("comments", "")))), 201


@api_bp.post("/placements/<int:placement_id>/effectiveness-reports")
def effectiveness_api(placement_id):
    body = _body()
    statuses = body.get("targets") if isinstance(body.get("targets"), dict) else {}
    report = provider_side.report_effectiveness(current_core(), api_user(), placement_id, statuses, str(body.get("what_worked", "")),
                                                str(body.get("changes", "")))
    return jsonify(report), 201


@api_bp.post("/arrangement-notices")
def tell_api():
    body = _body()
    sent = provider_side.tell_the_school(current_core(), api_user(), body.get("placement_ids"), str(body.get("kind", "")),
                                         str(body.get("summary", "")), str(body.get("effective_on", "")), str(body.get("adult_name", "")),
                                         body.get("checks_confirmed") is True)
    return jsonify(sent), 201
