"""The school census's alternative provision return (issue 16, part 4): the AP placements a school arranged that were
open at any time in a census's collection period, one row each with the DfE's items, checked before it is sent.

docs/census.md describes every column: where apflow takes it from, its allowed values and what to check; the code
sets below are the one place they live. A value that is missing or wrong is never sent blank without a word: it is a
problem on the census page, with how to fix it (and a form to fix it there).

Census days: the autumn census is on the first Thursday of October, spring on the third Thursday of January, summer
on the third Thursday of May. A census covers the placements open at any time from the previous census day to its own.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements import registers as domain
from apflow.placements.common import UK
from apflow.placements.models import (
    CensusPlacement,
    LogEntry,
    Placement,
    Provider,
    ProviderNumbers,
    Pupil,
    PupilNumbers,
    SchoolNumbers,
    TimetableSession,
)
from apflow.store.models import Instance, Organisation, User

from . import permissions, read_log
from .core import Core
from .exports import to_csv

log = logging.getLogger(__name__)

# -- the DfE's code sets, as apflow reads them (docs/census.md says how to check them each year) -----------------------
SETTING_TYPES = {"NFE": "Non-maintained further education provision", "OOT": "One-on-one tuition",
                 "OTH": "Other unregistered provider", "WBP": "Work-based placement"}
REASONS = {"MEN": "Medical condition (mental health need)", "PHY": "Medical condition (physical health need)",
           "BEH": "To improve behaviour (directed off site)", "SUS": "Education during a suspension",
           "SEN": "Special educational needs", "OTH": "Other reason"}
ATTENDANCE_CODES = {"B": "Off-site educational activity", "K": "Education arranged by the local authority",
                    "D": "Dual registered at the AP setting"}

# the return's columns, in order; docs/census.md has a row for each (a test holds the two together)
COLUMNS = ["UPN", "Pupil name", "Date of birth", "AP URN", "AP UKPRN", "AP setting type", "AP entry date", "AP leaving date",
           "AP placement reason", "AP sessions per week", "Attendance code"]

TERMS = ("autumn", "spring", "summer")
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the 23 check letters (no I, O or S)
STAFF_WORDS = "the school's AP coordinators, headteacher and managers"


def _nth_thursday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 7 * (n - 1))


@dataclass(frozen=True)
class Census:
    term: str
    year: int

    @property
    def key(self) -> str:
        return f"{self.term}-{self.year}"

    @property
    def day(self) -> date:
        return {"autumn": lambda: _nth_thursday(self.year, 10, 1), "spring": lambda: _nth_thursday(self.year, 1, 3),
                "summer": lambda: _nth_thursday(self.year, 5, 3)}[self.term]()

    @property
    def previous(self) -> Census:
        return {"autumn": Census("summer", self.year), "spring": Census("autumn", self.year - 1),
                "summer": Census("spring", self.year)}[self.term]

    @property
    def starts(self) -> date:
        """The first day of the collection period: the previous census day."""
        return self.previous.day

    @property
    def title(self) -> str:
        return f"{self.term.capitalize()} {self.year} census ({self.day:%A} {self.day.day} {self.day:%B %Y})"

    @classmethod
    def parse(cls, key: str | None) -> Census:
        term, _, year = str(key or "").partition("-")
        if term not in TERMS or not year.isdigit() or not 2000 <= int(year) <= 2100:
            raise Invalid("Choose a census, like spring-2026.", {"fields": {"census": ["Choose a census from the list."]}})
        return cls(term, int(year))

    @classmethod
    def on_or_after(cls, day: date) -> Census:
        """The next census on or after `day`."""
        found = [c for y in (day.year, day.year + 1) for c in (cls("spring", y), cls("summer", y), cls("autumn", y)) if c.day >= day]
        return min(found, key=lambda c: c.day)


def choices(around: date, count: int = 4) -> list[Census]:
    """The next census and the ones before it, newest first."""
    found = [Census.on_or_after(around)]
    while len(found) < count:
        found.append(found[-1].previous)
    return found


# -- checking values -------------------------------------------------------------------------------------------------

def upn_problem(upn: str) -> str | None:
    """Why a UPN is not a valid one (13 characters, a check letter first that matches the rest), or None."""
    if not re.fullmatch(r"[A-Z]\d{11}[0-9A-Z]", upn):
        return "A UPN is 13 characters: a letter, 11 digits, then a digit (or a letter for a temporary UPN)."
    values = [int(c) if c.isdigit() else UPN_LETTERS.find(c) for c in upn[1:]]
    if min(values) < 0:
        return "A temporary UPN ends in one of the check letters (not I, O or S)."
    if UPN_LETTERS[sum(v * w for v, w in zip(values, range(2, 14))) % 23] != upn[0]:
        return "The check letter does not match the digits: copy the UPN again from the school's MIS."
    return None


def _clean(values: dict, field: str) -> str:
    return re.sub(r"\s+", "", str(values.get(field) or "")).upper()


def check_school_numbers(values: dict) -> tuple[dict, dict]:
    numbers = {f: _clean(values, f) for f in ("urn", "la_number", "estab_number")}
    errors = {}
    for field, digits, words in (("urn", 6, "URN"), ("la_number", 3, "LA number"), ("estab_number", 4, "establishment number")):
        if numbers[field] and not re.fullmatch(rf"\d{{{digits}}}", numbers[field]):
            errors[field] = [f"The {words} is {digits} digits."]
    return numbers, errors


def check_provider_numbers(values: dict) -> tuple[dict, dict]:
    numbers = {f: _clean(values, f) for f in ("urn", "ukprn", "setting_type")}
    errors = {}
    if numbers["urn"] and not re.fullmatch(r"\d{6}", numbers["urn"]):
        errors["urn"] = ["A URN is 6 digits: find it on Get Information about Schools."]
    if numbers["ukprn"] and not re.fullmatch(r"1\d{7}", numbers["ukprn"]):
        errors["ukprn"] = ["A UKPRN is 8 digits starting with 1: find it on the UK Register of Learning Providers."]
    if numbers["setting_type"] and numbers["setting_type"] not in SETTING_TYPES:
        errors["setting_type"] = ["Choose a setting type from the list."]
    if sum(bool(v) for v in numbers.values()) > 1:
        errors.setdefault("urn", []).append("Give only one: the URN, else the UKPRN, else (with neither) the setting type.")
    return numbers, errors


# -- the return ------------------------------------------------------------------------------------------------------

def schools(core: Core, user: User) -> list[dict]:
    """The schools whose census this person returns."""
    with core.db.session(readonly=True) as session:
        if not permissions.can(user, "census.return", None, session):
            raise NotFound("There is no school whose census you return.")
        orgs = session.scalars(select(Organisation).where(Organisation.kind == "school").order_by(Organisation.name))
        return [{"id": o.id, "name": o.name} for o in orgs if permissions.can(user, "census.return", o, session)]


def _school(session, user: User, school_id: int | None) -> Organisation:
    if school_id is None:
        mine = [o for o in session.scalars(select(Organisation).where(Organisation.kind == "school").order_by(Organisation.id))
                if permissions.can(user, "census.return", o, session)]
        if mine:
            return mine[0]
    else:
        school = session.get(Organisation, _id(school_id)) if _id(school_id) else None
        if school is not None and permissions.can(user, "census.return", school, session):
            return school
    raise NotFound("There is no school whose census you return: the census is returned by " + STAFF_WORDS + ".")


def _sessions_per_week(sessions: list[TimetableSession]) -> int:
    """The statutory sessions (mornings and afternoons) a week the timetable covers: two sessions in one morning count once."""
    halves = set()
    for s in sessions:
        for half in domain.half_of(s.starts, s.ends).split("+"):
            halves.add((s.weekday, half))
    return len(halves)


def _problem(field: str, message: str, fix: str, form: str, target: int | None) -> dict:
    return {"field": field, "message": message, "fix": fix, "form": form, "target": target}


def _build(session, school: Organisation, census: Census) -> dict:
    numbers = session.get(SchoolNumbers, school.id)
    school_problems = []
    for field, words in (("urn", "URN"), ("la_number", "LA number"), ("estab_number", "establishment number")):
        if not numbers or not getattr(numbers, field):
            school_problems.append(_problem(field, f"The school's {words} is not recorded.",
                                            f"Enter the school's {words} in 'Your school's numbers' (Get Information about Schools has it).",
                                            "school", school.id))
    # plain rows, not ORM objects: a school's return reads every placement and timetable it has
    found = list(session.execute(
        select(Placement.id, Placement.instance_id, Placement.start_date, Placement.end_date, Placement.attendance_code,
               Placement.reasons, Pupil.id.label("pupil_id"), Pupil.name.label("pupil_name"), Pupil.ref, Pupil.date_of_birth,
               Provider.id.label("provider_id"), Provider.name.label("provider_name"))
        .join(Pupil, Pupil.id == Placement.pupil_id)
        .outerjoin(Instance, Instance.id == Placement.instance_id).outerjoin(Provider, Provider.id == Placement.provider_id)
        .where(func.coalesce(Pupil.organisation_id, Instance.organisation_id) == school.id,
               Placement.start_date.is_not(None), Placement.start_date <= census.day,
               or_(Placement.end_date.is_(None), Placement.end_date >= census.starts))
        .order_by(Pupil.name, Placement.start_date, Placement.id)))
    ids = [r.id for r in found] or [-1]
    upns = dict(session.execute(select(PupilNumbers.pupil_id, PupilNumbers.upn).where(
        PupilNumbers.pupil_id.in_([r.pupil_id for r in found] or [-1]))).all())
    reasons = dict(session.execute(select(CensusPlacement.placement_id, CensusPlacement.reason).where(CensusPlacement.placement_id.in_(ids))).all())
    providers = {n.provider_id: n for n in session.execute(select(ProviderNumbers.provider_id, ProviderNumbers.urn, ProviderNumbers.ukprn,
                                                                  ProviderNumbers.setting_type).where(
        ProviderNumbers.provider_id.in_([r.provider_id for r in found if r.provider_id is not None] or [-1])))}
    timetables: dict[int, list] = {}
    for s in session.execute(select(TimetableSession.placement_id, TimetableSession.weekday, TimetableSession.starts,
                                    TimetableSession.ends).where(TimetableSession.placement_id.in_(ids))):
        timetables.setdefault(s.placement_id, []).append(s)
    rows = [_census_row(r, providers.get(r.provider_id), upns.get(r.pupil_id), reasons.get(r.id), timetables.get(r.id, []), census)
            for r in found]
    settings = {r.provider_id: {"id": r.provider_id, "name": r.provider_name,
                                "urn": providers[r.provider_id].urn if r.provider_id in providers else "",
                                "ukprn": providers[r.provider_id].ukprn if r.provider_id in providers else "",
                                "setting_type": providers[r.provider_id].setting_type if r.provider_id in providers else ""}
                for r in found if r.provider_id is not None}
    return {"providers": sorted(settings.values(), key=lambda p: p["name"]),
            "school": {"id": school.id, "name": school.name, "urn": numbers.urn if numbers else "",
                       "la_number": numbers.la_number if numbers else "", "estab_number": numbers.estab_number if numbers else ""},
            "school_problems": school_problems, "rows": rows}


def _census_row(r, numbers, upn: str | None, reason: str | None, sessions: list, census: Census) -> dict:
    """One placement's row: `r` a row of _build's query, `numbers` its provider's (or None)."""
    problems = []
    pid = r.id
    if not upn:
        problems.append(_problem("UPN", "No UPN is recorded for this pupil.", "Enter the pupil's UPN from the school's MIS.", "row", pid))
    elif (why := upn_problem(upn)) is not None:
        problems.append(_problem("UPN", why, "Correct the UPN from the school's MIS.", "row", pid))
    if r.date_of_birth is None:
        problems.append(_problem("Date of birth", "No date of birth is recorded.", "Enter it from the school's MIS.", "row", pid))
    urn = numbers.urn if numbers else ""
    ukprn = numbers.ukprn if numbers else ""
    setting = numbers.setting_type if numbers else ""
    if r.provider_id is None:
        problems.append(_problem("AP URN", "The placement has no provider.", "Choose the provider on the placement first.", "placement", pid))
    elif not (urn or ukprn or setting):
        problems.append(_problem("AP URN", f"{r.provider_name} has no URN, UKPRN or setting type recorded.",
                                 "Enter its URN (Get Information about Schools) or UKPRN (UK Register of Learning Providers); "
                                 "if it has neither, choose its setting type.", "provider", r.provider_id))
    leaving = r.end_date if r.end_date and r.end_date <= census.day else None
    if not reason:
        problems.append(_problem("AP placement reason", "The placement's primary reason is not chosen.",
                                 "Choose the main reason the placement was arranged (the referral's reasons are shown beside it).", "row", pid))
    per_week = _sessions_per_week(sessions)
    if not per_week:
        problems.append(_problem("AP sessions per week", "The placement has no timetabled sessions.",
                                 "Timetable its sessions (the allocation step) so the sessions a week can be counted.", "placement", pid))
    code = r.attendance_code or ""
    if code not in ATTENDANCE_CODES:
        problems.append(_problem("Attendance code", f"The register code for AP sessions is {code or 'not recorded'}.",
                                 "The placement's start records it: B (off-site activity), K (arranged by the LA) or D (dual registered).",
                                 "placement", pid))
    values = [upn or "", r.pupil_name, r.date_of_birth, urn, "" if urn else ukprn, "" if (urn or ukprn) else setting,
              r.start_date, leaving, reason or "", per_week or "", code if code in ATTENDANCE_CODES else ""]
    values = [v.isoformat() if isinstance(v, date) else str(v or "") for v in values]  # as sent: dates YYYY-MM-DD
    return {"placement_id": pid, "instance_id": r.instance_id, "pupil_id": r.pupil_id, "pupil": r.pupil_name, "ref": r.ref,
            "provider": r.provider_name, "provider_id": r.provider_id,
            "referral_reasons": list(r.reasons or []), "values": values, "problems": problems}


def census_return(core: Core, user: User, census_key: str | None = None, school_id: int | None = None) -> dict:
    """The return of one school for one census (the next one by default): its rows and every problem to fix first."""
    census = Census.parse(census_key) if census_key else Census.on_or_after(clock.now().astimezone(UK).date())
    with core.db.session(readonly=True) as session:
        school = _school(session, user, school_id)
        built = _build(session, school, census)
    problems = built["school_problems"] + [p for r in built["rows"] for p in r["problems"]]
    return {"census": {"key": census.key, "title": census.title, "day": census.day.isoformat(), "starts": census.starts.isoformat()},
            "censuses": [{"key": c.key, "title": c.title} for c in choices(clock.now().astimezone(UK).date())],
            "columns": COLUMNS, **built, "problems": len(problems),
            "reasons": REASONS, "setting_types": SETTING_TYPES, "attendance_codes": ATTENDANCE_CODES}


def census_csv(core: Core, user: User, census_key: str | None = None, school_id: int | None = None, route: str = "") -> tuple[bytes, str, int]:
    """The return as CSV (exactly COLUMNS, in order; dates YYYY-MM-DD), its file name, and how many problems it has."""
    found = census_return(core, user, census_key, school_id)
    content = to_csv([r["values"] for r in found["rows"]], COLUMNS)
    read_log.write(core, user, [r["pupil_id"] for r in found["rows"]], f"Census AP return ({found['census']['key']})", route)
    log.info("census AP return by %s: %s, %s (%d rows, %d problems)", user.username, found["school"]["name"], found["census"]["key"],
             len(found["rows"]), found["problems"])
    number = found["school"]["la_number"] + found["school"]["estab_number"]
    return content, f"census-ap-{found['census']['key']}{'-' + number if number else ''}.csv", found["problems"]


# -- fixing what the census needs ------------------------------------------------------------------------------------

def _name(user: User) -> str:
    return user.display_name or user.username


def _log(session, user: User, summary: str, placement: Placement | None = None, provider_id: int | None = None, record: str = "") -> None:
    session.add(LogEntry(placement_id=placement.id if placement else None, provider_id=provider_id if provider_id else (placement.provider_id if placement else None),
                         instance_id=placement.instance_id if placement else None, at=clock.now(), actor_id=user.id, actor=user.username,
                         kind="census", record=record, summary=summary[:2000]))


def save_school_numbers(core: Core, user: User, school_id: int, values: dict) -> dict:
    numbers, errors = check_school_numbers(values)
    if errors:
        raise Invalid("Check the school's numbers; nothing was saved.", {"fields": errors})
    with core.db.session() as session:
        school = _school(session, user, school_id)
        row = session.get(SchoolNumbers, school.id) or SchoolNumbers(organisation_id=school.id)
        for field, value in numbers.items():
            setattr(row, field, value)
        row.updated_at, row.updated_by = clock.now(), _name(user)
        session.add(row)
    return numbers


def _id(value) -> int | None:
    """A row id from a form or URL; None for anything no row can have (text, or past the database's integer)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number < 2**31 else None


def _placement_of_school(session, school: Organisation, placement_id) -> Placement:
    placement = session.get(Placement, _id(placement_id)) if _id(placement_id) else None
    if placement is not None:
        pupil = session.get(Pupil, placement.pupil_id)
        commissioner = session.scalar(select(Instance.organisation_id).where(Instance.id == placement.instance_id)) if placement.instance_id else None
        if domain.school_id(pupil, commissioner) == school.id:
            return placement
    raise NotFound(f"There is no placement {placement_id} in your school's census.")


def save_provider_numbers(core: Core, user: User, school_id: int | None, provider_id, values: dict) -> dict:
    """A provider's URN, UKPRN or setting type, by the staff of a school that places pupils with it."""
    numbers, errors = check_provider_numbers(values)
    if errors:
        raise Invalid("Check the provider's numbers; nothing was saved.", {"fields": errors})
    with core.db.session() as session:
        school = _school(session, user, school_id)
        provider = session.get(Provider, _id(provider_id)) if _id(provider_id) else None
        placed = provider is not None and session.scalar(select(func.count()).select_from(Placement).join(Pupil, Pupil.id == Placement.pupil_id)
                                                         .outerjoin(Instance, Instance.id == Placement.instance_id)
                                                         .where(Placement.provider_id == provider.id,
                                                                func.coalesce(Pupil.organisation_id, Instance.organisation_id) == school.id))
        if not placed:
            raise NotFound(f"There is no provider {provider_id} your school places pupils with.")
        row = session.get(ProviderNumbers, provider.id) or ProviderNumbers(provider_id=provider.id)
        for field, value in numbers.items():
            setattr(row, field, value)
        row.updated_at, row.updated_by = clock.now(), _name(user)
        session.add(row)
        said = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in numbers.items() if v) or "none"
        _log(session, user, f"Census numbers of {provider.name} set by {_name(user)}: {said}", provider_id=provider.id, record="provider_numbers")
    return numbers


def save_row(core: Core, user: User, school_id: int, placement_id: int, values: dict) -> dict:
    """A census row's UPN, primary reason and the pupil's date of birth, each only when given; all or nothing."""
    upn = _clean(values, "upn") if "upn" in values else None
    reason = _clean(values, "reason") if "reason" in values else None
    born, errors = None, {}
    if values.get("date_of_birth"):
        try:
            born = date.fromisoformat(str(values["date_of_birth"]).strip())
        except ValueError:
            errors["date_of_birth"] = ["Use a date like 2011-03-14."]
        else:
            today = clock.now().astimezone(UK).date()
            if not today - timedelta(days=int(365.25 * 25)) <= born <= today - timedelta(days=365 * 2):
                errors["date_of_birth"] = ["Check the year: a pupil of school age was born within the last 2 to 25 years."]
    if upn and (why := upn_problem(upn)):
        errors["upn"] = [why]
    if reason and reason not in REASONS:
        errors["reason"] = ["Choose a reason from the list."]
    if errors:
        raise Invalid("Check the census details; nothing was saved.", {"fields": errors})
    with core.db.session() as session:
        school = _school(session, user, school_id)
        placement = _placement_of_school(session, school, placement_id)
        now, said = clock.now(), []
        if upn is not None:
            held = session.get(PupilNumbers, placement.pupil_id)
            other = session.scalar(select(PupilNumbers.pupil_id).where(PupilNumbers.upn == upn, PupilNumbers.pupil_id != placement.pupil_id)) if upn else None
            if other is not None:
                raise Invalid("Another pupil already has this UPN; nothing was saved.",
                              {"fields": {"upn": ["Another pupil already has this UPN: check which record is right."]}})
            if not upn and held is not None:
                session.delete(held)
            elif upn:
                held = held or PupilNumbers(pupil_id=placement.pupil_id)
                held.upn, held.updated_at, held.updated_by = upn, now, _name(user)
                session.add(held)
            said.append(f"UPN {'recorded' if upn else 'removed'}")
        if reason is not None:
            row = session.get(CensusPlacement, placement.id)
            if not reason and row is not None:
                session.delete(row)
            elif reason:
                row = row or CensusPlacement(placement_id=placement.id)
                row.reason, row.updated_at, row.updated_by = reason, now, _name(user)
                session.add(row)
            said.append(f"census reason {reason or 'removed'}")
        if born is not None:
            session.get(Pupil, placement.pupil_id).date_of_birth = born
            said.append("date of birth recorded")
        if said:
            _log(session, user, f"Census details set by {_name(user)}: {', '.join(said)}", placement=placement, record="census_placements")
    return {"upn": upn, "reason": reason}
