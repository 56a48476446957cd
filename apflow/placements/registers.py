"""Registers (R71, R79, R62): one mark per timetabled session of a running placement on each school day of the pupil's
own school's calendar. The provider reports present, late (minutes) or absent with a reason; the school codes each mark
with the School Attendance Regulations 2024 codes and follows up every absence. A session's row exists once its day
is laid out (the scheduler does it each day, marking does it too), so a register nobody kept stays visible as missing.

Functions here take the caller's session and never decide who may call them (apflow/services/registers.py does).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from apflow.clock import clock
from apflow.errors import Invalid
from apflow.school_calendar import SchoolCalendar
from apflow.store.models import Instance, SchoolCalendarRecord

from .common import UK
from .models import Placement, Pupil, RegisterBook, RegisterMark, TimetableSession

# -- the codes the school enters (School Attendance (Pupil Registration) (England) Regulations 2024), in one place ------
# kind: present (at the school), attending (an approved place away from it: counts as attendance), authorised or
# unauthorised absence, not_counted (unable to attend for exceptional reasons: not a possible session)
CODES: dict[str, tuple[str, str]] = {
    "/": ("Present at the school (morning)", "present"),
    "\\": ("Present at the school (afternoon)", "present"),
    "L": ("Late, but before the register closed", "present"),
    "B": ("Educated off site: an approved educational activity", "attending"),
    "K": ("Attending education arranged by the local authority", "attending"),
    "D": ("Dual registered: attending another school", "attending"),
    "V": ("On an educational visit or trip", "attending"),
    "P": ("Approved sporting activity", "attending"),
    "W": ("Work experience", "attending"),
    "C1": ("Leave for a regulated performance or employment abroad", "authorised"),
    "M": ("Medical or dental appointment", "authorised"),
    "J1": ("Interview", "authorised"),
    "S": ("Study leave", "authorised"),
    "X": ("Not of compulsory school age: not required to attend", "not_counted"),
    "C2": ("Part-time timetable: not required at this session", "authorised"),
    "C": ("Leave in exceptional circumstances", "authorised"),
    "T": ("Parent travelling for work (mobile families)", "authorised"),
    "R": ("Religious observance", "authorised"),
    "I": ("Illness", "authorised"),
    "E": ("Suspended or excluded, no alternative provision", "authorised"),
    "G": ("Holiday not agreed by the school", "unauthorised"),
    "N": ("Reason not yet established", "unauthorised"),
    "O": ("Absent in other or unknown circumstances", "unauthorised"),
    "U": ("Arrived after the register closed", "unauthorised"),
    "Q": ("No access arrangements in place", "not_counted"),
    "Y1": ("Transport normally provided was not available", "not_counted"),
    "Y2": ("Widespread travel disruption", "not_counted"),
    "Y3": ("Part of the premises closed", "not_counted"),
    "Y4": ("Whole site closed unexpectedly", "not_counted"),
    "Y5": ("In criminal justice detention", "not_counted"),
    "Y6": ("Public health guidance or law", "not_counted"),
    "Y7": ("Any other unavoidable cause", "not_counted"),
}
ATTENDING_CODES = ("B", "K", "D")  # what a session at the provider is usually coded as
ATTENDED_KINDS = ("present", "attending")
KIND_WORDS = {"present": "Present", "attending": "Attending off site", "authorised": "Authorised absence",
              "unauthorised": "Unauthorised absence", "not_counted": "Unable to attend (not counted)"}

# -- what the provider reports --------------------------------------------------------------------------------------
STATUSES = {"present": "Present", "late": "Late", "absent": "Absent"}
# why absent, as the provider knows it, and the code the school will most likely enter (it decides)
REASONS: dict[str, tuple[str, str]] = {
    "unknown": ("Did not arrive, no reason given", "N"),
    "ill": ("Ill (family told us)", "I"),
    "medical": ("Medical or dental appointment", "M"),
    "transport": ("Transport did not arrive", "Y1"),
    "family": ("Family reason given", "N"),
    "refused": ("Would not come in", "N"),
    "other": ("Other reason (say in the note)", "N"),
}
UNEXPLAINED = "unknown"
MAX_MINUTES_LATE = 300
MAX_NOTE = 1000
MIDDAY, AFTERNOON = "12:00", "13:00"  # a session starting before noon and ending after 13:00 counts for both halves
RUNNING = ("active", "ending")  # registers are kept while the placement runs (not suspended, removed or ended)
CATCH_UP_DAYS = 400


def half_of(starts: str, ends: str) -> str:
    """The statutory session(s) a timetabled session counts for."""
    if starts < MIDDAY:
        return "AM+PM" if ends > AFTERNOON else "AM"
    return "PM"


def suggested_code(placement: Placement, mark: RegisterMark) -> str | None:
    """The code the school would usually enter for what the provider reported (the school decides)."""
    if mark.status in ("present", "late"):
        return placement.attendance_code if placement.attendance_code in ATTENDING_CODES else "B"
    if mark.status == "absent":
        return REASONS.get(mark.reason, REASONS["other"])[1]
    return None


def attended(mark: RegisterMark) -> bool | None:
    """Whether a mark counts as attendance (the school's code when there is one, else the provider's report); None when
    it does not count either way (not reported, or a code for a session the pupil could not attend)."""
    if mark.code:
        kind = CODES.get(mark.code, ("", "unauthorised"))[1]
        return None if kind == "not_counted" else kind in ATTENDED_KINDS
    if mark.status is None:
        return None
    return mark.status in ("present", "late")


def percent(marks) -> float | None:
    counted = [a for a in (attended(m) for m in marks) if a is not None]
    return round(100 * sum(counted) / len(counted), 1) if counted else None


# -- calendars ----------------------------------------------------------------------------------------------------
_CALENDARS: dict[tuple[int, datetime], SchoolCalendar] = {}


def calendar_for(session, organisation_id: int | None) -> SchoolCalendar | None:
    """The term calendar of an organisation (the pupil's own school): its own if it has one, else the default."""
    records = {r.organisation_id: r for r in session.scalars(select(SchoolCalendarRecord).where(
        (SchoolCalendarRecord.organisation_id == organisation_id) | SchoolCalendarRecord.organisation_id.is_(None)))}
    record = records.get(organisation_id) or records.get(None)
    if record is None:
        return None
    key = (record.id, record.updated_at)
    if key not in _CALENDARS:
        if len(_CALENDARS) > 64:
            _CALENDARS.clear()
        _CALENDARS[key] = SchoolCalendar.from_dict(record.data)
    return _CALENDARS[key]


class Calendars:
    """Calendars by organisation, read once per transaction (a school-wide list touches each school's once)."""

    def __init__(self, session):
        self.session, self._by_org = session, {}

    def __call__(self, organisation_id: int | None) -> SchoolCalendar | None:
        if organisation_id not in self._by_org:
            self._by_org[organisation_id] = calendar_for(self.session, organisation_id)
        return self._by_org[organisation_id]


def school_of(session, placement: Placement, pupil: Pupil | None = None, instance: Instance | None = None) -> int | None:
    """The pupil's own school (whose calendar the registers follow), else the organisation that commissioned it."""
    pupil = pupil or session.get(Pupil, placement.pupil_id)
    if pupil.organisation_id is not None:
        return pupil.organisation_id
    if instance is None and placement.instance_id:
        instance = session.get(Instance, placement.instance_id)
    return instance.organisation_id if instance is not None else None


def school_id(pupil: Pupil, commissioner_id: int | None) -> int | None:
    """school_of, from what a list query already read: the pupil's own school, else the commissioner."""
    return pupil.organisation_id if pupil.organisation_id is not None else commissioner_id


def day_off(calendar: SchoolCalendar | None, day: date) -> tuple[str, str] | None:
    """Why `day` is not a school day, as (key, words); None on a school day."""
    if calendar is None:
        return ("no_calendar", "No term dates are set up for the pupil's school")
    if calendar.is_school_day(day):
        return None
    if day.weekday() >= 5:
        return ("weekend", "Weekend")
    if day in calendar.bank_holidays:
        return ("bank_holiday", f"Bank holiday: {calendar.bank_holidays[day]}")
    if day in calendar.inset_days:
        return ("inset", "INSET day: the school is closed to pupils")
    for term in calendar.terms:
        if term.half_term_start <= day <= term.half_term_end:
            return ("half_term", f"Half-term holiday ({term.name})")
    return ("holiday", "School holiday")


# -- laying out the registers -------------------------------------------------------------------------------------

def starts_at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=UK).astimezone(timezone.utc)


def slots(placement: Placement, sessions: list[TimetableSession], day: date) -> list[RegisterMark]:
    """The (unsaved) register rows of one day: one per timetabled session of that weekday."""
    return [RegisterMark(placement_id=placement.id, session_id=s.id, day=day, starts=s.starts, ends=s.ends,
                         half=half_of(s.starts, s.ends), starts_at=starts_at(day, s.starts), activity=s.activity or "",
                         address=s.address or "", status=None, reason="", note="", marked_by="", coded_by="")
            for s in sorted(sessions, key=lambda s: s.starts) if s.weekday == day.weekday()]


def _days(first: date, last: date):
    while first <= last:
        yield first
        first += timedelta(days=1)


def due_days(placement: Placement, book: RegisterBook | None, calendar: SchoolCalendar | None, through: date) -> list[date]:
    """The school days not yet laid out, from the day after the book's last (or the start) to `through`."""
    if placement.start_date is None or calendar is None:
        return []
    first = max(placement.start_date, book.kept_through + timedelta(days=1)) if book and book.kept_through else placement.start_date
    first = max(first, through - timedelta(days=CATCH_UP_DAYS))
    return [d for d in _days(first, through) if calendar.is_school_day(d)]


def lay_out(session, placement: Placement, calendar: SchoolCalendar | None, through: date,
            sessions: list[TimetableSession] | None = None) -> int:
    """Add the register rows of every school day up to `through` while the placement runs; days passed while it does
    not run (suspended, removed, ended, not started) are passed over for good. Safe to run twice at once."""
    book = session.get(RegisterBook, placement.id)
    if book is not None and book.kept_through is not None and book.kept_through >= through:
        return 0
    added = 0
    if placement.status in RUNNING:
        sessions = sessions if sessions is not None else list(session.scalars(
            select(TimetableSession).where(TimetableSession.placement_id == placement.id)))
        rows = [row for day in due_days(placement, book, calendar, through) for row in slots(placement, sessions, day)]
        added = _insert_new(session, rows)
    _keep_through(session, placement.id, through)
    return added


_MARK_COLUMNS = ("placement_id", "session_id", "day", "starts", "ends", "half", "starts_at", "activity", "address",
                 "status", "reason", "note", "marked_by", "coded_by")


def _insert_new(session, rows: list[RegisterMark]) -> int:
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = [{c: getattr(r, c) for c in _MARK_COLUMNS} for r in rows]
    added = 0
    for start in range(0, len(values), 500):  # well under SQLite's limit on a statement's parameters
        result = session.execute(dialect.insert(RegisterMark).values(values[start:start + 500]).on_conflict_do_nothing(
            index_elements=["placement_id", "day", "starts"]).returning(RegisterMark.id))
        added += len(result.all())  # the rows added (rowcount is not reliable for this statement on every driver)
    return added


def _keep_through(session, placement_id: int, through: date) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(RegisterBook).values(placement_id=placement_id, kept_through=through)
    session.execute(insert.on_conflict_do_update(index_elements=["placement_id"], set_={"kept_through": through},
                                                 where=(RegisterBook.kept_through.is_(None) | (RegisterBook.kept_through < through))))


def register(session, placement: Placement, calendar: SchoolCalendar | None, since: date, until: date) -> list[RegisterMark]:
    """One placement's register rows from `since` to `until` (see registers)."""
    return registers(session, [placement], lambda _: calendar, since, until)[placement.id]


def registers(session, placements: list[Placement], calendar_of, since: date, until: date) -> dict[int, list[RegisterMark]]:
    """Each placement's register rows from `since` to `until`, oldest first, to read: those laid out (as plain rows
    with RegisterMark's columns), and (while it runs) the school days not laid out yet as unsaved RegisterMarks (id
    None), so reading never writes and never misses a day. A few queries for any number of placements;
    calendar_of(placement) gives the calendar its registers follow. `placements` need id, status and start_date."""
    ids = [p.id for p in placements]
    found: dict[int, list[RegisterMark]] = {i: [] for i in ids}
    if not ids:
        return found
    # plain rows, not ORM objects: a school-wide list reads thousands, and only reads them
    for mark in session.execute(select(RegisterMark.__table__).where(RegisterMark.placement_id.in_(ids), RegisterMark.day >= since,
                                                                     RegisterMark.day <= until).order_by(RegisterMark.day, RegisterMark.starts)):
        found[mark.placement_id].append(mark)
    running = [p for p in placements if p.status in RUNNING]
    books = {b.placement_id: b for b in session.scalars(select(RegisterBook).where(
        RegisterBook.placement_id.in_([p.id for p in running] or [-1])))}
    behind = {p.id: days for p in running
              if (days := [d for d in due_days(p, books.get(p.id), calendar_of(p), until) if d >= since])}
    if behind:
        sessions: dict[int, list[TimetableSession]] = {}
        for s in session.scalars(select(TimetableSession).where(TimetableSession.placement_id.in_(list(behind)))):
            sessions.setdefault(s.placement_id, []).append(s)
        for p in running:
            if p.id not in behind:
                continue
            have = {(m.day, m.starts) for m in found[p.id]}
            extra = [row for day in behind[p.id] for row in slots(p, sessions.get(p.id, []), day) if (row.day, row.starts) not in have]
            found[p.id] = sorted(found[p.id] + extra, key=lambda m: (m.day, m.starts))
    return found


def is_missing(mark: RegisterMark, now: datetime, grace_minutes: int) -> bool:
    return mark.status is None and mark.starts_at + timedelta(minutes=grace_minutes) <= now


def is_first_day(session, mark: RegisterMark) -> bool:
    """Whether this is the pupil's first day at the placement (no register row on an earlier day)."""
    return not session.scalar(select(exists().where(RegisterMark.placement_id == mark.placement_id, RegisterMark.day < mark.day)))


# -- recording -----------------------------------------------------------------------------------------------------

@dataclass
class Report:
    """One mark as the provider sends it."""
    placement_id: int
    day: date
    starts: str
    status: str
    minutes_late: int | None = None
    reason: str = ""
    note: str = ""
    key: str = ""  # where errors about it are shown

    @classmethod
    def parse(cls, raw: dict, key: str = "") -> "Report":
        """A report from form or JSON values; Invalid naming the row's fields when something is wrong."""
        errors = {}
        try:
            placement_id = int(raw.get("placement_id"))
        except (TypeError, ValueError):
            placement_id = 0
            errors["placement_id"] = ["Say which pupil's placement this mark is for."]
        try:
            day = date.fromisoformat(str(raw.get("day", "")))
        except ValueError:
            day = date.min
            errors["day"] = ["Give the day as a date like 2026-01-12."]
        starts = str(raw.get("starts", ""))
        if len(starts) != 5 or starts[2] != ":":
            errors["starts"] = ["Give the session's start time, like 09:30."]
        status = str(raw.get("status") or "")
        if status not in STATUSES:
            errors["status"] = ["Choose present, late or absent."]
        minutes, reason = None, str(raw.get("reason") or "")
        if status == "late":
            try:
                minutes = int(raw.get("minutes_late"))
                if not 1 <= minutes <= MAX_MINUTES_LATE:
                    raise ValueError
            except (TypeError, ValueError):
                errors["minutes_late"] = [f"Say how many minutes late, from 1 to {MAX_MINUTES_LATE}."]
        if status == "absent" and reason not in REASONS:
            errors["reason"] = ["Choose why the pupil is absent (or 'Did not arrive, no reason given')."]
        note = str(raw.get("note") or "").strip()
        if len(note) > MAX_NOTE:
            errors["note"] = [f"Keep the note under {MAX_NOTE} characters."]
        key = key or f"{placement_id}:{day.isoformat()}:{starts}"
        if errors:
            raise Invalid("This mark needs correcting.", {"fields": {f"{key}.{f}": m for f, m in errors.items()}})
        return cls(placement_id, day, starts, status, minutes, reason if status == "absent" else "", note, key)


def apply(mark: RegisterMark, report: Report, by, now: datetime) -> bool:
    """Write the provider's report on a mark; False when it says what the mark already says (a double submit)."""
    same = (mark.status, mark.minutes_late, mark.reason, mark.note) == (report.status, report.minutes_late, report.reason, report.note)
    if same:
        return False
    mark.status, mark.minutes_late, mark.reason, mark.note = report.status, report.minutes_late, report.reason, report.note
    mark.marked_at, mark.marked_by_id, mark.marked_by = now, by.id, by.display_name
    return True


def check_timing(mark: RegisterMark, report: Report, now: datetime, today: date) -> str | None:
    """Why this mark cannot be recorded now, or None: a day is marked once it has come, and nobody is present or late
    at a session that has not started (an absence known in advance may be reported on the day)."""
    if report.day > today:
        return "This session is on a later day: mark it on the day."
    if report.status in ("present", "late") and mark.starts_at > now:
        return f"This session starts at {mark.starts}: mark it present or late once it has started."
    return None


# -- a family's view (the contract with apflow/services/families.py) ----------------------------------------------

FAMILY_WORDS = {"present": "Attended", "absent": "Absent", "not_recorded": "Not recorded yet"}


def family_attendance(session, placement_id: int, since: date, until: date) -> list[dict]:
    """The placement's sessions between `since` and `until` that have begun, in plain words for a parent: attended,
    late by so many minutes, absent, or not recorded yet. No provider note, no code, no reason, nothing about child
    protection."""
    placement = session.get(Placement, placement_id)
    if placement is None:
        return []
    now = clock.now()
    calendar = calendar_for(session, school_of(session, placement))
    rows = []
    for mark in register(session, placement, calendar, since, min(until, now.astimezone(UK).date())):
        if mark.starts_at > now:
            continue
        status = mark.status or "not_recorded"
        label = f"Arrived {mark.minutes_late} minutes late" if status == "late" else FAMILY_WORDS[status]
        rows.append({"day": mark.day.isoformat(), "starts": mark.starts, "ends": mark.ends, "status": status, "label": label,
                     "minutes_late": mark.minutes_late if status == "late" else None})
    return rows


# -- whereabouts (R62) ---------------------------------------------------------------------------------------------

NOT_RUNNING = {
    "suspended": "Suspended while a safeguarding concern is dealt with: the pupil is not at the provider",
    "removed": "Removed from the placement: the pupil is not at the provider",
    "ended": "The placement has ended",
    "withdrawn": "The placement was withdrawn before it started",
    "declined": "The placement was declined",
    "not_placed": "The placement did not go ahead",
}


def whereabouts(placement: Placement, provider: str | None, calendar: SchoolCalendar | None, marks: list[RegisterMark],
                now: datetime) -> dict:
    """Where the pupil should be at `now` (R62): in which session, where and with whom, and today's mark; or why not in
    a session. `provider` is the provider's name, `marks` today's register rows."""
    base = {"provider": provider, "tutor": placement.tutor_name or None}
    if placement.status in NOT_RUNNING:
        return {**base, "state": placement.status, "words": NOT_RUNNING[placement.status]}
    if placement.status not in RUNNING:
        return {**base, "state": "not_started", "words": "The placement has not started yet"}
    local = now.astimezone(UK)
    today = local.date()
    if placement.start_date and placement.start_date > today:
        return {**base, "state": "not_started", "words": f"The placement starts on {placement.start_date:%a %d %b %Y}"}
    off = day_off(calendar, today)
    if off:
        return {**base, "state": off[0], "words": off[1]}
    today_marks = sorted((m for m in marks if m.day == today), key=lambda m: m.starts)
    if not today_marks:
        return {**base, "state": "no_session", "words": "No AP session today: the pupil is expected at their own school"}
    clock_time = local.strftime("%H:%M")
    for mark in today_marks:
        if mark.starts <= clock_time < mark.ends:
            return {**base, "state": "in_session", "words": _in_session_words(mark), "session": _session(mark),
                    "mark": mark_words(mark)}
    if clock_time < today_marks[0].starts:
        first = today_marks[0]
        return {**base, "state": "before_sessions", "words": f"Before today's sessions: the first is at {first.starts}",
                "session": _session(first)}
    later = [m for m in today_marks if m.starts > clock_time]
    if later:
        return {**base, "state": "between_sessions", "words": f"Between sessions: the next is at {later[0].starts}",
                "session": _session(later[0])}
    return {**base, "state": "after_sessions", "words": f"After today's sessions (the last ended at {today_marks[-1].ends})",
            "mark": mark_words(today_marks[-1])}


def _session(mark: RegisterMark) -> dict:
    return {"day": mark.day.isoformat(), "starts": mark.starts, "ends": mark.ends, "activity": mark.activity, "address": mark.address}


def _in_session_words(mark: RegisterMark) -> str:
    if mark.status == "absent":
        return f"Should be at {mark.address}, but the provider reported them absent"
    if mark.status is None:
        return f"In a session at {mark.address} (not registered yet)"
    return f"In a session at {mark.address}"


def mark_words(mark: RegisterMark) -> dict:
    """What a mark says, for staff: the provider's report and the school's code."""
    if mark.status is None:
        report = "Not registered yet"
    elif mark.status == "late":
        report = f"Late ({mark.minutes_late} min)"
    elif mark.status == "absent":
        report = f"Absent: {REASONS.get(mark.reason, REASONS['other'])[0]}"
    else:
        report = "Present"
    return {"status": mark.status, "report": report, "code": mark.code,
            "code_words": CODES[mark.code][0] if mark.code in CODES else None}


def unfollowed_absences(session, placement_id: int) -> list[RegisterMark]:
    """The placement's absences the school has not followed up yet, oldest first."""
    return list(session.scalars(select(RegisterMark).where(
        and_(RegisterMark.placement_id == placement_id, RegisterMark.status == "absent", RegisterMark.followed_up_at.is_(None)))
        .order_by(RegisterMark.day, RegisterMark.starts)))
