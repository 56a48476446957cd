"""Telling people: reading in-app notifications, and sending the e-mail outbox.

An e-mail is written to the outbox in the same transaction as whatever caused it (apflow.store.outbox),
and sent afterwards by deliver_outbox; when SMTP is down it stays there and goes as soon as SMTP is back, so
none is lost. One the server refuses for good (5xx), or for now too many times, goes dead: managers see it on
the "Undelivered e-mail" page and can send it again.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, update

from apflow.clock import clock
from apflow.errors import Forbidden, NotFound
from apflow.store import outbox
from apflow.store.models import Notification, OutboxEmail, User

from .core import Core
from .permissions import is_manager

log = logging.getLogger(__name__)
SEND_LEASE = timedelta(minutes=5)  # at least this long a claimed e-mail is left alone by other senders (send_lease)


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
    """Send due e-mails, one at a time; returns (sent, failed).

    Each message is claimed with a lease in a transaction of its own (so two senders never hold one message), sent,
    then marked sent in another: a sender that dies between sending and marking sends it again once the lease ends
    (at least once). Nothing is claimed while the mail server cannot be reached, so an outage costs no message a try.
    """
    settings = core.settings
    if not settings.smtp_host or not _any_due(core):
        return 0, 0
    sent = failed = 0
    connection = None
    try:
        for _ in range(limit):
            if connection is None:
                try:
                    connection = _connect(settings)
                except (OSError, smtplib.SMTPException) as err:
                    log.warning("cannot reach the mail server %s:%s (%s); e-mail waits in the outbox and is tried again shortly",
                                settings.smtp_host, settings.smtp_port, err)
                    break
            mail = outbox.claim_one(core.db, OutboxEmail, send_lease(settings))
            if mail is None:
                break
            try:
                connection.send_message(_message(settings, mail))
            except (ValueError, UnicodeError, smtplib.SMTPNotSupportedError) as err:  # e.g. an address it cannot take: never will
                _failed(core, settings, mail.id, f"the message cannot be sent as written: {err}", permanent=True)
                failed += 1
            except smtplib.SMTPResponseException as err:
                if err.smtp_code == 421:  # the server is closing the connection: not this message's fault
                    _released(core, mail.id, _reply_text(err.smtp_code, err.smtp_error))
                    connection = _hang_up(connection)
                    break
                _failed(core, settings, mail.id, _reply_text(err.smtp_code, err.smtp_error), permanent=_permanent(err.smtp_code))
                failed += 1
            except smtplib.SMTPRecipientsRefused as err:
                replies = list(err.recipients.values())
                _failed(core, settings, mail.id, "; ".join(_reply_text(code, text) for code, text in replies),
                        permanent=all(_permanent(code) for code, _ in replies))
                failed += 1
            except (OSError, smtplib.SMTPException) as err:
                # The connection broke or a reply timed out: the server may be in any state, so this connection is
                # not used again (a late reply would be read as the answer to the next message). The message is not
                # charged a try and goes again with the next pass.
                _released(core, mail.id, f"the connection to the mail server failed: {err or err.__class__.__name__}")
                connection = _hang_up(connection)
                break
            else:
                _sent(core, mail.id)
                sent += 1
    finally:
        if connection is not None:
            _hang_up(connection, polite=True)
    return sent, failed


def send_lease(settings) -> timedelta:
    """How long a claimed e-mail is left alone by other senders: well beyond the longest one send can take (each
    SMTP command gives up after smtp_timeout), so a message is never sent by two senders at once."""
    return max(SEND_LEASE, timedelta(seconds=settings.smtp_timeout * 20))


def retry_after(settings, attempts: int) -> timedelta:
    """The wait before another try of an e-mail the server refused for now: 5 s, 10 s, 20 s, ... capped low
    (mail_retry_cap_seconds), so mail flows again soon after the server recovers."""
    return outbox.backoff(settings.mail_retry_cap_seconds, attempts)


def _any_due(core: Core) -> bool:
    with core.db.session(readonly=True) as session:
        return session.scalar(select(OutboxEmail.id).where(*outbox.due(OutboxEmail, clock.now())).limit(1)) is not None


def _message(settings, mail: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message.set_content(absolute_links(mail.body, settings.base_url))
    return message


def _sent(core: Core, mail_id: int) -> None:
    with core.db.session() as session:
        session.execute(update(OutboxEmail).where(OutboxEmail.id == mail_id)
                        .values(sent_at=clock.now(), attempts=OutboxEmail.attempts + 1, last_error=None, claimed_until=None))


def _released(core: Core, mail_id: int, error: str) -> None:
    """Give a claimed e-mail back, not charged a try (the connection failed, not the message)."""
    with core.db.session() as session:
        session.execute(update(OutboxEmail).where(OutboxEmail.id == mail_id).values(claimed_until=None, last_error=error[:2000]))
    log.warning("e-mail %s not sent, tried again shortly: %s", mail_id, error)


def _failed(core: Core, settings, mail_id: int, error: str, permanent: bool) -> None:
    """The server refused the e-mail: at once for good (5xx) or for now (4xx, tried again after a backoff until
    mail_max_attempts tries). A message given up on is dead: managers see it and can send it again."""
    with core.db.session() as session:
        mail = session.get(OutboxEmail, mail_id)
        now = clock.now()
        mail.attempts += 1
        mail.last_error = error[:2000]
        mail.claimed_until = None
        if permanent or mail.attempts >= settings.mail_max_attempts:
            mail.dead_at = now
        else:
            mail.next_attempt_at = now + retry_after(settings, mail.attempts)
    if permanent or mail.dead_at is not None:
        log.warning("e-mail %s given up after %d tries: %s", mail_id, mail.attempts, error)
    else:
        log.warning("e-mail %s refused for now (try %d): %s", mail_id, mail.attempts, error)


def _permanent(code: int) -> bool:
    return 500 <= code < 600


def _reply_text(code: int, text) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"the mail server answered {code} {text}".strip()


def _hang_up(connection, polite: bool = False) -> None:
    """End a connection; after a failure without QUIT (the server may not answer), only closing the socket."""
    try:
        if polite:
            connection.quit()
        else:
            connection.close()
    except (OSError, smtplib.SMTPException):
        connection.close()
    return None


# -- undelivered e-mail (managers) ---------------------------------------------------------------

def undelivered(core: Core, user: User) -> list[dict]:
    """E-mails given up on, newest first: recipient and subject only (the text may be about a pupil)."""
    _require_manager(user)
    with core.db.session(readonly=True) as session:
        rows = session.execute(select(OutboxEmail.id, OutboxEmail.to_address, OutboxEmail.subject)
                               .where(OutboxEmail.dead_at.is_not(None), OutboxEmail.sent_at.is_(None))
                               .order_by(OutboxEmail.dead_at.desc(), OutboxEmail.id.desc()).limit(500))
        return [{"id": row.id, "to": row.to_address, "subject": row.subject} for row in rows]


def send_again(core: Core, user: User, mail_id: int) -> None:
    """Put an e-mail given up on back in the outbox, with all its tries again (after the address was fixed, say)."""
    _require_manager(user)
    with core.db.session() as session:
        done = session.execute(update(OutboxEmail).where(OutboxEmail.id == mail_id, OutboxEmail.dead_at.is_not(None),
                                                         OutboxEmail.sent_at.is_(None))
                               .values(dead_at=None, attempts=0, next_attempt_at=clock.now(), claimed_until=None, last_error=None))
        if done.rowcount != 1:
            raise NotFound("There is no undelivered e-mail with that number; it may have been sent again already.")


def _require_manager(user: User) -> None:
    if not is_manager(user):
        raise Forbidden("Only managers can see and resend undelivered e-mail.")


def _connect(settings):
    if settings.smtp_ssl:
        connection = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                                      context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        if settings.smtp_starttls:
            connection.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        connection.login(settings.smtp_user, settings.smtp_password)
    return connection
