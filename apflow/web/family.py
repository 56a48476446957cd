"""Pages and API for families, the LA officer and everyone's notification settings (issue 15: R6, R7, R73, R77):
a parent's page for each child, lesson reminders on or off, asking for a review, feedback; the LA officer's page;
notification preferences (immediate, daily digest, in the app only)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid, NotFound
from apflow.services import family_portal, la, preferences

from .api import json_body
from .auth import api_user, check_form_csrf, current_core

bp = Blueprint("family", __name__)
api_bp = Blueprint("family_api", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


@bp.app_template_filter("day")
def day_words(value) -> str:
    """An ISO date as people read it: 'Mon 12 Jan 2026'."""
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%a %d %b %Y")
    except ValueError:
        return str(value or "")


def _not_found(err: NotFound):
    return render_template("message.html", title="Not found", message=err.message), 404


# -- families ------------------------------------------------------------------------------

@bp.get("/family")
@login_required
def family_home():
    """A parent lands here: straight on their child's page, or a choice between their children."""
    kids = family_portal.children(current_core(), _user())
    if "parent" not in _user().role_names:
        return _not_found(NotFound("This page is for parents and carers."))
    if len(kids) == 1:
        return redirect(url_for("family.child_page", ref=kids[0]["ref"]))
    return render_template("family_home.html", children=kids)


@bp.get("/family/<ref>")
@login_required
def child_page(ref, errors=None, values=None, failed=None, status=200):
    core, user = current_core(), _user()
    try:
        page = family_portal.child_page(core, user, ref)
    except NotFound as err:
        return _not_found(err)
    return render_template("family_child.html", page=page, children=family_portal.children(core, user), errors=errors or {},
                           values=values or {}, failed=failed, reminder_time=core.settings.lesson_reminder_time), status


@bp.post("/family/<ref>/reminders")
@login_required
def reminders(ref):
    try:
        family_portal.child_page(current_core(), _user(), ref)  # a parent of this child, or nothing is said
        done = family_portal.set_reminders(current_core(), _user(), request.form.get("on") == "1")
    except NotFound as err:
        return _not_found(err)
    flash("Lesson reminders are on: an e-mail the evening before each school day with sessions." if done["on"]
          else "Lesson reminders are off. You can switch them on again here at any time.")
    return redirect(url_for("family.child_page", ref=ref) + "#reminders")


def _placement_id() -> int | None:
    value = request.form.get("placement_id", "")
    return int(value) if value.isdigit() and len(value) < 12 else None


@bp.post("/family/<ref>/feedback")
@login_required
def feedback(ref):
    text = request.form.get("feedback", "")
    try:
        family_portal.give_feedback(current_core(), _user(), ref, _placement_id(), text)
    except NotFound as err:
        return _not_found(err)
    except Invalid as err:
        flash(err.message, "error")
        return child_page(ref, errors=err.details.get("fields", {}), values={"feedback": text}, failed="feedback", status=422)
    flash("Thank you: your feedback has been sent to the school's AP coordinator.")
    return redirect(url_for("family.child_page", ref=ref) + "#feedback")


@bp.post("/family/<ref>/review-request")
@login_required
def review_request(ref):
    reason = request.form.get("reason", "")
    try:
        family_portal.ask_for_review(current_core(), _user(), ref, _placement_id(), reason)
    except NotFound as err:
        return _not_found(err)
    except Invalid as err:
        flash(err.message, "error")
        fields = err.details.get("fields") or {"reason": [err.message]}
        return child_page(ref, errors=fields, values={"reason": reason}, failed="review", status=422)
    flash("Thank you: a review of the placement has been asked for, and the school's AP coordinator will arrange it.")
    return redirect(url_for("family.child_page", ref=ref) + "#reviews")


# -- the LA officer ------------------------------------------------------------------------

@bp.get("/la")
@login_required
def la_page():
    try:
        return render_template("la_page.html", page=la.la_page(current_core(), _user()))
    except NotFound as err:
        return _not_found(err)


# -- notification settings (everyone) --------------------------------------------------------

@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences_page():
    core, user = current_core(), _user()
    errors, status = {}, 200
    if request.method == "POST":
        rows = preferences.preferences(core, user)
        choices = {row["kind"]: request.form.get(f"mode-{row['kind']}", row["mode"]) for row in rows}
        try:
            preferences.set_preferences(core, user, choices)
            flash("Your notification settings are saved.")
            return redirect(url_for("family.preferences_page"))
        except Invalid as err:
            errors, status = err.details.get("fields", {}), 422
            flash(err.message, "error")
    return render_template("preferences.html", rows=preferences.preferences(core, user), errors=errors,
                           digest_time=core.settings.digest_time, reminder_time=core.settings.lesson_reminder_time), status


# -- API ---------------------------------------------------------------------------------

@api_bp.get("/family/children")
def api_children():
    return jsonify({"children": family_portal.children(current_core(), api_user())})


@api_bp.get("/family/children/<ref>")
def api_child(ref):
    return jsonify(family_portal.child_page(current_core(), api_user(), ref))


@api_bp.put("/family/reminders")
def api_reminders():
    user, body = api_user(), json_body()
    if not family_portal.children(current_core(), user):  # first: a refusal says nothing about the body
        raise NotFound("Lesson reminders are for parents and carers the school has linked to a child.")
    if not isinstance(body.get("on"), bool):
        raise Invalid("Send {\"on\": true} or {\"on\": false}.", {"fields": {"on": ["true or false"]}})
    return jsonify(family_portal.set_reminders(current_core(), user, body["on"]))


@api_bp.post("/family/children/<ref>/feedback")
def api_feedback(ref):
    user, body = api_user(), json_body()
    placement_id = body.get("placement_id")
    result = family_portal.give_feedback(current_core(), user, ref, placement_id if isinstance(placement_id, int) else None,
                                         str(body.get("feedback", "")))
    return jsonify(result), 201 if result["sent"] else 200


@api_bp.post("/family/children/<ref>/review-requests")
def api_review_request(ref):
    user, body = api_user(), json_body()
    placement_id = body.get("placement_id")
    return jsonify(family_portal.ask_for_review(current_core(), user, ref, placement_id if isinstance(placement_id, int) else None,
                                                str(body.get("reason", "")))), 201


@api_bp.get("/la")
def api_la():
    return jsonify(la.la_page(current_core(), api_user()))


@api_bp.get("/preferences")
def api_preferences():
    return jsonify({"preferences": preferences.preferences(current_core(), api_user())})


@api_bp.put("/preferences")
def api_set_preferences():
    user, body = api_user(), json_body()
    choices = body.get("preferences")
    if not isinstance(choices, dict):
        raise Invalid("Send {\"preferences\": {\"kind\": \"immediate\" | \"digest\" | \"in_app\"}}.",
                      {"fields": {"preferences": ["An object of kind: choice."]}})
    return jsonify({"preferences": preferences.set_preferences(current_core(), user, choices)})
