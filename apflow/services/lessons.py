"""Lessons at the provider, as people use them (R7, R63, R72, R115): a tutor's sessions of the day and the reports
still to write; writing a lesson report with engagement scores; reading them (the school, the provider, the family);
lesson plans and materials shared in advance, checked by the school, then open to parents; and pupil views that staff
gather in a one-to-one discussion or an adapted questionnaire.

Who may do what is decided in permissions: "lessons.teach" (the delivering provider's staff), "lessons.check" (the
commissioning school), "pupil_views.record", "placement.view" and "family.child" (a parent the school linked).
Repeated low engagement opens a review once per episode through the placement's review_requested signal.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import undefer

from apflow.errors import Forbidden, Invalid, NotFound, ServiceError
from apflow.placements import lessons as rules
from apflow.placements.common import UK, now, today
from apflow.placements.models import (
    Communication,
    EngagementReview,
    LessonMaterial,
    LessonReport,
    LogEntry,
    Placement,
    Provider,
    Pupil,
    PupilViewRecord,
    TimetableSession,
)
from apflow.school_calendar import NoCalendar
from apflow.store import outbox
from apflow.store.models import Document, HumanTask, Instance, User

from . import documents, instances, permissions
from .core import Core

log = logging.getLogger(__name__)

ACTIVE = ("active", "ending")
COVERED_MAX, COMMENT_MAX = 4000, 2000
PUPIL_VIEWS_TASK = "pupil_feedback.schema.json"  # the pupil's own questionnaire (Task_pupil_views)
METHODS = {"one_to_one": "One-to-one discussion", "questionnaire": "Adapted questionnaire"}
ADAPTATIONS = {"read_aloud": "Read aloud", "symbols": "Symbols or pictures", "simplified": "Simplified wording", "other": "Other"}
FEEL_SAFE = {"yes": "Yes", "mostly": "Mostly", "no": "No"}
CONTINUE = {"yes": "Yes", "not_sure": "Not sure", "no": "No"}


def _calendar(core: Core):
    """The term calendar; with none set up, a plain refusal instead of a failure (sessions happen on school days)."""
    try:
        return core.calendar()
    except NoCalendar as err:
        raise Invalid(str(err)) from None


def _name(user: User) -> str:
    return user.display_name or user.username


def _readable(session, user: User, placement_id: int) -> tuple[Placement, bool]:
    """The placement and whether the reader is a family member, if they may read its lessons; else NotFound."""
    placement = session.get(Placement, placement_id)
    if placement is None:
        raise NotFound(f"There is no placement {placement_id} that you can see.")
    if permissions.staff_roles(user):
        if permissions.can(user, "placement.view", placement, session):
            return placement, False
    elif permissions.can(user, "family.child", placement.pupil_id, session) or permissions.can(user, "placement.view", placement, session):
        return placement, True
    raise NotFound(f"There is no placement {placement_id} that you can see.")


def placement_for_instance(core: Core, user: User, instance_id: int) -> int:
    """The placement a page keyed by its workflow instance shows, if this person may read its lessons."""
    with core.db.session(readonly=True) as session:
        placement_id = session.scalar(select(Placement.id).where(Placement.instance_id == instance_id))
        if placement_id is None:
            raise NotFound(f"There is no placement {instance_id} that you can see.")
        _readable(session, user, placement_id)
        return placement_id


# -- the tutor's day -------------------------------------------------------------------------------------------


def _taught(session, user: User) -> list[Placement]:
    """Running placements this provider person teaches (their organisation's; none for someone in no organisation)."""
    query = select(Placement).where(Placement.status.in_(ACTIVE)).order_by(Placement.id)
    query = query.join(Instance, Instance.id == Placement.instance_id).where(Instance.provider_organisation_id.in_(user.organisation_ids))
    return list(session.scalars(query))


def _runs_on(placement: Placement, day: date) -> bool:
    return (placement.start_date is None or placement.start_date <= day) and (placement.end_date is None or day <= placement.end_date)


def tutor_sessions(core: Core, user: User) -> dict:
    """Today's sessions of every pupil this person teaches, with their report if written, and the recent sessions
    whose report is missing but can still be written (until the end of the next school day)."""
    if "provider" not in permissions.staff_roles(user):
        raise Forbidden("Lesson reports are written by the provider's staff.")
    calendar, day, moment = _calendar(core), today(), now()
    clock_time = moment.astimezone(UK).strftime("%H:%M")
    previous = _previous_school_day(calendar, day)
    with core.db.session(readonly=True) as session:
        placements = {p.id: p for p in _taught(session, user)}
        pupils = {p.id: p for p in session.scalars(select(Pupil).where(Pupil.id.in_([p.pupil_id for p in placements.values()] or [-1])))}
        days = [d for d in (previous, day) if d is not None and calendar.is_school_day(d)]
        written = {(r.placement_id, r.day, r.starts): r for r in session.scalars(select(LessonReport).where(
            LessonReport.placement_id.in_(list(placements) or [-1]), LessonReport.day.in_(days or [day])))}
        rows = []
        for d in days:
            for s in rules.sessions_on(session, list(placements), d):
                placement = placements[s.placement_id]
                if not _runs_on(placement, d):
                    continue
                report = written.get((s.placement_id, d, s.starts))
                pupil = pupils[placement.pupil_id]
                rows.append({"placement_id": placement.id, "instance_id": placement.instance_id, "day": d.isoformat(),
                             "pupil": {"name": pupil.name, "ref": pupil.ref}, "starts": s.starts, "ends": s.ends,
                             "activity": s.activity, "address": s.address, "tutor": placement.tutor_name,
                             "started": d < day or s.starts <= clock_time,
                             "report": rules.report_dict(report) if report else None})
        return {"day": day.isoformat(), "school_day": calendar.is_school_day(day),
                "today": [r for r in rows if r["day"] == day.isoformat()],
                "missing": [r for r in rows if r["report"] is None and r["started"]]}


def _previous_school_day(calendar, day: date) -> date | None:
    earlier = day - timedelta(days=1)
    for _ in range(30):
        if calendar.is_school_day(earlier):
            return earlier
        earlier -= timedelta(days=1)
    return None


# -- writing a report --------------------------------------------------------------------------------------------


def _session_of(session, placement: Placement, day: date, starts: str) -> TimetableSession | None:
    return session.scalar(select(TimetableSession).where(TimetableSession.placement_id == placement.id,
                                                         TimetableSession.weekday == day.weekday(), TimetableSession.starts == starts))


def _day(value, field: str = "day") -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"'{value}' is not a date.", {"fields": {field: ["Use a date like 2026-01-12."]}}) from None


def report_form(core: Core, user: User, placement_id: int, day: str, starts: str) -> dict:
    """What the tutor's report page shows: the pupil, the session, the report so far, and until when it can change."""
    with core.db.session(readonly=True) as session:
        placement, ts, when = _teachable(core, session, user, placement_id, day, starts)
        report = session.scalar(select(LessonReport).where(LessonReport.placement_id == placement.id, LessonReport.day == when,
                                                           LessonReport.starts == ts.starts))
        pupil = session.get(Pupil, placement.pupil_id)
        until = rules.editable_until(_calendar(core), when)
        return {"placement_id": placement.id, "instance_id": placement.instance_id, "pupil": {"name": pupil.name, "ref": pupil.ref},
                "day": when.isoformat(), "starts": ts.starts, "ends": ts.ends, "activity": ts.activity, "address": ts.address,
                "report": rules.report_dict(report) if report else None, "editable_until": until.isoformat(),
                "locked": now() > until, "measures": [{"key": m, "title": rules.MEASURE_TITLES[m], "labels": rules.LABELS[m]}
                                                      for m in rules.MEASURES]}


def _teachable(core: Core, session, user: User, placement_id: int, day, starts: str) -> tuple[Placement, TimetableSession, date]:
    placement = session.get(Placement, placement_id)
    if placement is None or not permissions.can(user, "placement.view", placement, session) and not permissions.can(
            user, "lessons.teach", placement, session):
        raise NotFound(f"There is no placement {placement_id} that you can see.")
    if not permissions.can(user, "lessons.teach", placement, session):
        raise Forbidden("Lesson reports are written by the staff of the provider teaching the pupil.")
    when = _day(day)
    ts = _session_of(session, placement, when, str(starts or ""))
    if ts is None or not _calendar(core).is_school_day(when) or not _runs_on(placement, when):
        raise NotFound(f"The pupil has no session at {starts} on {when.isoformat()}: choose one from your sessions list.")
    return placement, ts, when


def write_report(core: Core, user: User, placement_id: int, day: str, starts: str, covered: str, scores: dict,
                 school_comment: str = "") -> dict:
    """Write or correct the report of one session (R72, R7). Sent twice with the same words, nothing changes; a
    correction says who changed it. It locks at the end of the next school day. Repeated low engagement opens a
    review once per episode and tells the school's coordinator."""
    covered, school_comment = (covered or "").strip(), (school_comment or "").strip()
    with core.db.session() as session:
        placement, ts, when = _teachable(core, session, user, placement_id, day, starts)
        errors = _report_errors(covered, scores, school_comment)
        moment = now()
        start = datetime.combine(when, datetime.strptime(ts.starts, "%H:%M").time(), tzinfo=UK)
        if moment < start:
            errors.setdefault("day", []).append("This session has not started yet: write the report once it has.")
        if moment > rules.editable_until(_calendar(core), when):
            raise Invalid("This report is locked: reports can be written or corrected until the end of the next school day. "
                          "Tell the school's coordinator if something in it is wrong.", {"fields": {"day": ["The report is locked."]}})
        if errors:
            raise Invalid("Some parts of the report need correcting; nothing was saved.", {"fields": errors})
        values = {"covered": covered, "school_comment": school_comment, **{m: int(scores[m]) for m in rules.MEASURES}}
        report = session.scalar(select(LessonReport).where(LessonReport.placement_id == placement.id, LessonReport.day == when,
                                                           LessonReport.starts == ts.starts).with_for_update())
        created = report is None
        if created:
            report = LessonReport(placement_id=placement.id, session_id=ts.id, day=when, starts=ts.starts, ends=ts.ends,
                                  activity=ts.activity, written_at=moment, written_by=_name(user), written_by_id=user.id, **values)
            session.add(report)
        elif any(getattr(report, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(report, k, v)
            report.changed_at, report.changed_by = moment, _name(user)
        else:
            return {**rules.report_dict(report), "created": False, "changed": False, "review_opened": False}
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=moment,
                             actor_id=user.id, actor=user.username, kind="lesson_report", record="lesson_reports", record_id=report.id,
                             summary=f"Lesson report for {when.isoformat()} {ts.starts} {'written' if created else 'corrected'} by {_name(user)}"))
        opened = _watch_engagement(session, placement, report)
        result = {**rules.report_dict(report), "created": created, "changed": not created, "review_opened": opened is not None}
        instance_id = placement.instance_id
    if opened is not None and instance_id is not None:
        _open_review(core, instance_id, opened)
    return result


def _report_errors(covered: str, scores, school_comment: str) -> dict:
    errors: dict[str, list[str]] = {}
    if len(covered) < 3:
        errors["covered"] = ["Say in a few words what was covered in the session."]
    elif len(covered) > COVERED_MAX:
        errors["covered"] = [f"Keep it to {COVERED_MAX} characters."]
    scores = scores if isinstance(scores, dict) else {}
    for m in rules.MEASURES:
        value = scores.get(m)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors[m] = [f"Choose a score from 1 to 5 for {rules.MEASURE_TITLES[m].lower()}."]
        else:
            scores[m] = value
    if len(school_comment) > COMMENT_MAX:
        errors["school_comment"] = [f"Keep the comment for the school to {COMMENT_MAX} characters."]
    return errors


def _watch_engagement(session, placement: Placement, report: LessonReport) -> str | None:
    """Open an episode of low engagement when the pattern shows and none is open; close it when the pattern has gone.
    Returns the reason when an episode opened now (its review is asked for once this transaction commits)."""
    session.flush()
    reason = rules.low_engagement_reason(rules.recent_reports(session, placement.id, max(rules.LOW_AVERAGE_WINDOW, rules.LOW_WELLBEING_RUN)))
    episode = rules.open_episode(session, placement.id)
    if reason is None:
        if episode is not None:
            episode.closed_at = now()
        return None
    if episode is not None:
        return None
    session.add(EngagementReview(placement_id=placement.id, opened_at=now(), reason=reason, report_id=report.id))
    session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                         actor_id=None, actor="apflow", kind="review_requested",
                         summary=f"Review requested because of repeated low engagement: {reason}"))
    pupil = session.get(Pupil, placement.pupil_id)
    instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
    school = instance.organisation_id if instance is not None and instance.organisation_id is not None else pupil.organisation_id
    outbox.notify(session, outbox.role_members(session, "coordinator", school), "low_engagement",
                  f"{pupil.name} ({pupil.ref}): {reason} A review of the placement has been asked for.",
                  instance_id=placement.instance_id, subject="A pupil's engagement needs a review",
                  email="Lesson reports show repeated low engagement for one of your pupils in alternative provision; "
                        "a review of the placement has been asked for. Open apflow to see who:",
                  link=f"/placements/{placement.instance_id}/lessons" if placement.instance_id else None)
    return reason


def _open_review(core: Core, instance_id: int, reason: str) -> None:
    """The placement's review_requested signal, as its own step once the report is saved; a placement that cannot
    start a review now (one is already under way) keeps the request in its history and the coordinator was told."""
    try:
        instances.send_signal(core, None, instance_id, "review_requested", {"reason": reason})
    except ServiceError as err:
        log.warning("the low-engagement review of instance %s could not start: %s", instance_id, err.message)


# -- reading reports ---------------------------------------------------------------------------------------------


def list_reports(core: Core, user: User, placement_id: int, limit: int = 50) -> dict:
    """A placement's lesson reports, newest first: the school and the provider read the comment for the school, a
    family does not; with the episode of low engagement under review, for staff."""
    limit = max(1, min(int(limit or 50), 200))
    with core.db.session(readonly=True) as session:
        placement, family = _readable(session, user, placement_id)
        if family:
            return {"placement_id": placement.id, "reports": rules.family_lesson_reports(session, placement.id, limit), "family": True}
        rows = session.scalars(select(LessonReport).where(LessonReport.placement_id == placement.id)
                               .order_by(LessonReport.day.desc(), LessonReport.starts.desc()).limit(limit))
        episode = rules.open_episode(session, placement.id)
        return {"placement_id": placement.id, "family": False, "reports": [rules.report_dict(r) for r in rows],
                "low_engagement": {"reason": episode.reason, "since": episode.opened_at.isoformat()} if episode else None,
                "can_write": permissions.can(user, "lessons.teach", placement, session)}


# -- lesson plans and materials (R63) ------------------------------------------------------------------------------


def share_material(core: Core, user: User, placement_id: int, kind: str, title: str, for_date: str, whole_week: bool,
                   description: str, link: str, confidentiality_agreed: bool, file: tuple[str, str, bytes] | None = None) -> dict:
    """The provider shares a lesson plan or material in advance, with a link or a file; the school's coordinator is
    asked to check it. Nothing is stored unless every part is right."""
    title, description, link = (title or "").strip(), (description or "").strip(), (link or "").strip()
    with core.db.session() as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "placement.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} that you can see.")
        if not permissions.can(user, "lessons.teach", placement, session):
            raise Forbidden("Lesson plans and materials are shared by the provider teaching the pupil.")
        errors: dict[str, list[str]] = {}
        if kind not in rules.MATERIAL_KINDS:
            errors["kind"] = ["Choose whether it is a lesson plan or a material."]
        if not 3 <= len(title) <= 200:
            errors["title"] = ["Give it a title of 3 to 200 characters."]
        when = None
        try:
            when = _day(for_date, "for_date")
        except Invalid:
            errors["for_date"] = ["Give the date of the lesson (or the Monday of the week), like 2026-01-12."]
        if when is not None and when < today():
            errors["for_date"] = ["Share it in advance: give today's date or a later one."]
        if len(description) > 4000:
            errors["description"] = ["Keep the description to 4000 characters."]
        if link and (not link.startswith(("https://", "http://")) or len(link) > 500 or any(c.isspace() for c in link)):
            errors["link"] = ["Give a web address starting with https://."]
        checked = None
        if file is not None:
            try:
                checked = documents.checked_file(*file)
            except Invalid as err:
                errors["file"] = err.details.get("file", [err.message])
        if not link and file is None:
            errors.setdefault("file", []).append("Upload the file or give a link to it.")
        if confidentiality_agreed is not True:
            errors["confidentiality_agreed"] = ["Confirm the confidentiality agreed with the school."]
        if errors:
            raise Invalid("Some details need correcting; nothing was shared.", {"fields": errors})
        document = documents.add(session, user, placement.instance_id, None, *checked) if checked and placement.instance_id else None
        material = LessonMaterial(placement_id=placement.id, kind=kind, title=title, for_date=when, whole_week=bool(whole_week),
                                  description=description, link=link, document_id=document.id if document else None,
                                  confidentiality_agreed=True, status="awaiting_check", shared_at=now(), shared_by=_name(user),
                                  shared_by_id=user.id, sent_back_reason="")
        session.add(material)
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="lesson_material", record="lesson_materials", record_id=material.id,
                             summary=f"{rules.MATERIAL_KINDS[kind]} '{title}' shared for {when.isoformat()} by {_name(user)}, to be checked"))
        instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
        outbox.notify(session, outbox.role_members(session, "coordinator", outbox.installation_organisation(session, instance.organisation_id if instance else None)),
                      "lesson_material_to_check", f"{rules.MATERIAL_KINDS[kind]} '{title}' was shared by the provider: check it "
                      "before the pupil's parents can see it.", instance_id=placement.instance_id,
                      subject="A lesson plan or material to check",
                      email="A provider shared a lesson plan or material; check it before parents can see it:",
                      link=f"/placements/{placement.instance_id}/lessons")
        return rules.material_dict(material, document.filename if document else None)


def decide_material(core: Core, user: User, material_id: int, decision: str, accurate: bool = False, age_appropriate: bool = False,
                    unbiased: bool = False, reason: str = "") -> dict:
    """The school checks a shared material (accurate, age and stage appropriate, unbiased) and parents can then see
    it, or sends it back with a reason the provider reads. A decision already taken stands."""
    reason = (reason or "").strip()
    with core.db.session() as session:
        material, placement = rules.placement_of_material(session, material_id)
        if material is None or not permissions.can(user, "placement.view", placement, session):
            raise NotFound(f"There is no lesson material {material_id} that you can see.")
        if not permissions.can(user, "lessons.check", placement, session):
            raise Forbidden("Lesson plans and materials are checked by the pupil's school.")
        if decision not in ("checked", "sent_back"):
            raise Invalid("Choose whether the material is checked or sent back.", {"fields": {"decision": ["Choose one."]}})
        if material.status == decision:
            return rules.material_dict(material)  # sent twice: it was decided once
        if material.status != "awaiting_check":
            raise Invalid(f"This material was already {rules.MATERIAL_STATUSES[material.status].lower()} by {material.checked_by}; "
                          "ask the provider to share a new version.", {"fields": {"decision": ["Already decided."]}})
        if decision == "checked":
            missing = {k: ["Tick this once you have checked it."] for k, v in
                       (("accurate", accurate), ("age_appropriate", age_appropriate), ("unbiased", unbiased)) if v is not True}
            if missing:
                raise Invalid("A material is checked only when it is accurate, suitable for the pupil's age and stage, and "
                              "unbiased; otherwise send it back with a reason.", {"fields": missing})
        elif not 5 <= len(reason) <= 2000:
            raise Invalid("Say why it is sent back, so the provider can put it right.", {"fields": {"reason": ["Give a reason."]}})
        material.status, material.checked_at, material.checked_by = decision, now(), _name(user)
        material.sent_back_reason = reason if decision == "sent_back" else ""
        summary = (f"'{material.title}' checked by {_name(user)}: accurate, age and stage appropriate, unbiased; parents can see it"
                   if decision == "checked" else f"'{material.title}' sent back by {_name(user)}: {reason}")
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="lesson_material", record="lesson_materials",
                             record_id=material.id, summary=summary))
        if decision == "sent_back" and material.shared_by_id:
            sharer = session.get(User, material.shared_by_id)
            outbox.notify(session, [sharer] if sharer and sharer.active else [], "lesson_material_sent_back",
                          f"The school sent back '{material.title}': {reason}", instance_id=placement.instance_id,
                          subject="A lesson material was sent back", email="The school sent back a lesson material you shared:",
                          link=f"/placements/{placement.instance_id}/lessons")
        return rules.material_dict(material)


def list_materials(core: Core, user: User, placement_id: int) -> dict:
    """Staff read every shared material with its state; a family only those the school has checked."""
    with core.db.session(readonly=True) as session:
        placement, family = _readable(session, user, placement_id)
        if family:
            return {"placement_id": placement.id, "family": True, "materials": rules.family_materials(session, placement.id)}
        rows = list(session.scalars(select(LessonMaterial).where(LessonMaterial.placement_id == placement.id)
                                    .order_by(LessonMaterial.for_date.desc(), LessonMaterial.id.desc())))
        names = dict(session.execute(select(Document.id, Document.filename).where(
            Document.id.in_([m.document_id for m in rows if m.document_id] or [-1]))).all())
        return {"placement_id": placement.id, "family": False,
                "materials": [rules.material_dict(m, names.get(m.document_id)) for m in rows],
                "can_share": permissions.can(user, "lessons.teach", placement, session),
                "can_check": permissions.can(user, "lessons.check", placement, session)}


def material_file(core: Core, user: User, material_id: int) -> Document:
    """A material's file: for staff who see the placement, and for the pupil's linked parents once it is checked."""
    with core.db.session(readonly=True) as session:
        material, placement = rules.placement_of_material(session, material_id)
        if material is None or material.document_id is None:
            raise NotFound(f"There is no lesson material {material_id} that you can see.")
        try:
            _, family = _readable(session, user, placement.id)
        except NotFound:
            raise NotFound(f"There is no lesson material {material_id} that you can see.") from None
        if family and material.status != "checked":
            raise NotFound(f"There is no lesson material {material_id} that you can see.")
        return session.scalar(select(Document).options(undefer(Document.content)).where(Document.id == material.document_id))


# -- pupil views recorded by staff (R115) ------------------------------------------------------------------------------


def record_pupil_views(core: Core, user: User, placement_id: int, held_on: str, method: str, adaptation: str, adaptation_detail: str,
                       pupil_words: str, going_well: str, could_be_better: str, feel_safe: str, want_to_continue: str) -> dict:
    """Record the pupil's views, gathered by staff in a one-to-one discussion or an adapted questionnaire, in the
    pupil's own words. They are the pupil's feedback on the placement like the pupil's own form: when that form waits
    for the pupil this term, this answers it; a pupil who says they do not feel safe alerts the DSL."""
    texts = {k: (v or "").strip() for k, v in (("pupil_words", pupil_words), ("going_well", going_well),
                                               ("could_be_better", could_be_better), ("adaptation_detail", adaptation_detail))}
    with core.db.session(readonly=True) as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "placement.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} that you can see.")
        if not permissions.can(user, "pupil_views.record", placement, session):
            raise Forbidden("A pupil's views are recorded by the school's coordinator or SENCo, or the provider's staff teaching them.")
        waiting = session.scalar(select(HumanTask).where(HumanTask.instance_id == placement.instance_id, HumanTask.state == "ready",
                                                         HumanTask.form_schema == PUPIL_VIEWS_TASK).limit(1)) if placement.instance_id else None
        waiting_id, instance_id = (waiting.id if waiting else None), placement.instance_id
    errors: dict[str, list[str]] = {}
    when = None
    try:
        when = _day(held_on, "held_on")
    except Invalid:
        errors["held_on"] = ["Give the date you talked with the pupil, like 2026-01-12."]
    if when is not None and when > today():
        errors["held_on"] = ["The date cannot be in the future."]
    if method not in METHODS:
        errors["method"] = ["Choose how the views were gathered."]
    if method == "questionnaire" and adaptation not in ADAPTATIONS:
        errors["adaptation"] = ["Choose how the questionnaire was adapted."]
    if adaptation and adaptation not in ADAPTATIONS:
        errors["adaptation"] = ["Choose how the questionnaire was adapted."]
    if adaptation == "other" and len(texts["adaptation_detail"]) < 3:
        errors["adaptation_detail"] = ["Say how it was adapted."]
    if not 2 <= len(texts["pupil_words"]) <= 4000:
        errors["pupil_words"] = ["Write down what the pupil said, in their own words."]
    if not 2 <= len(texts["going_well"]) <= 4000:
        errors["going_well"] = ["Write what the pupil says is going well."]
    if len(texts["could_be_better"]) > 4000:
        errors["could_be_better"] = ["Keep it to 4000 characters."]
    if feel_safe not in FEEL_SAFE:
        errors["feel_safe"] = ["Choose what the pupil said about feeling safe."]
    if want_to_continue not in CONTINUE:
        errors["want_to_continue"] = ["Choose whether the pupil wants to carry on."]
    if errors:
        raise Invalid("Some details need correcting; nothing was recorded.", {"fields": errors})
    answers = {"going_well": texts["going_well"], "feel_safe": feel_safe, "want_to_continue": want_to_continue}
    if texts["could_be_better"]:
        answers["could_be_better"] = texts["could_be_better"]
    how = f"{METHODS[method]}{' (' + ADAPTATIONS[adaptation] + ')' if adaptation else ''} with {_name(user)} on {when.isoformat()}"
    answered_task = False
    if waiting_id is not None:  # the pupil's own form this term: answered from what staff recorded, as the school does from paper
        try:
            instances._step(core, instances.Actor(None, user.username), {"kind": "complete", "task_id": waiting_id, "data": answers,
                                                                         "on_behalf_of_family": f"Pupil's views recorded by staff: {how}"})
            answered_task = True
        except ServiceError as err:  # the pupil answered it meanwhile: the record below still stands
            log.info("pupil views task %s not answered from staff's record: %s", waiting_id, err.message)
    with core.db.session() as session:
        placement = session.get(Placement, placement_id)
        communication = None
        if answered_task:
            communication = session.scalar(select(Communication).where(Communication.placement_id == placement.id,
                                                                       Communication.kind == "pupil_feedback")
                                           .order_by(Communication.id.desc()).limit(1))
        if communication is None:
            communication = Communication(placement_id=placement.id, kind="pupil_feedback", audience="pupil", content=dict(answers),
                                          at=now(), recorded_by=user.username)
            session.add(communication)
            if feel_safe == "no":
                _tell_dsl_unsafe(session, placement, instance_id)
        communication.content = {**communication.content, "recorded_by_staff": how, "pupil_words": texts["pupil_words"]}
        record = PupilViewRecord(placement_id=placement.id, held_on=when, method=method, adaptation=adaptation or "",
                                 adaptation_detail=texts["adaptation_detail"], answers=answers, pupil_words=texts["pupil_words"],
                                 recorded_at=now(), recorded_by=_name(user), recorded_by_id=user.id)
        session.flush()
        record.communication_id = communication.id
        session.add(record)
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="pupil_views", record="pupil_view_records", record_id=record.id,
                             summary=f"The pupil's views recorded by staff: {how}"))
        return {**_views_dict(record), "answered_pupil_task": answered_task}


def _tell_dsl_unsafe(session, placement: Placement, instance_id: int | None) -> None:
    pupil = session.get(Pupil, placement.pupil_id)
    instance = session.get(Instance, instance_id) if instance_id else None
    school = pupil.organisation_id if pupil.organisation_id is not None else (instance.organisation_id if instance else None)
    outbox.notify(session, outbox.role_members(session, "dsl", school), "pupil_feels_unsafe",
                  f"{pupil.name} ({pupil.ref}) says they do not feel safe at their placement.", instance_id=instance_id,
                  subject="A pupil says they do not feel safe",
                  email="A pupil says they do not feel safe at their placement. Open apflow to see who and act:",
                  link=f"/placements/{instance_id}" if instance_id else None)


def _views_dict(r: PupilViewRecord) -> dict:
    return {"id": r.id, "placement_id": r.placement_id, "held_on": r.held_on.isoformat(), "method": r.method,
            "method_label": METHODS.get(r.method, r.method), "adaptation": r.adaptation or None,
            "adaptation_label": ADAPTATIONS.get(r.adaptation, "") if r.adaptation else None, "adaptation_detail": r.adaptation_detail,
            "pupil_words": r.pupil_words, "going_well": r.answers.get("going_well", ""), "could_be_better": r.answers.get("could_be_better", ""),
            "feel_safe": FEEL_SAFE.get(r.answers.get("feel_safe"), ""), "want_to_continue": CONTINUE.get(r.answers.get("want_to_continue"), ""),
            "recorded_by": r.recorded_by, "recorded_at": r.recorded_at.isoformat()}


def list_pupil_views(core: Core, user: User, placement_id: int) -> dict:
    """The pupil's views on the placement, newest first: those staff recorded and those the pupil gave on their own form."""
    with core.db.session(readonly=True) as session:
        placement, family = _readable(session, user, placement_id)
        if family:
            raise NotFound(f"There is no placement {placement_id} whose pupil views you can see.")
        recorded = {r.communication_id: r for r in session.scalars(select(PupilViewRecord).where(PupilViewRecord.placement_id == placement.id))}
        rows = []
        for c in session.scalars(select(Communication).where(Communication.placement_id == placement.id, Communication.kind == "pupil_feedback")
                                 .order_by(Communication.at.desc(), Communication.id.desc())):
            if c.id in recorded:
                rows.append({**_views_dict(recorded[c.id]), "source": "staff"})
            else:
                rows.append({"id": None, "source": "pupil", "held_on": c.at.astimezone(UK).date().isoformat(), "recorded_by": c.recorded_by,
                             "going_well": c.content.get("going_well", ""), "could_be_better": c.content.get("could_be_better", ""),
                             "feel_safe": FEEL_SAFE.get(c.content.get("feel_safe"), ""),
                             "want_to_continue": CONTINUE.get(c.content.get("want_to_continue"), ""), "pupil_words": ""})
        return {"placement_id": placement.id, "views": rows, "can_record": permissions.can(user, "pupil_views.record", placement, session)}


def lessons_overview(core: Core, user: User, placement_id: int) -> dict:
    """Everything the placement's lessons page shows to this person."""
    reports = list_reports(core, user, placement_id)
    materials = list_materials(core, user, placement_id)
    with core.db.session(readonly=True) as session:
        placement = session.get(Placement, placement_id)
        pupil = session.get(Pupil, placement.pupil_id)
        provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
    views = None if reports["family"] else list_pupil_views(core, user, placement_id)
    return {"placement_id": placement_id, "instance_id": placement.instance_id, "pupil": {"name": pupil.name, "ref": pupil.ref},
            "provider": provider.name if provider else None, "family": reports["family"], "reports": reports, "materials": materials,
            "views": views, "kinds": rules.MATERIAL_KINDS, "methods": METHODS, "adaptations": ADAPTATIONS, "feel_safe": FEEL_SAFE,
            "continue": CONTINUE, "titles": rules.MEASURE_TITLES, "today": today().isoformat()}
