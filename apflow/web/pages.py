"""Browser pages: sign in and out, and a home page listing the signed-in person's open tasks."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from apflow.services import instances, users
from apflow.services.errors import ServiceError

from .auth import SessionUser, check_csrf, core

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required
def home():
    tasks = instances.list_ready_tasks(core(), current_user.user)
    return render_template("home.html", tasks=tasks, user=current_user.user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = ""
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
        username = request.form.get("username", "")
        try:
            with core().db.session() as s:
                try:
                    user = users.authenticate(s, username, request.form.get("password", ""))
                except ServiceError:
                    s.commit()
                    raise
            login_user(SessionUser(user))
            target = request.args.get("next", "")
            # Only same-site paths, so the login page cannot bounce people to another site.
            if not target.startswith("/") or target.startswith("//") or urlparse(target).netloc:
                target = url_for("pages.home")
            return redirect(target)
        except ServiceError as err:
            error = err.message
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.post("/logout")
def logout():
    check_csrf(request.form.get("csrf_token"))
    logout_user()
    return redirect(url_for("pages.login"))
