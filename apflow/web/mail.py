"""Undelivered e-mail (managers): the messages the mail server refused for good, or too many times, with "Send again"."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import ServiceError
from apflow.services import notifications

from .auth import check_csrf, current_core

bp = Blueprint("mail", __name__)


@bp.get("/mail/undelivered")
@login_required
def undelivered_page():
    try:
        messages = notifications.undelivered(current_core(), current_user.user)
    except ServiceError as err:
        return render_template("message.html", title="Not available", message=err.message), err.status
    return render_template("undelivered_mail.html", messages=messages)


@bp.post("/mail/undelivered/<int:mail_id>/send-again")
@login_required
def send_again(mail_id):
    check_csrf(request.form.get("csrf_token"))
    try:
        notifications.send_again(current_core(), current_user.user, mail_id)
        flash("Back in the outbox: it goes with the next send, within seconds.")
    except ServiceError as err:
        flash(err.message, "error")
    return redirect(url_for("mail.undelivered_page"))
