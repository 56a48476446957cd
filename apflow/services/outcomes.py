"""Examination entries and qualifications gained on a placement (R15), and the checks 3 and 6 months on that a
destination is sustained (R101): recorded by the school's staff or the provider delivering the placement, shown on the
placement and pupil pages, counted in the governors' report (services/governors.py).

`open_destination_follow_ups` is a watch (services/watches.py): on the day a check falls due it starts the
coordinator's task (bpmn/destination_follow_up.bpmn); the process's start claims the check, so it opens once.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import and_, exists, or_, select

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.placements import outcomes as domain
from apflow.placements.common import now, parse_date, today
from apflow.placements.models import Destination, DestinationFollowUp, LogEntry, Placement, Pupil, Qualification
from apflow.store.models import Instance, ProcessVersion, User

from . import instances, permissions
from .core import Core

log = logging.getLogger(__name__)
FOLLOW_UP_PROCESS = "destination_follow_up"
RESULT_WORDS = {True: "Gained", False: "Not gained", None: "Waiting for the result"}


def _placement(session, user: User, placement_id: int, action: str = "outcomes.view") -> Placement:
    placement = session.get(Placement, placement_id)
    if placement is None or not permissions.can(user, "outcomes.view", placement, session):
        raise NotFound(f"There is no placement {placement_id} that you can see.")
    permissions.require(user, action, placement, session)
    return placement


def _qualification_dict(q: Qualification) -> dict:
    return {"id": q.id, "placement_id": q.placement_id, "subject": q.subject, "kind": q.kind, "kind_words": domain.KINDS.get(q.kind, q.kind),
            "level": q.level, "level_words": domain.LEVELS.get(q.level, q.level), "awarding_body": q.awarding_body,
            "entered_on": q.entered_on.isoformat(), "result": q.result, "gained": q.gained, "gained_words": RESULT_WORDS[q.gained],
            "result_on": q.result_on.isoformat() if q.result_on else None, "recorded_by": q.recorded_by,
            "changed_by": q.changed_by}


def _follow_up_dict(f: DestinationFollowUp) -> dict:
    return {"months": f.months, "due_on": f.due_on.isoformat(), "sustained": f.sustained,
            "checked_on": f.checked_on.isoformat() if f.checked_on else None, "notes": f.notes, "recorded_by": f.recorded_by,
            "instance_id": f.instance_id}


def _fields(raw: dict) -> dict:
    """The posted entry, checked field by field; every problem at once."""
    errors: dict[str, list[str]] = {}
    subject = str(raw.get("subject") or "").strip()
    if not subject:
        errors["subject"] = ["Name the subject, e.g. English language."]
    elif len(subject) > 200:
        errors["subject"] = ["Keep the subject under 200 characters."]
    kind, level = str(raw.get("kind") or ""), str(raw.get("level") or "")
    if kind not in domain.KINDS:
        errors["kind"] = ["Choose the type of qualification."]
    if level not in domain.LEVELS:
        errors["level"] = ["Choose the level."]
    body = str(raw.get("awarding_body") or "").strip()
    if len(body) > 100:
        errors["awarding_body"] = ["Keep the awarding body under 100 characters."]
    try:
        entered = parse_date(raw.get("entered_on"), "entered_on")
        if entered is None:
            errors["entered_on"] = ["Give the date the pupil was entered."]
    except Invalid:
        entered, errors["entered_on"] = None, ["Use a date like 2026-01-12."]
    result_fields, result_errors = _result(raw)
    errors.update(result_errors)
    if errors:
        raise Invalid("The entry was not saved: " + " ".join(m[0] for m in errors.values()), {"fields": errors})
    return {"subject": subject, "kind": kind, "level": level, "awarding_body": body, "entered_on": entered, **result_fields}


def _result(raw: dict) -> tuple[dict, dict]:
    """The result part: `gained` is "yes", "no" or blank (waiting); a gained qualification needs its grade or result."""
    errors: dict[str, list[str]] = {}
    gained_text = str(raw.get("gained") if raw.get("gained") is not None else "").strip().lower()
    gained = {"yes": True, "true": True, "no": False, "false": False, "": None}.get(gained_text, "bad")
    if gained == "bad":
        errors["gained"] = ["Say whether it was gained: yes, no, or leave blank while waiting for the result."]
        gained = None
    result = str(raw.get("result") or "").strip()
    if len(result) > 60:
        errors["result"] = ["Keep the result under 60 characters, e.g. 5 or Pass."]
    if gained is True and not result:
        errors["result"] = ["Give the grade or result gained, e.g. 4, Pass or Merit."]
    try:
        result_on = parse_date(raw.get("result_on"), "result_on")
    except Invalid:
        result_on, errors["result_on"] = None, ["Use a date like 2026-08-20."]
    if gained is not None and result_on is None:
        result_on = today()
    if result_on and result_on > today():
        errors["result_on"] = ["A result cannot be dated in the future."]
    return {"gained": gained, "result": result, "result_on": result_on if gained is not None else None}, errors


def list_qualifications(core: Core, user: User, placement_id: int) -> list[dict]:
    with core.db.session(readonly=True) as session:
        placement = _placement(session, user, placement_id)
        return [_qualification_dict(q) for q in session.scalars(select(Qualification).where(Qualification.placement_id == placement.id)
                                                                 .order_by(Qualification.entered_on, Qualification.id))]


def add_qualification(core: Core, user: User, placement_id: int, raw: dict) -> dict:
    """Enter the pupil for an examination (R15), with the result if it is known. The same entry posted twice (a double
    submit) is kept once."""
    with core.db.session() as session:
        placement = _placement(session, user, placement_id, "outcomes.record")
        f = _fields(raw)
        same = session.scalar(select(Qualification).where(
            Qualification.placement_id == placement.id, Qualification.subject == f["subject"], Qualification.kind == f["kind"],
            Qualification.level == f["level"], Qualification.entered_on == f["entered_on"]))
        if same is not None:
            return _qualification_dict(same)
        row = Qualification(placement_id=placement.id, pupil_id=placement.pupil_id, recorded_at=now(), recorded_by=user.display_name or user.username, **f)
        session.add(row)
        session.flush()
        _log(session, user, placement, row, f"Entered for {domain.KINDS[row.kind]} {row.subject} ({domain.LEVELS[row.level]})"
             + (f", {row.awarding_body}" if row.awarding_body else "") + f" on {row.entered_on}" + _result_words(row))
        return _qualification_dict(row)


def record_result(core: Core, user: User, qualification_id: int, raw: dict) -> dict:
    """The result of an entry: gained yes or no, the grade, the date."""
    with core.db.session() as session:
        row = session.get(Qualification, qualification_id)
        if row is None:
            raise NotFound(f"There is no qualification {qualification_id} that you can see.")
        placement = _placement(session, user, row.placement_id, "outcomes.record")
        fields, errors = _result(raw)
        if errors:
            raise Invalid("The result was not saved: " + " ".join(m[0] for m in errors.values()), {"fields": errors})
        if (row.gained, row.result, row.result_on) == (fields["gained"], fields["result"], fields["result_on"]):
            return _qualification_dict(row)  # said already (a double submit)
        row.gained, row.result, row.result_on = fields["gained"], fields["result"], fields["result_on"]
        row.changed_at, row.changed_by = now(), user.display_name or user.username
        _log(session, user, placement, row, f"Result of {domain.KINDS[row.kind]} {row.subject}:" + (_result_words(row) or " waiting"))
        return _qualification_dict(row)


def _result_words(row: Qualification) -> str:
    if row.gained is None:
        return ""
    return f"; {'gained' if row.gained else 'not gained'}" + (f" ({row.result})" if row.result else "")


def _log(session, user: User, placement: Placement, row, summary: str) -> None:
    session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                         actor_id=user.id, actor=user.username, kind="qualification", summary=summary[:2000],
                         record=row.__tablename__, record_id=row.id))


# -- what the placement and pupil pages show ----------------------------------------------------------------------

def placement_outcomes(core: Core, user: User, instance_id: int) -> dict | None:
    """The placement page's panel: exam entries and results, destinations and their checks; None when the instance
    is not a placement or this person may not read its outcomes."""
    with core.db.session(readonly=True) as session:
        placement = session.scalar(select(Placement).where(Placement.instance_id == instance_id))
        if placement is None or not permissions.can(user, "outcomes.view", placement, session):
            return None
        return {"placement_id": placement.id, "can_record": permissions.can(user, "outcomes.record", placement, session),
                **_outcomes(session, [placement.id])}


def pupil_outcomes(core: Core, user: User, ref: str) -> dict | None:
    """The pupil page's panel: the same across the pupil's placements this person may read."""
    with core.db.session(readonly=True) as session:
        placements = [p for p in session.scalars(select(Placement).join(Pupil, Pupil.id == Placement.pupil_id).where(Pupil.ref == ref))
                      if permissions.can(user, "outcomes.view", p, session)]
        if not placements:
            return None
        return _outcomes(session, [p.id for p in placements])


def _outcomes(session, placement_ids: list[int]) -> dict:
    qualifications = [_qualification_dict(q) for q in session.scalars(select(Qualification).where(
        Qualification.placement_id.in_(placement_ids)).order_by(Qualification.entered_on, Qualification.id))]
    checks: dict[int, list[dict]] = {}
    for f in session.scalars(select(DestinationFollowUp).where(DestinationFollowUp.placement_id.in_(placement_ids))
                             .order_by(DestinationFollowUp.months)):
        checks.setdefault(f.destination_id, []).append(_follow_up_dict(f))
    destinations = []
    for d in session.scalars(select(Destination).where(Destination.placement_id.in_(placement_ids)).order_by(Destination.id)):
        began = domain.destination_began(d)
        done = {c["months"]: c for c in checks.get(d.id, [])}
        destinations.append({"id": d.id, "placement_id": d.placement_id, "kind": d.kind, "words": d.kind.replace("_", " ").capitalize(),
                             "setting": d.setting_name, "began_on": began.isoformat(),
                             "checks": [done.get(m) or {"months": m, "due_on": domain.add_months(began, m).isoformat(), "sustained": None,
                                                        "checked_on": None, "notes": "", "recorded_by": None, "instance_id": None, "opened": False}
                                        for m in domain.FOLLOW_UP_MONTHS]})
    for d in destinations:
        for c in d["checks"]:
            c.setdefault("opened", True)
    return {"qualifications": qualifications, "destinations": destinations, "kinds": domain.KINDS, "levels": domain.LEVELS}


# -- the watch: open each check on the day it falls due (R101) -------------------------------------------------------

def open_destination_follow_ups(core: Core, batch: int = 100) -> int:
    """Start the coordinator's check of every destination whose 3 or 6 months are up and whose check is not open yet.
    The process's start claims the check (a unique row), so a second scheduler's start is refused and nothing doubles.
    Only destinations past their date without that check are read: once opened, a check is never looked at again."""
    day = today()
    with core.db.session(readonly=True) as session:
        if session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == FOLLOW_UP_PROCESS).limit(1)) is None:
            return 0  # the diagram is not deployed here
        due = []
        for months in domain.FOLLOW_UP_MONTHS:
            cutoff = domain.add_months(day, -months) + timedelta(days=3)  # month ends: the exact date is checked below
            began_by = or_(Destination.starts_on <= cutoff, and_(Destination.starts_on.is_(None),
                                                                 Destination.recorded_at < datetime.combine(cutoff + timedelta(days=1), time(), timezone.utc)))
            unchecked = ~exists().where(DestinationFollowUp.destination_id == Destination.id, DestinationFollowUp.months == months)
            for d, pupil, org in session.execute(
                    select(Destination, Pupil, Instance.organisation_id).join(Placement, Placement.id == Destination.placement_id)
                    .join(Pupil, Pupil.id == Destination.pupil_id).outerjoin(Instance, Instance.id == Placement.instance_id)
                    .where(began_by, unchecked).order_by(Destination.id).limit(batch)):
                if domain.add_months(domain.destination_began(d), months) <= day:
                    due.append((d, pupil, org if org is not None else pupil.organisation_id, months))
    started = 0
    for d, pupil, org, months in due:
        data = {"destination_id": d.id, "months": months, "checked_placement_id": d.placement_id, "pupil_name": pupil.name,
                "pupil_ref": pupil.ref, "destination": d.kind, "setting_name": d.setting_name,
                "destination_began_on": domain.destination_began(d).isoformat()}
        try:
            instances.start_for(core, None, FOLLOW_UP_PROCESS, data, org)
            started += 1
        except ServiceError as err:  # opened meanwhile by another scheduler: its start was refused, nothing doubled
            log.info("the %s-month check of destination %s was not started: %s", months, d.id, err.message)
    return started
