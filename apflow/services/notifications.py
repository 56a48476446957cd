"""Telling people: in-app notifications and e-mail through an outbox.

An e-mail is written to the outbox in the same transaction as whatever caused it, and sent
afterwards; when SMTP is down it stays there and is retried with backoff, so none is lost.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select, update

from apflow.clock import clock
from apflow.store.models import Notification, OutboxEmail, User, UserRole

log = logging.getLogger(__name__)
RETRY_BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1)]
SEND_LEASE = timedelta(minutes=5)  # a claimed e-mail is left alone this long by other senders


def role_members(session, role: str) -> list[User]:
    return list(session.scalars(select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True))))


def notify(session, people: list[User], kind: str, message: str, instance_id: int | None = None,
           subject: str | None = None, link: str | None = None) -> None:
    """In-app notification for each person, and an e-mail in the outbox for those with an address."""
    now = clock.now()
    seen = set()
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        session.add(Notification(user_id=person.id, instance_id=instance_id, kind=kind, message=message, created_at=now))
        if person.email:
            body = f"{message}\n\n{link}\n" if link else f"{message}\n"
            session.add(OutboxEmail(to_address=person.email, subject=subject or message[:120], body=body,
                                    created_at=now, next_attempt_at=now, attempts=0))


def list_notifications(session, user: User, unread_only: bool = False) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(200)))


def mark_read(session, user: User, notification_ids: list[int] | None = None) -> None:
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    session.execute(query.values(read_at=clock.now()))


def deliver_outbox(app, limit: int = 100) -> tuple[int, int]:
    """Send due e-mails; returns (sent, failed). Claims first, so several processes never send one twice."""
    settings = app.settings
    if not settings.smtp_host:
        return 0, 0
    claimed = _claim(app, limit)
    if not claimed:
        return 0, 0
    sent = failed = 0
    try:
        connection = _connect(settings)
    except (OSError, smtplib.SMTPException) as err:
        _failed(app, [m.id for m in claimed], f"cannot reach the mail server: {err}")
        return 0, len(claimed)
    try:
        for mail in claimed:
            message = EmailMessage()
            message["From"] = settings.smtp_from
            message["To"] = mail.to_address
            message["Subject"] = mail.subject
            message.set_content(mail.body)
            try:
                connection.send_message(message)
            except (OSError, smtplib.SMTPException) as err:
                _failed(app, [mail.id], str(err))
                failed += 1
                continue
            with app.db.session() as session:
                session.execute(update(OutboxEmail).where(OutboxEmail.id == mail.id)
                                .values(sent_at=clock.now(), attempts=OutboxEmail.attempts + 1, last_error=None))
            sent += 1
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent, failed


def _claim(app, limit: int) -> list[OutboxEmail]:
    with app.db.session() as session:
        now = clock.now()
        query = (select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.next_attempt_at <= now)
                 .order_by(OutboxEmail.id).limit(limit))
        if not app.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        mails = list(session.scalars(query))
        for mail in mails:
            mail.next_attempt_at = now + SEND_LEASE
        session.flush()
        for mail in mails:
            session.expunge(mail)
        return mails


def _failed(app, ids: list[int], error: str) -> None:
    with app.db.session() as session:
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
