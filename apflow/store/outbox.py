"""Queue in-app notifications and e-mails in the current transaction, so they exist exactly when what caused
them was committed; apflow.services.notifications sends the e-mails afterwards."""
from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import exists, or_, select, update

from apflow.clock import clock

from .models import (
    CustomRole,
    DigestItem,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxEmail,
    User,
    UserOrganisation,
    UserRole,
)

# Alerts about a pupil's safety always go at once, in the app and by e-mail, whatever the person chose (issue 15, point
# 7): an absence to follow up, a pupil not known to be safe or saying they feel unsafe, a register still missing (nobody
# knows whether the pupil is there), a task marked `alert` (a safeguarding concern to answer, a review that found a
# pupil not safe, an emergency removal) and escalations of late tasks (a concern's response among them).
SAFETY_KINDS = frozenset({"unexplained_absence", "absence_reported", "absence_safety", "pupil_feels_unsafe", "register_missing",
                          "register_missing_school", "task_alert", "escalation", "second_escalation",
                          "provider_compliance_expired"})
MODES = ("immediate", "digest", "in_app")  # in the app and by e-mail now; in the app now and in the daily e-mail; app only


def role_members(session, role: str, organisation_id: int | Collection[int | None] | None) -> list[User]:
    """Active people in a role who work for the organisation given (one, or several), so an alert about a pupil never
    reaches another school's staff. No organisation given means nobody, never everyone (issue 17): a notice for the
    whole installation names its own organisation (installation_organisation)."""
    if isinstance(organisation_id, int):
        organisation_id = [organisation_id]
    wanted = [o for o in organisation_id or () if o is not None]
    if not wanted:
        return []
    carrying = [r.id for r in session.scalars(select(CustomRole)) if role in (r.carries or ())]  # custom roles carrying it (issue 17)
    holds = or_(UserRole.role == role, UserRole.custom_role_id.in_(carrying)) if carrying else UserRole.role == role
    query = select(User).where(User.active.is_(True), exists().where(UserRole.user_id == User.id, holds)).order_by(User.id)
    query = query.where(exists().where(UserOrganisation.user_id == User.id, UserOrganisation.organisation_id.in_(wanted)))
    return list(session.scalars(query))


def installation_organisation(session, organisation_id: int | None = None) -> int | None:
    """organisation_id when known, else the installation's own organisation (a notice about something no organisation
    is recorded for, e.g. a placement made before organisations were set)."""
    if organisation_id is not None:
        return organisation_id
    return session.scalar(select(Organisation.id).where(Organisation.is_default.is_(True)).order_by(Organisation.id).limit(1))


def instance_organisations(instance) -> list[int]:
    """The organisations working on an instance: the commissioner and the provider delivering it."""
    return [o for o in (instance.organisation_id, instance.provider_organisation_id) if o is not None]


# -- sending what was queued (e-mails, webhooks): rows with next_attempt_at, attempts, sent_at, dead_at, claimed_until --

def due(model, now) -> tuple:
    """Conditions for an outbox row to send now: not sent, not given up on, its time come, no sender's lease on it."""
    return (model.sent_at.is_(None), model.dead_at.is_(None), model.next_attempt_at <= now,
            or_(model.claimed_until.is_(None), model.claimed_until < now))


def backoff(cap_seconds: float, attempts: int) -> timedelta:
    """The wait before another try after `attempts` failed ones: 5 s, 10 s, 20 s, ... up to cap_seconds."""
    return timedelta(seconds=min(cap_seconds, 5 * 2 ** min(max(attempts - 1, 0), 16)))


def claim_one(db, model, lease: timedelta):
    """The next due row of `model`, leased to this sender in a committed transaction (detached); None when nothing is due.

    The UPDATE repeats the conditions, so of two senders that picked the same row only one changes it (on PostgreSQL the
    second waits for the first to commit, then finds the lease taken; SQLite runs one writer at a time)."""
    for _ in range(10):
        with db.session() as session:
            now = clock.now()
            candidates = list(session.scalars(select(model.id).where(*due(model, now)).order_by(model.id).limit(5)))
            if not candidates:
                return None
            for row_id in candidates:
                claimed = session.execute(update(model).where(model.id == row_id, *due(model, now))
                                          .values(claimed_until=now + lease).execution_options(synchronize_session=False))
                if claimed.rowcount == 1:
                    row = session.get(model, row_id)
                    session.expunge(row)
                    return row
    return None


def queue_email(session, to_address: str, subject: str, body: str) -> None:
    """An e-mail in the outbox, sent once this transaction commits."""
    now = clock.now()
    session.add(OutboxEmail(to_address=to_address, subject=subject, body=body, created_at=now, next_attempt_at=now, attempts=0))


def notify(session, people: list[User], kind: str, message: str, instance_id: int | None = None,
           subject: str | None = None, link: str | None = None, email: str | None = None) -> None:
    """In-app notification for each person, and an e-mail in the outbox for those with an address.

    email: the e-mail's text when it must say less than the in-app message (e-mail leaves the product, so
    alerts about a pupil say only that something needs attention, with the link; never a name or detail). A person
    who chose a daily digest for this kind gets that text in their next digest instead; in_app, no e-mail."""
    now = clock.now()
    seen = set()
    modes = {} if kind in SAFETY_KINDS else preferred_modes(session, [p.id for p in people], kind)
    page = link if link and link.startswith("/") else (f"/placements/{instance_id}" if instance_id else None)
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        session.add(Notification(user_id=person.id, instance_id=instance_id, kind=kind, message=message, created_at=now, link=page))
        mode = modes.get(person.id, "immediate")
        if person.email and mode != "in_app":
            text = email or message
            if mode == "digest":
                session.add(DigestItem(user_id=person.id, kind=kind, text=text, link=page, created_at=now))
                continue
            body = f"{text}\n\n{link}\n" if link else f"{text}\n"
            queue_email(session, person.email, subject or text[:120], body)


def preferred_modes(session, user_ids: list[int], kind: str) -> dict[int, str]:
    """What each of these people chose for this kind of notification (no row: immediate)."""
    if not user_ids:
        return {}
    return dict(session.execute(select(NotificationPreference.user_id, NotificationPreference.mode)
                                .where(NotificationPreference.user_id.in_(user_ids), NotificationPreference.kind == kind)).all())
