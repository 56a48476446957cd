"""Notification preferences (issue 15, point 7): for each kind of notification a person receives, immediate (in the
app and by e-mail now), a daily digest e-mail, or in the app only; and the daily digest itself, a watch.

Safety alerts (apflow.store.outbox.SAFETY_KINDS) always go at once and cannot be turned down. E-mail, immediate or in
the digest, carries only the words the code that notified chose for e-mail, never child-protection detail or a name.
"""
from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select, update

from apflow.clock import UK, clock
from apflow.errors import Invalid
from apflow.store import outbox
from apflow.store.models import DigestItem, Notification, NotificationPreference, User

from . import permissions
from .core import Core

LESSON_REMINDER = "lesson_reminder"  # families' reminder e-mail the evening before a session (R7): on or off
KINDS = {  # kind -> what it is, in plain words
    "reminder": "Reminders that a task of yours is due soon",
    "escalation": "A task is overdue and has been escalated to you",
    "second_escalation": "A task is still overdue after its escalation",
    "task_alert": "Urgent tasks: a safeguarding concern to answer, a review that found a pupil not safe",
    "unexplained_absence": "A pupil is absent without an explanation",
    "absence_safety": "An absent pupil is not known to be safe",
    "pupil_feels_unsafe": "A pupil says they do not feel safe",
    "absence_reported": "An absence to follow up where no follow-up task could open",
    "register_missing": "Registers you have not marked yet",
    "register_missing_school": "A provider has still not marked a pupil's register",
    "review_requested": "A placement review was asked for",
    "low_engagement": "Lesson reports show repeated low engagement",
    "lesson_material_to_check": "A lesson plan or material to check before parents see it",
    "lesson_material_sent_back": "The school sent back a lesson material you shared",
    "referral_declined": "A provider declined a referral",
    "family_feedback": "Feedback from a parent or carer",
    "progress_update": "Your child's termly progress update",
    "review_invitation": "Invitations to your child's review meetings",
    LESSON_REMINDER: "Lesson reminders the evening before (times and places of the next day's sessions)",
    "provider_compliance_expired": "A provider's insurance or safeguarding confirmation has expired",  # issue 16: R25
    "provider_compliance_due": "A provider's compliance document is due for renewal, expired, or waiting to be accepted",
    "process_message": "Messages a process sends to your role (a diagram's notify step)",  # issue 17: service tasks
}
# who receives which kinds, by role (kinds a person has actually received are offered too, whatever their role)
ROLE_KINDS = {
    "parent": ["progress_update", "review_invitation", LESSON_REMINDER],
    "pupil": [],
    "coordinator": ["unexplained_absence", "absence_reported", "register_missing_school", "review_requested", "low_engagement",
                    "lesson_material_to_check", "referral_declined", "family_feedback"],
    "provider": ["register_missing", "lesson_material_sent_back"],
    "dsl": ["unexplained_absence", "absence_safety", "pupil_feels_unsafe"],
    "deputy_dsl": ["absence_safety", "pupil_feels_unsafe"],
}
STAFF_KINDS = ["reminder", "escalation", "second_escalation", "task_alert"]
MODE_WORDS = {"immediate": "Straight away, in apflow and by e-mail", "digest": "In apflow now, and in one e-mail a day",
              "in_app": "Only in apflow, no e-mail"}
REMINDER_WORDS = {"immediate": "Yes, e-mail me the evening before", "off": "No reminders"}


def _kinds_for(session, user: User) -> list[str]:
    wanted = list(STAFF_KINDS) if permissions.staff_roles(user) else []
    for role in sorted(user.role_names):
        wanted += ROLE_KINDS.get(role, [])
    received = session.scalars(select(Notification.kind).where(Notification.user_id == user.id).distinct())
    wanted += sorted(set(received))
    return list(dict.fromkeys(wanted))


def options(kind: str) -> dict[str, str]:
    """The choices offered for a kind: none for a safety alert (always immediate)."""
    if kind in outbox.SAFETY_KINDS:
        return {"immediate": MODE_WORDS["immediate"]}
    return REMINDER_WORDS if kind == LESSON_REMINDER else MODE_WORDS


def preferences(core: Core, user: User) -> list[dict]:
    """Each kind of notification this person receives, what they chose, and what they may choose."""
    with core.db.session(readonly=True) as session:
        chosen = dict(session.execute(select(NotificationPreference.kind, NotificationPreference.mode)
                                      .where(NotificationPreference.user_id == user.id)).all())
        return [{"kind": kind, "label": KINDS.get(kind, kind.replace("_", " ").capitalize()),
                 "mode": "immediate" if kind in outbox.SAFETY_KINDS else chosen.get(kind, "immediate"),
                 "safety": kind in outbox.SAFETY_KINDS, "options": options(kind)} for kind in _kinds_for(session, user)]


def set_preferences(core: Core, user: User, choices: dict[str, str]) -> list[dict]:
    """Save this person's choices (kind -> mode); a safety alert cannot be turned down, an unknown choice is named."""
    errors = {}
    for kind, mode in choices.items():
        if not isinstance(kind, str) or not isinstance(mode, str) or len(kind) > 40:
            errors[str(kind)[:40]] = ["Choose one of the options offered."]
        elif kind in outbox.SAFETY_KINDS and mode != "immediate":
            errors[kind] = ["Safety alerts always come straight away, in apflow and by e-mail; they cannot wait for a digest."]
        elif mode not in options(kind):
            errors[kind] = [f"Choose one of: {', '.join(options(kind).values())}."]
    if errors:
        raise Invalid("Some choices could not be saved; nothing was changed.", {"fields": errors})
    with core.db.session() as session:
        for kind, mode in choices.items():
            if kind in outbox.SAFETY_KINDS:
                continue
            _save(session, user.id, kind, mode)
    return preferences(core, user)


def _save(session, user_id: int, kind: str, mode: str) -> None:
    row = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))
    if row is None:
        session.add(NotificationPreference(user_id=user_id, kind=kind, mode=mode, updated_at=clock.now()))
    elif row.mode != mode:
        row.mode, row.updated_at = mode, clock.now()


def mode_of(session, user_id: int, kind: str) -> str:
    return outbox.preferred_modes(session, [user_id], kind).get(user_id, "immediate")


def save_mode(session, user_id: int, kind: str, mode: str) -> None:
    """For other use cases that set one choice inside their own transaction (a family's reminders switch)."""
    _save(session, user_id, kind, mode)


# -- the daily digest (a watch) --------------------------------------------------------------------------------


def clock_time(value: str, default: time) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        return default


class _Taken(Exception):
    """Another scheduler sent this person's digest first."""


def send_digests(core: Core) -> int:
    """At the digest time (UK) each day, one e-mail to each person with notifications waiting for their digest, listing
    everything that came before that time. Runs every minute: after the time (and catching up after downtime, even the
    next morning) it sends what is waiting; each person's items are claimed in the transaction that queues the e-mail,
    so two schedulers never send one twice. Returns how many digests were sent."""
    now = clock.now()
    local = now.astimezone(UK)
    cutoff = datetime.combine(local.date(), clock_time(core.settings.digest_time, time(17, 0)), tzinfo=UK)
    if now < cutoff:
        return 0
    with core.db.session(readonly=True) as session:
        waiting = list(session.scalars(select(DigestItem.user_id).where(DigestItem.sent_at.is_(None), DigestItem.created_at < cutoff)
                                       .distinct()))
    sent = 0
    for user_id in waiting:
        try:
            sent += _send_digest(core, user_id, cutoff, now)
        except _Taken:
            continue
    return sent


def _send_digest(core: Core, user_id: int, cutoff: datetime, now: datetime) -> int:
    with core.db.session() as session:
        items = list(session.scalars(select(DigestItem).where(DigestItem.user_id == user_id, DigestItem.sent_at.is_(None),
                                                              DigestItem.created_at < cutoff).order_by(DigestItem.id)))
        if not items:
            return 0
        ids = [i.id for i in items]
        claimed = session.execute(update(DigestItem).where(DigestItem.id.in_(ids), DigestItem.sent_at.is_(None))
                                  .values(sent_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed != len(ids):
            raise _Taken()  # rolls back: the other sender has them
        person = session.get(User, user_id)
        if person is None or not person.active or not person.email:
            return 0
        lines = [f"Hello {person.display_name or person.username},", "",
                 f"Here is what came in for you in apflow since your last summary ({len(items)}):", ""]
        for item in items:
            lines.append(f"- {item.created_at.astimezone(UK):%a %d %b, %H:%M}: {item.text}")
            if item.link:
                lines.append(item.link)
        lines += ["", "You chose to get these in one e-mail a day. Change that on your notification settings page:", "/preferences"]
        outbox.queue_email(session, person.email, f"Your daily apflow summary: {len(items)} notification{'s' if len(items) != 1 else ''}",
                           "\n".join(lines) + "\n")
        return 1
