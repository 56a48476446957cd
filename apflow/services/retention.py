"""Retention (R111): what is kept how long, a daily run that deletes what has fallen due, a dry run for managers, and
the deletion log.

The rules (years are settings, docs/operations.md):
- child_protection: concerns, the child-protection file, its read log and access grants, until the pupil's 25th
  birthday (the guidance; not a setting). Without a date of birth nothing of it is deleted: it is listed as held.
- placements: a finished placement's whole file (plans, reviews, consents, lesson reports, registers, communications,
  its workflow and documents: everything that hangs off the placement) `retention_placement_years` after it ended.
- registers: register marks `retention_register_years` after the session's day, while the placement's file is kept.
- read_log: read-log entries `retention_read_log_years` after the read.
- pupils: the pupil's own record with the family and professionals, once nothing else is held about them and
  `retention_placement_years` have passed since it was made.

Legal holds: nothing of a pupil with an open safeguarding concern is deleted, and nothing of a placement still open;
a record another table still refers to without a cascade (a row this module does not know about) is held too, never
deleted out from under it. Each deletion is written to the deletion log (rule, table, id or count, the pupil's id,
the dependent rows per table): never the content.

The run claims its UK day in retention_runs, in the same transaction that deletes, so two schedulers never both run it
and a failed run is tried again a minute later.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from apflow.clock import UK, clock
from apflow.errors import Forbidden, Invalid
from apflow.placements.common import today
from apflow.placements.models import (
    Concern,
    CpAccessGrant,
    CpRead,
    CpRecord,
    Placement,
    Pupil,
    ReadLogEntry,
    RegisterMark,
    RetentionDeletion,
    RetentionRun,
)
from apflow.store.models import Base, Document, Instance, User

from . import permissions
from .core import Core

log = logging.getLogger(__name__)

FINISHED = {"closed", "ended", "not_placed"}  # a placement in any other state is open: a legal hold
RULES = {
    "child_protection": "Child-protection records: until the pupil's 25th birthday",
    "placements": "A finished placement's file: {retention_placement_years} years after it ended",
    "registers": "Register marks: {retention_register_years} years after the session",
    "read_log": "Read-log entries: {retention_read_log_years} years after the read",
    "pupils": "The pupil's record, family and professionals: once nothing else is held, {retention_placement_years} years after it was made",
}
CP_TABLES = {"concerns", "cp_records", "cp_reads", "cp_access_grants"}


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def rules(settings) -> dict[str, str]:
    return {name: words.format(**vars(settings)) for name, words in RULES.items()}


@dataclass
class Due:
    rule: str
    record: str  # the table
    record_id: int | None  # None for a count of rows (registers, read-log entries, a pupil's cp_reads)
    pupil_id: int
    due_on: date
    rows: int = 1
    scope: dict = field(default_factory=dict)  # what the count covers: {"placement_id": 3} or {"before": "2020-01-01"}


@dataclass
class Held:
    rule: str
    record: str
    record_id: int | None
    pupil_id: int
    due_on: date | None
    reason: str


# -- what is due on a day ------------------------------------------------------------------------------------------

def _uk_day(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def _restricting(table: str) -> list:
    """Foreign keys onto `table` that neither cascade nor set null: a row they point at may not be deleted."""
    return [fk for t in Base.metadata.sorted_tables for fk in t.foreign_keys
            if fk.column.table.name == table and (fk.ondelete or "").upper() not in ("CASCADE", "SET NULL")]


def _cascading(table: str) -> list:
    return [fk for t in Base.metadata.sorted_tables for fk in t.foreign_keys
            if fk.column.table.name == table and (fk.ondelete or "").upper() == "CASCADE"]


def _referenced(session, table: str, ids: list[int], handled: set[str]) -> dict[int, str]:
    """Which of these rows another table still refers to without a cascade (ignoring the tables this run empties)."""
    found: dict[int, str] = {}
    for fk in _restricting(table):
        if fk.parent.table.name in handled or not ids:
            continue
        for chunk in _chunks(ids):
            for row_id in session.scalars(select(fk.parent).where(fk.parent.in_(chunk)).distinct()):
                found.setdefault(row_id, fk.parent.table.name)
    return found


def _dependants(session, table: str, ids: list[int]) -> dict[int, dict[str, int]]:
    """Rows that go with each of these (direct dependants with a cascading foreign key), per table."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for fk in _cascading(table):
        for chunk in _chunks(ids):
            for row_id, n in session.execute(select(fk.parent, func.count()).where(fk.parent.in_(chunk)).group_by(fk.parent)):
                counts[row_id][fk.parent.table.name] = counts[row_id].get(fk.parent.table.name, 0) + n
    return counts


def _chunks(ids: list, size: int = 500):
    ids = list(ids)
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def plan(session, settings, on: date) -> tuple[list[Due], list[Held]]:
    """Everything the rules would delete on `on`, in the order the run deletes it, and what is due but held."""
    due: list[Due] = []
    held: list[Held] = []
    open_concern = set(session.scalars(select(Concern.pupil_id).where(Concern.status != "resolved").distinct()))
    placements = session.execute(select(Placement.id, Placement.pupil_id, Placement.status, Placement.end_date, Placement.updated_at)).all()
    open_placement = {p.id for p in placements if p.status not in FINISHED}

    # registers: marks older than the rule, unless their placement goes whole (below) or is held
    cutoff = add_years(on, -settings.retention_register_years)
    placement_due: dict[int, date] = {}
    years = settings.retention_placement_years
    for p in placements:
        if p.status in FINISHED:
            ended = p.end_date or _uk_day(p.updated_at)
            placement_due[p.id] = add_years(ended, years)
    going = {pid for pid, when in placement_due.items() if when <= on}
    pupil_of = {p.id: p.pupil_id for p in placements}
    held_placements = _referenced(session, "placements", sorted(going), {"concerns"} | CP_TABLES)
    for pid in sorted(going):
        pupil_id = pupil_of[pid]
        if pupil_id in open_concern:
            held.append(Held("placements", "placements", pid, pupil_id, placement_due[pid], "an open safeguarding concern about the pupil"))
        elif pid in held_placements:
            held.append(Held("placements", "placements", pid, pupil_id, placement_due[pid], f"still referred to by {held_placements[pid]}"))
        else:
            due.append(Due("placements", "placements", pid, pupil_id, placement_due[pid]))
    deleted_placements = {d.record_id for d in due}
    for pid, n, first in session.execute(select(RegisterMark.placement_id, func.count(), func.min(RegisterMark.day))
                                         .where(RegisterMark.day <= cutoff).group_by(RegisterMark.placement_id)):
        if pid in deleted_placements:
            continue
        pupil_id = pupil_of[pid]
        when = add_years(first, settings.retention_register_years)
        if pid in open_placement or pupil_id in open_concern:
            why = "the placement is still open" if pid in open_placement else "an open safeguarding concern about the pupil"
            held.append(Held("registers", "register_marks", None, pupil_id, when, f"{n} marks: {why}"))
        else:
            due.append(Due("registers", "register_marks", None, pupil_id, when, rows=n,
                           scope={"placement_id": pid, "on_or_before": cutoff.isoformat()}))

    # child protection: at the 25th birthday
    pupils = {p.id: p for p in session.scalars(select(Pupil))}
    cp_rows: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for model in (Concern, CpRecord, CpRead, CpAccessGrant):
        for row_id, pupil_id in session.execute(select(model.id, model.pupil_id).where(model.pupil_id.is_not(None))):
            cp_rows[pupil_id][model.__tablename__].append(row_id)
    cp_gone: set[int] = set()
    for pupil_id, tables in sorted(cp_rows.items()):
        pupil = pupils[pupil_id]
        if pupil.date_of_birth is None:
            held.append(Held("child_protection", "pupils", pupil_id, pupil_id, None, "no date of birth, so the 25th birthday is not known"))
            continue
        when = add_years(pupil.date_of_birth, 25)
        if when > on:
            continue
        if pupil_id in open_concern:
            held.append(Held("child_protection", "concerns", None, pupil_id, when, "an open safeguarding concern"))
            continue
        cp_gone.add(pupil_id)
        for record_id in tables.get("concerns", []):
            due.append(Due("child_protection", "concerns", record_id, pupil_id, when))
        for table in ("cp_records", "cp_reads", "cp_access_grants"):
            if tables.get(table):
                due.append(Due("child_protection", table, None, pupil_id, when, rows=len(tables[table]), scope={"pupil_id": pupil_id}))

    # the read log
    read_cutoff = add_years(on, -settings.retention_read_log_years) + timedelta(days=1)  # reads on or before that day
    read_before = datetime.combine(read_cutoff, time(0), tzinfo=UK)
    for pupil_id, n, first in session.execute(select(ReadLogEntry.pupil_id, func.count(), func.min(ReadLogEntry.at))
                                              .where(ReadLogEntry.at < read_before).group_by(ReadLogEntry.pupil_id)):
        when = add_years(_uk_day(first), settings.retention_read_log_years)
        if pupil_id in open_concern:
            held.append(Held("read_log", "read_log", None, pupil_id, when, f"{n} entries: an open safeguarding concern"))
        else:
            due.append(Due("read_log", "read_log", None, pupil_id, when, rows=n, scope={"before": read_cutoff.isoformat()}))

    # the pupil, once nothing else is held
    placements_of: dict[int, set[int]] = defaultdict(set)
    for p in placements:
        placements_of[p.pupil_id].add(p.id)
    candidates = []
    for pupil_id, pupil in sorted(pupils.items()):
        when = add_years(_uk_day(pupil.created_at), years)
        if when > on or pupil_id in open_concern:
            continue
        if placements_of[pupil_id] - deleted_placements:
            continue  # a placement is still kept (open, not yet due, or held): the pupil stays with it
        if cp_rows.get(pupil_id) and pupil_id not in cp_gone:
            continue
        candidates.append((pupil_id, when))
    still = _referenced(session, "pupils", [c[0] for c in candidates], {"placements", "destinations"} | CP_TABLES)
    for pupil_id, when in candidates:
        if pupil_id in still:
            held.append(Held("pupils", "pupils", pupil_id, pupil_id, when, f"still referred to by {still[pupil_id]}"))
        else:
            due.append(Due("pupils", "pupils", pupil_id, pupil_id, when))
    return due, held


# -- deleting ------------------------------------------------------------------------------------------------------

def _cp_documents(session, instance_ids: list[int]) -> set[int]:
    """Workflows holding a document of a child-protection file that is kept: they are not deleted with a placement."""
    if not instance_ids:
        return set()
    return set(session.scalars(select(Document.instance_id).join(CpRecord, CpRecord.document_id == Document.id)
                               .where(Document.instance_id.in_(instance_ids)).distinct()))


def _instances_of(session, placement_ids: list[int]) -> dict[int, set[int]]:
    """Each placement's workflows: its own, and those of the rows that go with it (an arrangement notice's re-check)."""
    found: dict[int, set[int]] = defaultdict(set)
    for pid, iid in session.execute(select(Placement.id, Placement.instance_id).where(Placement.id.in_(placement_ids),
                                                                                      Placement.instance_id.is_not(None))):
        found[pid].add(iid)
    for fk in _cascading("placements"):
        table = fk.parent.table
        if "instance_id" in table.c and table.name not in CP_TABLES:
            rows = session.execute(select(fk.parent, table.c.instance_id).where(fk.parent.in_(placement_ids), table.c.instance_id.is_not(None)))
            for pid, iid in rows:
                found[pid].add(iid)
    return found


def _deletable_instances(session, instance_ids: set[int]) -> set[int]:
    """Of these workflows, those nothing kept depends on: not holding a kept child-protection document, and not
    referred to by a row without a cascade."""
    ids = sorted(instance_ids)
    return set(ids) - _cp_documents(session, ids) - set(_referenced(session, "instances", ids, set()))


def apply(session, settings, on: date, due: list[Due]) -> dict[str, int]:
    """Delete what `plan` found due, in its order, writing the deletion log; returns rows deleted per rule."""
    at = clock.now()
    orgs = dict(session.execute(select(Pupil.id, Pupil.organisation_id)).all())
    done: dict[str, int] = defaultdict(int)

    def logged(item: Due, rows: int, cascaded: dict | None = None) -> None:
        session.add(RetentionDeletion(run_day=on, deleted_at=at, rule=item.rule, record=item.record, record_id=item.record_id,
                                      rows=rows, pupil_id=item.pupil_id, organisation_id=orgs.get(item.pupil_id), due_on=item.due_on,
                                      cascaded=cascaded or {}))
        done[item.rule] += rows

    by_rule: dict[str, list[Due]] = defaultdict(list)
    for item in due:
        by_rule[item.rule].append(item)

    placement_ids = [d.record_id for d in by_rule["placements"]]
    if placement_ids:
        dependants = _dependants(session, "placements", placement_ids)
        workflows = _instances_of(session, placement_ids)
        session.execute(update(Concern).where(Concern.placement_id.in_(placement_ids)).values(placement_id=None))  # kept to the 25th birthday
        session.execute(delete(Placement).where(Placement.id.in_(placement_ids)))
        gone = _deletable_instances(session, set().union(*workflows.values()) if workflows else set())
        for chunk in _chunks(sorted(gone)):
            session.execute(delete(Instance).where(Instance.id.in_(chunk)))
        for item in by_rule["placements"]:
            mine = len(workflows.get(item.record_id, set()) & gone)
            logged(item, 1, {**dependants.get(item.record_id, {}), **({"instances": mine} if mine else {})})
    for item in by_rule["registers"]:
        n = session.execute(delete(RegisterMark).where(RegisterMark.placement_id == item.scope["placement_id"],
                                                       RegisterMark.day <= date.fromisoformat(item.scope["on_or_before"]))).rowcount
        logged(item, n)
    cp = by_rule["child_protection"]
    for table, model in (("cp_reads", CpRead), ("cp_access_grants", CpAccessGrant), ("cp_records", CpRecord)):
        for item in (d for d in cp if d.record == table):
            logged(item, session.execute(delete(model).where(model.pupil_id == item.pupil_id)).rowcount)
    concern_items = [d for d in cp if d.record == "concerns"]
    if concern_items:
        ids = [d.record_id for d in concern_items]
        instances = list(session.scalars(select(Concern.instance_id).where(Concern.id.in_(ids), Concern.instance_id.is_not(None))))
        session.execute(update(CpRecord).where(CpRecord.concern_id.in_(ids)).values(concern_id=None))
        session.execute(delete(Concern).where(Concern.id.in_(ids)))
        for chunk in _chunks(sorted(_deletable_instances(session, set(instances)))):
            session.execute(delete(Instance).where(Instance.id.in_(chunk)))
        for item in concern_items:
            logged(item, 1)
    for item in by_rule["read_log"]:
        before = datetime.combine(date.fromisoformat(item.scope["before"]), time(0), tzinfo=UK)
        logged(item, session.execute(delete(ReadLogEntry).where(ReadLogEntry.pupil_id == item.pupil_id, ReadLogEntry.at < before)).rowcount)
    pupil_ids = [d.record_id for d in by_rule["pupils"]]
    if pupil_ids:
        dependants = _dependants(session, "pupils", pupil_ids)
        session.execute(delete(Pupil).where(Pupil.id.in_(pupil_ids)))
        for item in by_rule["pupils"]:
            logged(item, 1, dependants.get(item.record_id, {}))
    return dict(done)


BATCH = 1000  # records deleted per transaction: a large backlog never holds the write lock for long


def _still_due(session, batch: list[Due]) -> list[Due]:
    """Re-check the legal holds inside the deleting transaction: a concern opened or a placement reopened since the
    plan was made keeps its records."""
    pupils = {d.pupil_id for d in batch}
    opened = set(session.scalars(select(Concern.pupil_id).where(Concern.pupil_id.in_(pupils), Concern.status != "resolved")))
    placements = {d.record_id for d in batch if d.record == "placements"} | {d.scope["placement_id"] for d in batch if "placement_id" in d.scope}
    reopened = set(session.scalars(select(Placement.id).where(Placement.id.in_(placements or [-1]), Placement.status.not_in(FINISHED))))
    return [d for d in batch if d.pupil_id not in opened and not (d.record == "placements" and d.record_id in reopened)
            and d.scope.get("placement_id") not in reopened]


def run_retention(core: Core) -> int:
    """The daily watch: after retention_time (UK) it claims the day (two schedulers never both run it), then deletes
    what has fallen due in transactions of up to BATCH records, re-checking the holds in each; what a failure leaves is
    deleted by the next day's run. Returns the rows deleted."""
    now = clock.now()
    local = now.astimezone(UK)
    from .preferences import clock_time

    if local.time() < clock_time(core.settings.retention_time, time(2, 0)):
        return 0
    day = local.date()
    with core.db.session(readonly=True) as session:
        if session.get(RetentionRun, day) is not None:
            return 0
    try:
        with core.db.session() as session:
            if session.get(RetentionRun, day) is not None:
                return 0
            session.add(RetentionRun(day=day, ran_at=now, deleted={}, held=0))
    except IntegrityError:
        return 0  # another scheduler claimed today's run
    with core.db.session(readonly=True) as session:
        due, held = plan(session, core.settings, day)
    done: dict[str, int] = defaultdict(int)
    for start in range(0, len(due), BATCH):  # in the plan's order: a pupil comes after their placements
        try:
            with core.db.session() as session:
                batch = _still_due(session, due[start:start + BATCH])
                deleted = apply(session, core.settings, day, batch)
        except Exception:  # noqa: BLE001 - the claim stands; the next run deletes what is left
            log.exception("the retention run of %s stopped after deleting %s; the next run deletes what is left", day, dict(done))
            break
        for rule, n in deleted.items():
            done[rule] += n
    with core.db.session() as session:
        run = session.get(RetentionRun, day)
        run.deleted, run.held = dict(done), len(held)
    if done:
        log.warning("retention run %s deleted %s (held %d)", day, dict(done), len(held))
    return sum(done.values())


# -- the managers' view ----------------------------------------------------------------------------------------------

def _visible(session, user: User, pupil_ids) -> set[int]:
    """The pupils of this manager's schools (none for someone in no organisation); the permission check only for a
    pupil with no school recorded, so the report stays one query at 10,000 placements."""
    ids, orgs = sorted(pupil_ids), user.organisation_ids
    if not orgs:
        return set()
    seen, unknown = set(), []
    for chunk in _chunks(ids):
        for pupil_id, org in session.execute(select(Pupil.id, Pupil.organisation_id).where(Pupil.id.in_(chunk))):
            if org is None:
                unknown.append(pupil_id)
            elif org in orgs:
                seen.add(pupil_id)
    return seen | {p for p in unknown if permissions.can(user, "reads.view", p, session)}


def report(core: Core, user: User, on: str | None = None) -> dict:
    """The dry run (nothing is deleted): what the rules would delete on a chosen day, per rule and per pupil, and what
    is held and why; with the deletion log of what earlier runs deleted. A manager sees their own schools' pupils."""
    if not permissions.can(user, "retention.view"):
        raise Forbidden("Only managers can see the retention report.")
    try:
        day = date.fromisoformat(on) if on else today()
    except ValueError:
        raise Invalid("Give the date as YYYY-MM-DD.", {"fields": {"on": "Give a date as YYYY-MM-DD, e.g. 2032-09-01."}}) from None
    with core.db.session(readonly=True) as session:
        due, held = plan(session, core.settings, day)
        seen = _visible(session, user, {d.pupil_id for d in due} | {h.pupil_id for h in held})
        names = {p.id: (p.ref, p.name) for p in session.scalars(select(Pupil).where(Pupil.id.in_(seen or [-1])))}
        due, held = [d for d in due if d.pupil_id in seen], [h for h in held if h.pupil_id in seen]
        per_rule = {rule: {"records": 0, "rows": 0} for rule in RULES}
        per_pupil: dict[int, dict] = {}
        for d in due:
            per_rule[d.rule]["records"] += 1
            per_rule[d.rule]["rows"] += d.rows
            row = per_pupil.setdefault(d.pupil_id, {"ref": names[d.pupil_id][0], "name": names[d.pupil_id][1], "rules": defaultdict(int)})
            row["rules"][d.rule] += d.rows
        deletions = deletion_log(session, user)
        last_run = session.scalar(select(RetentionRun).order_by(RetentionRun.day.desc()).limit(1))
    return {"on": day.isoformat(), "rules": rules(core.settings), "per_rule": per_rule,
            "pupils": [{**v, "rules": dict(v["rules"])} for _, v in sorted(per_pupil.items(), key=lambda kv: kv[1]["ref"])],
            "items": [{**asdict(d), "due_on": d.due_on.isoformat(), "pupil": names[d.pupil_id][0]} for d in due],
            "held": [{**asdict(h), "due_on": h.due_on.isoformat() if h.due_on else None, "pupil": names[h.pupil_id][0]} for h in held],
            "deletions": deletions,
            "last_run": {"day": last_run.day.isoformat(), "ran_at": last_run.ran_at.isoformat(), "deleted": last_run.deleted,
                         "held": last_run.held} if last_run else None}


def deletion_log(session, user: User, limit: int = 500) -> list[dict]:
    """What the retention runs deleted, newest first: a manager in organisations sees their own schools' pupils' rows."""
    query = select(RetentionDeletion).order_by(RetentionDeletion.deleted_at.desc(), RetentionDeletion.id.desc()).limit(limit)
    query = query.where(RetentionDeletion.organisation_id.in_(user.organisation_ids))  # none for someone in no organisation
    return [{"run_day": d.run_day.isoformat(), "deleted_at": d.deleted_at.isoformat(), "rule": d.rule, "record": d.record,
             "record_id": d.record_id, "rows": d.rows, "pupil_id": d.pupil_id, "due_on": d.due_on.isoformat(), "cascaded": d.cascaded}
            for d in session.scalars(query)]
