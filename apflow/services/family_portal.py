"""The family's side (issue 15: R6, R7, R73, R77): a parent or carer's page for each child the school linked them to,
with the timetable and where each session is, attendance, lesson reports and materials, reviews and invitations,
termly progress updates, the family's own forms; asking for a review, giving feedback, and lesson reminder e-mails
the evening before (a watch).

A parent reaches only children the school linked to them (permissions "family.child"); anyone else gets the same
NotFound whether the child exists or not. Nothing here reads concerns, child-protection records, incidents, the
placement's history or the school's notes: a family page, e-mail or notification cannot carry them.
"""
from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from apflow.clock import UK, clock
from apflow.errors import Invalid, NotFound
from apflow.placements import lessons, registers
from apflow.placements.common import today
from apflow.placements.models import Communication, LessonReminder, LogEntry, Placement, Provider, Pupil, PupilContact, TimetableSession
from apflow.school_calendar import NoCalendar
from apflow.store import outbox
from apflow.store.models import HumanTask, Instance, NotificationPreference, PendingTimer, User

from . import incidents, permissions, preferences
from .core import Core

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
VENUES = {"provider_site": "At the provider", "home": "At home", "community": "In the community", "school": "At school"}
# what a family reads for each placement status: plain, and saying nothing of why a placement is on hold
STATUS_WORDS = {"referred": "Being arranged", "planning": "Being arranged", "approved": "Being arranged", "active": "Running",
                "ending": "Coming to an end", "suspended": "On hold: the school will be in touch", "removed": "Ended",
                "ended": "Ended", "withdrawn": "Not going ahead", "declined": "Not going ahead"}
RUNNING = ("active", "ending")
REVIEW_STEPS = ("Invite everyone to the review", "Progress report for the review", "Hold the placement review")  # placement_review.bpmn
NO_TIMETABLE = ("suspended", "removed", "ended", "withdrawn", "declined")
ATTENDANCE_DAYS = 28
FEEDBACK_SAME_WITHIN = timedelta(minutes=10)  # the same words sent again this soon are a double submit, not new feedback


def _not_yours(ref: str) -> NotFound:
    return NotFound(f"There is no child {ref} on your account. If this is your child, ask their school to link you.")


def _child(session, user: User, ref: str) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.ref == str(ref)[:100]))
    if pupil is None or not permissions.can(user, "family.child", pupil.id, session):
        raise _not_yours(ref)
    return pupil


def _placement(session, pupil: Pupil, placement_id) -> Placement:
    placement = session.get(Placement, placement_id) if isinstance(placement_id, int) else None
    if placement is None or placement.pupil_id != pupil.id:
        raise NotFound("There is no such placement for this child.")
    return placement


def children(core: Core, user: User) -> list[dict]:
    """The children the school linked to this parent or carer, by name."""
    if "parent" not in user.role_names:
        return []
    with core.db.session(readonly=True) as session:
        rows = session.execute(select(Pupil.ref, Pupil.name).join(PupilContact, PupilContact.pupil_id == Pupil.id)
                               .where(PupilContact.user_id == user.id, PupilContact.removed_at.is_(None))
                               .distinct().order_by(Pupil.name))
        return [{"ref": ref, "name": name} for ref, name in rows]


def child_page(core: Core, user: User, ref: str) -> dict:
    """Everything a family sees about one child: each placement with its timetable, attendance, lesson reports,
    materials, reviews and progress updates; the family's forms; whether lesson reminders are on."""
    with core.db.session(readonly=True) as session:
        pupil = _child(session, user, ref)
        placements = list(session.scalars(select(Placement).where(Placement.pupil_id == pupil.id).order_by(Placement.id.desc())))
        placements.sort(key=lambda p: p.status not in RUNNING)  # the running one first
        reminders = preferences.mode_of(session, user.id, preferences.LESSON_REMINDER) != "off"
        return {"pupil": {"ref": pupil.ref, "name": pupil.name},
                "placements": [_placement_dict(session, p) for p in placements],
                "tasks": _family_tasks(session, user, pupil),
                "reminders": {"on": reminders, "email": user.email or None}}


def _placement_dict(session, p: Placement) -> dict:
    provider = session.get(Provider, p.provider_id) if p.provider_id else None
    sessions = [] if p.status in NO_TIMETABLE else list(session.scalars(
        select(TimetableSession).where(TimetableSession.placement_id == p.id).order_by(TimetableSession.weekday, TimetableSession.starts)))
    now_day = today()
    result = {"id": p.id, "status": p.status, "status_words": STATUS_WORDS.get(p.status, p.status.replace("_", " ").capitalize()),
            "provider": provider.name if provider else None, "running": p.status in RUNNING,
            "start_date": p.start_date.isoformat() if p.start_date else None, "end_date": p.end_date.isoformat() if p.end_date else None,
            "timetable": [_session_dict(s) for s in sessions],
            "attendance": _attendance(session, p.id, now_day - timedelta(days=ATTENDANCE_DAYS), now_day),
            "lesson_reports": lessons.family_lesson_reports(session, p.id, 10),
            "materials": lessons.family_materials(session, p.id),
            "reviews": _reviews(session, p, now_day),
            "progress_updates": _updates(session, p.id),
            "can_ask_for_review": p.status in RUNNING and p.instance_id is not None}
    result["can_ask_for_review"] = result["can_ask_for_review"] and not result["reviews"]["under_way"]
    return result


def _session_dict(s: TimetableSession) -> dict:
    return {"day": WEEKDAYS[s.weekday], "weekday": s.weekday, "starts": s.starts, "ends": s.ends, "activity": s.activity,
            "where": VENUES.get(s.venue_kind, s.venue_kind.replace("_", " ").capitalize()), "address": s.address}


def _attendance(session, placement_id: int, since, until) -> list[dict]:
    """The provider's registers as a family reads them: attended, late, absent or not recorded yet; no note, no code."""
    return registers.family_attendance(session, placement_id, since, until)


def _reviews(session, p: Placement, now_day) -> dict:
    """Review meetings the family is invited to, the next review due, and one under way."""
    invitations = []
    for c in session.scalars(select(Communication).where(Communication.placement_id == p.id, Communication.kind == "review_invitation")
                             .order_by(Communication.at.desc())):
        if "parents" in (c.content.get("invited") or []) and c.content.get("meeting_on"):
            invitations.append({"meeting_on": c.content["meeting_on"], "upcoming": c.content["meeting_on"] >= now_day.isoformat(),
                                "invited_on": c.at.astimezone(UK).date().isoformat()})
    next_after = under_way = None
    if p.instance_id and p.status in RUNNING:
        after = session.scalar(select(func.min(PendingTimer.due_at)).where(PendingTimer.instance_id == p.instance_id,
                                                                           PendingTimer.spec_id == "Timer_half_term"))
        next_after = after.astimezone(UK).date().isoformat() if after else None
        ready = dict(session.execute(select(HumanTask.name, HumanTask.due_at).where(
            HumanTask.instance_id == p.instance_id, HumanTask.state == "ready", HumanTask.name.in_(REVIEW_STEPS))).all())
        if ready:
            held_by = ready.get("Hold the placement review")
            under_way = held_by.astimezone(UK).date().isoformat() if held_by else ""
    return {"invitations": invitations, "next_after": next_after, "under_way": under_way is not None, "held_by": under_way or None}


def _updates(session, placement_id: int) -> list[dict]:
    rows = session.scalars(select(Communication).where(Communication.placement_id == placement_id, Communication.kind == "progress_update")
                           .order_by(Communication.at.desc()))
    return [{"sent_on": c.content.get("update_sent_on") or c.at.astimezone(UK).date().isoformat(), "summary": c.content.get("update_summary") or "",
             "visit_offered": bool(c.content.get("visit_offered"))} for c in rows]


def _family_tasks(session, user: User, pupil: Pupil) -> dict:
    """The family's forms for this child: waiting ones (consent, feedback) to fill in, and ones already sent."""
    mine = list(session.scalars(select(HumanTask).where(HumanTask.pupil_ref == pupil.ref,
                                                        or_(HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id))
                                .order_by(HumanTask.created_at.desc()).limit(50)))
    return {"waiting": [{"id": t.id, "name": t.name, "due_at": t.due_at.isoformat() if t.due_at else None} for t in mine if t.state == "ready"],
            "done": [{"id": t.id, "name": t.name, "completed_at": t.completed_at.isoformat() if t.completed_at else None}
                     for t in mine if t.state == "completed"]}


def set_reminders(core: Core, user: User, on: bool) -> dict:
    """Switch this parent's lesson reminder e-mails on or off (R7)."""
    if not children(core, user):
        raise NotFound("Lesson reminders are for parents and carers the school has linked to a child.")
    with core.db.session() as session:
        preferences.save_mode(session, user.id, preferences.LESSON_REMINDER, "immediate" if on else "off")
    return {"on": bool(on), "email": user.email or None}


def ask_for_review(core: Core, user: User, ref: str, placement_id: int, reason: str) -> dict:
    """A parent asks for a review of their child's placement and plan (R73), through the same path as staff."""
    with core.db.session(readonly=True) as session:
        _placement(session, _child(session, user, ref), placement_id)
    return incidents.ask_for_review(core, user, placement_id, reason)


def give_feedback(core: Core, user: User, ref: str, placement_id: int, text: str) -> dict:
    """The family's feedback at any time (R77): recorded on the placement and sent to the school's coordinators."""
    text = (text or "").strip()
    with core.db.session() as session:
        pupil = _child(session, user, ref)
        placement = _placement(session, pupil, placement_id)
        if not 5 <= len(text) <= 4000:
            raise Invalid("Your feedback was not sent.", {"fields": {"feedback": ["Write your feedback in a few words (up to 4,000 characters)."]}})
        since = clock.now() - FEEDBACK_SAME_WITHIN
        for earlier in session.scalars(select(Communication).where(Communication.placement_id == placement.id, Communication.kind == "family_feedback",
                                                                   Communication.recorded_by == user.username, Communication.at >= since)):
            if earlier.content.get("feedback") == text:
                return {"id": earlier.id, "sent": False}
        row = Communication(placement_id=placement.id, kind="family_feedback", audience="school",
                            content={"feedback": text, "from": user.display_name or user.username}, at=clock.now(), recorded_by=user.username)
        session.add(row)
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=clock.now(),
                             actor_id=user.id, actor=user.username, kind="family_feedback", record="communications", record_id=row.id,
                             summary=f"Feedback from {user.display_name or user.username}: {text[:500]}"))
        organisation = pupil.organisation_id
        if organisation is None and placement.instance_id:
            organisation = session.scalar(select(Instance.organisation_id).where(Instance.id == placement.instance_id))
        organisation = outbox.installation_organisation(session, organisation)
        outbox.notify(session, outbox.role_members(session, "coordinator", organisation), "family_feedback",
                      f"Feedback from {user.display_name or user.username} about {pupil.name} ({pupil.ref}): {text[:300]}",
                      instance_id=placement.instance_id, subject="A parent or carer has sent feedback",
                      email="A parent or carer has sent feedback about a placement. Open apflow to read it:",
                      link=f"/placements/{placement.instance_id}" if placement.instance_id else f"/pupils/{pupil.ref}")
        return {"id": row.id, "sent": True}


# -- lesson reminders the evening before (R7), a watch -----------------------------------------------------------


def send_lesson_reminders(core: Core) -> int:
    """From the reminder time (UK) on a school day, one e-mail to each linked parent with an e-mail address and
    reminders on, listing their children's sessions on the next school day. Catches up if the scheduler was down in
    the evening; after midnight it is a new day and the reminder is not sent late. Each parent's reminder is claimed
    by a row unique per parent and day, written with the e-mail, so two schedulers never send it twice."""
    now = clock.now()
    local = now.astimezone(UK)
    try:
        calendar = core.calendar()
    except NoCalendar:
        return 0
    at = preferences.clock_time(core.settings.lesson_reminder_time, time(18, 0))
    if not calendar.is_school_day(local.date()) or local.time() < at:
        return 0
    day = calendar.next_school_day(local.date(), include_today=False)
    sessions = _sessions_on(core, day)
    sent = 0
    for user_id, rows in sessions.items():
        try:
            sent += _remind(core, user_id, day, rows, tomorrow=day == local.date() + timedelta(days=1))
        except IntegrityError:
            continue  # another scheduler sent it first
    return sent


def _sessions_on(core: Core, day) -> dict[int, list[tuple]]:
    """Parent user id -> [(provider, TimetableSession)] of every running placement of their children on `day`."""
    with core.db.session(readonly=True) as session:
        rows = session.execute(
            select(PupilContact.user_id, Provider.name, TimetableSession)
            .join(Placement, Placement.pupil_id == PupilContact.pupil_id)
            .join(TimetableSession, TimetableSession.placement_id == Placement.id)
            .outerjoin(Provider, Provider.id == Placement.provider_id)
            .join(User, User.id == PupilContact.user_id)
            .where(PupilContact.removed_at.is_(None), User.active.is_(True), User.email.is_not(None), User.email != "",
                   Placement.status.in_(RUNNING), TimetableSession.weekday == day.weekday(),
                   (Placement.start_date.is_(None)) | (Placement.start_date <= day), (Placement.end_date.is_(None)) | (Placement.end_date >= day),
                   ~exists().where(LessonReminder.user_id == PupilContact.user_id, LessonReminder.day == day))
            .order_by(PupilContact.user_id, TimetableSession.starts))
        found: dict[int, list[tuple]] = {}
        seen = set()
        for user_id, provider, timetabled in rows:
            if (user_id, timetabled.id) not in seen:  # a parent linked twice to one child gets each session once
                seen.add((user_id, timetabled.id))
                found.setdefault(user_id, []).append((provider, _session_dict(timetabled), timetabled.placement_id))
        off = set(session.scalars(select(NotificationPreference.user_id).where(
            NotificationPreference.user_id.in_(list(found) or [-1]), NotificationPreference.kind == preferences.LESSON_REMINDER,
            NotificationPreference.mode == "off")))
        return {u: rows for u, rows in found.items() if u not in off}


def _remind(core: Core, user_id: int, day, rows: list[tuple], tomorrow: bool) -> int:
    with core.db.session() as session:
        person = session.get(User, user_id)
        session.add(LessonReminder(user_id=user_id, day=day, sessions=len(rows), sent_at=clock.now()))
        session.flush()  # a second scheduler's reminder for this parent and day stops here
        when = f"{day:%A} {day.day} {day:%B}"
        lines = [f"Hello {person.display_name or person.username},", "",
                 f"{'Tomorrow' if tomorrow else 'On ' + when} ({when}) the sessions are:", ""]
        placements = list(dict.fromkeys(p for _, _, p in rows))
        for placement_id in placements:
            here = [(provider, s) for provider, s, p in rows if p == placement_id]
            if len(placements) > 1:
                lines.append(f"At {here[0][0] or 'the provider'}:")
            for _, s in here:
                lines += [f"{s['starts']} to {s['ends']}  {s['activity'] or 'Session'}", f"{s['where']}: {s['address']}", ""]
        lines += ["The timetable, attendance and lesson reports are on your page in apflow:", "/family", "",
                  "You can switch these reminders off on that page."]
        outbox.queue_email(session, person.email, f"Lessons {'tomorrow' if tomorrow else 'on ' + when}: {len(rows)} session{'s' if len(rows) != 1 else ''}",
                           "\n".join(lines) + "\n")
        return 1



def gets_reminders(session, user_ids: list[int]) -> set[int]:
    """Which of these parents' accounts get lesson reminder e-mails: active, with an e-mail address, not switched off."""
    if not user_ids:
        return set()
    off = select(NotificationPreference.user_id).where(NotificationPreference.kind == preferences.LESSON_REMINDER,
                                                       NotificationPreference.mode == "off")
    return set(session.scalars(select(User.id).where(User.id.in_(user_ids), User.active.is_(True), User.email.is_not(None),
                                                     User.email != "", User.id.not_in(off))))
