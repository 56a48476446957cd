"""Browser pages: sign in and out, and a home page listing the signed-in person's open tasks."""
from __future__ import annotations

import secrets
from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from apflow.errors import ServiceError
from apflow.services import calendars, deadlines, families, instances, notifications, permissions, processes, pupils

from . import auth
from .auth import check_csrf, current_core

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def unread_notifications():
    """The unread count beside 'Notifications' on every signed-in page."""
    if not current_user.is_authenticated:
        return {}
    return {"unread_notifications": notifications.unread_count(current_core(), current_user.user)}


@bp.get("/")
@login_required
def home():
    if current_user.user.role_names == {"parent"}:  # a parent lands on their child's page (issue 15)
        return redirect(url_for("family.family_home"))
    return redirect(url_for("inbox.inbox_page"))


@bp.get("/start")
@login_required
def start_page():
    return render_template("start.html", startable=processes.startable(current_core(), current_user.user), nonce=secrets.token_urlsafe(16))


@bp.post("/start/<process_id>")
@login_required
def start(process_id):
    """Start a process and go straight to its first task. A form sent twice (a double click, a resend) starts
    it once: the page's one-time token remembers the instance it started."""
    check_csrf(request.form.get("csrf_token"))
    core, user = current_core(), current_user.user
    nonce = request.form.get("nonce", "")[:64]
    started = session.setdefault("started", {})
    instance_id = started.get(nonce)
    if instance_id is None:
        try:
            # From a pupil's page, a referral starts with the pupil's details on record.
            seed = pupils.referral_seed(core, user, request.form["pupil"][:100]) if request.form.get("pupil") else {}
            instance_id = instances.start_instance(core, user, process_id, seed)["id"]
        except ServiceError as err:
            flash(err.message, "error")
            return redirect(url_for("pages.start_page"))
        if nonce:
            session["started"] = {**dict(list(started.items())[-20:]), nonce: instance_id}
    mine = [t for t in instances.list_ready_tasks(core, user, instance_id)
            if t["assignee"] == user.username or (t["assignee"] is None and t["role"] in permissions.staff_roles(user))]
    if mine:
        return redirect(url_for("inbox.task_page", task_id=mine[0]["id"]))
    flash("Started. Its first task is with another role; you can follow it here.")
    return redirect(url_for("inbox.placement_page", instance_id=instance_id))


@bp.get("/dashboard")
@login_required
def dashboard():
    user = current_user.user
    if not permissions.can(user, "dashboard.view"):
        return render_template("message.html", title="Not available",
                               message="Only managers, headteachers and AP coordinators can see the deadlines dashboard."), 403
    return render_template("dashboard.html", board=deadlines.dashboard(current_core(), user),
                           escalations=deadlines.list_escalations(current_core(), user), can_acknowledge=permissions.is_manager(user))


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@login_required
def acknowledge(escalation_id):
    check_csrf(request.form.get("csrf_token"))
    try:
        deadlines.acknowledge(current_core(), current_user.user, escalation_id, request.form.get("note", ""))
        flash("Acknowledged: the headteacher will not be escalated to.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("pages.dashboard"))


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar():
    user = current_user.user
    error, status, text = None, 200, ""
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
        upload = request.files.get("file")
        text = upload.read().decode("utf-8", "replace") if upload and upload.filename else request.form.get("csv", "")
        try:
            calendars.import_csv(current_core(), text, by=user.username, user=user)
            return redirect(url_for("pages.calendar", saved=1))
        except ServiceError as err:
            error, status = err.message, err.status
    return render_template("calendar.html", calendar=calendars.current(current_core()), can_edit=permissions.can(user, "calendar.edit"),
                           error=error, csv_text=text, saved=request.args.get("saved")), status


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notification_list():
    user = current_user.user
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
        notifications.mark_read(current_core(), user)
        return redirect(url_for("pages.notification_list"))
    return render_template("notifications.html", notifications=notifications.list_notifications(current_core(), user))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    username = ""
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
        username = request.form.get("username", "")
        try:
            auth.sign_in(username, request.form.get("password", ""))
            target = request.args.get("next", "")
            # Only same-site paths, so the login page cannot bounce people to another site.
            if not target.startswith("/") or target.startswith("//") or urlparse(target).netloc:
                # a parent lands on their child's page (issue 15), everyone else on their inbox
                parent = current_user.is_authenticated and current_user.user.role_names == {"parent"}
                target = url_for("family.family_home") if parent else url_for("inbox.inbox_page")
            return redirect(target)
        except ServiceError as err:
            error, status = err.message, (429 if err.status == 429 else 401)
    return render_template("login.html", error=error, username=username), status


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token):
    """An invited parent or carer chooses their password from the link in their e-mail (the link works once)."""
    errors, status = {}, 200
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
        try:
            username = families.accept_invitation(current_core(), token[:100], request.form.get("password", ""), request.form.get("confirm", ""))
            flash(f"Your password is set. Sign in with your username, {username}.")
            return redirect(url_for("pages.login"))
        except ServiceError as err:
            errors, status = err.details.get("fields") or {"password": [err.message]}, err.status
    elif not families.invitation_valid(current_core(), token[:100]):
        return render_template("message.html", title="This link no longer works",
                               message="It has been used or has lapsed. Ask your child's school to send a new invitation."), 404
    return render_template("welcome.html", errors=errors), status


@bp.post("/logout")
def logout():
    """Sign out: every browser session of the person ends (a copied session cookie stops working too); with
    `everywhere`, their API tokens are revoked as well."""
    check_csrf(request.form.get("csrf_token"))
    everywhere = bool(request.form.get("everywhere"))
    revoked = auth.sign_out(everywhere=everywhere)
    logout_user()
    if everywhere:
        flash(f"You are signed out everywhere: on every browser, and {revoked} API token(s) no longer work.")
    return redirect(url_for("pages.login"))
