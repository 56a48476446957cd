"""Telling people: reading in-app notifications, and sending the e-mail outbox.

An e-mail is written to the outbox in the same transaction as whatever caused it (apflow.store.outbox),
and sent afterwards by deliver_outbox; when SMTP is down it stays there and is retried with backoff, so
none is lost.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, update

from apflow.clock import clock
from apflow.store.models import Notification, OutboxEmail, User

from .core import Core

log = logging.getLogger(__name__)
RETRY_BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1)]
SEND_LEASE = timedelta(minutes=5)  # a claimed e-mail is left alone this long by other senders


def list_notifications(core: Core, user: User, unread_only: bool = False) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    with core.db.session(readonly=True) as session:
        return list(session.scalars(query.order_by(Notification.id.desc()).limit(200)))


def unread_count(core: Core, user: User) -> int:
    with core.db.session(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == user.id,
                                                                                   Notification.read_at.is_(None)))


def mark_read(core: Core, user: User, notification_ids: list[int] | None = None) -> None:
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    with core.db.session() as session:
        session.execute(query.values(read_at=clock.now()))


def absolute_links(body: str, base_url: str) -> str:
    """Links are queued as paths (the code that queues them does not know the site's address); a line that is
    only a path becomes a full address when the e-mail is sent."""
    return "\n".join(base_url + line if line.startswith("/") and " " not in line else line for line in body.split("\n"))


def deliver_outbox(core: Core, limit: int = 100) -> tuple[int, int]:
    """Send due e-mails; returns (sent, failed). Claims first, so several processes never send one twice."""
    settings = core.settings
    if not settings.smtp_host:
        return 0, 0
    claimed = _claim(core, limit)
    if not claimed:
        return 0, 0
    sent = failed = 0
    try:
        connection = _connect(settings)
    except (OSError, smtplib.SMTPException) as err:
        _failed(core, [m.id for m in claimed], f"cannot reach the mail server: {err}")
        return 0, len(claimed)
    try:
        for mail in claimed:
            message = EmailMessage()
            message["From"] = settings.smtp_from
            message["To"] = mail.to_address
            message["Subject"] = mail.subject
            message.set_content(absolute_links(mail.body, settings.base_url))
            try:
                connection.send_message(message)
            except (OSError, smtplib.SMTPException) as err:
                _failed(core, [mail.id], str(err))
                failed += 1
                continue
            with core.db.session() as session:
                session.execute(update(OutboxEmail).where(OutboxEmail.id == mail.id)
                                .values(sent_at=clock.now(), attempts=OutboxEmail.attempts + 1, last_error=None))
            sent += 1
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent, failed


def _claim(core: Core, limit: int) -> list[OutboxEmail]:
    with core.db.session() as session:
        now = clock.now()
        query = (select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.next_attempt_at <= now)
                 .order_by(OutboxEmail.id).limit(limit))
        if not core.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        mails = list(session.scalars(query))
        for mail in mails:
            mail.next_attempt_at = now + SEND_LEASE
        session.flush()
        for mail in mails:
            session.expunge(mail)
        return mails


def _failed(core: Core, ids: list[int], error: str) -> None:
    with core.db.session() as session:
        for mail in session.scalars(select(OutboxEmail).where(OutboxEmail.id.in_(ids))):
            mail.attempts += 1
            mail.last_error = error[:2000]
            mail.next_attempt_at = clock.now() + RETRY_BACKOFF[min(mail.attempts - 1, len(RETRY_BACKOFF) - 1)]
    log.warning("e-mail delivery failed for %d message(s): %s", len(ids), error)


def _connect(settings):
    if settings.smtp_ssl:
        connection = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=10, context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)
        if settings.smtp_starttls:
            connection.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        connection.login(settings.smtp_user, settings.smtp_password)
    return connection
