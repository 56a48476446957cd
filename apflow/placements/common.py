"""Helpers shared by the record handlers: what a handler is given, the placement or provider a step belongs to,
dates, the history log."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from apflow.clock import clock
from apflow.errors import Invalid
from apflow.school_calendar import SchoolCalendar
from apflow.store import outbox

from .models import LogEntry, Placement, Provider

UK = ZoneInfo("Europe/London")


class Host(Protocol):
    """What handlers use of the application (apflow.services.core.Core): the term calendar."""

    def calendar(self) -> SchoolCalendar: ...


@dataclass
class RecordContext:
    """What a record handler is given: the step's transaction, who took it, and its answers."""
    core: Host
    session: object           # the step's SQLAlchemy session
    instance: object          # store.models.Instance (already flushed: has an id)
    actor: object             # services.instances.Actor
    task: object | None       # store.models.HumanTask, None at start
    kind: str
    answers: dict             # the checked form answers of this step (the start data at start)
    data: dict                # the process data before this step
    properties: dict = field(default_factory=dict)
    after: list = field(default_factory=list)  # signals to send to other instances once this step is committed

    def signal_after(self, instance_id: int, name: str, detail: dict | None = None) -> None:
        """Send BPMN signal `name` to another instance after this step commits, as a step of its own (a handler
        cannot change another instance inside its step); a failure there is recorded on that instance."""
        self.after.append((instance_id, name, dict(detail or {})))


def now() -> datetime:
    return clock.now()


def today() -> date:
    return clock.now().astimezone(UK).date()


def parse_date(value, field: str = "date") -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"'{value}' is not a date (use YYYY-MM-DD).", {"fields": {field: ["Use a date like 2026-01-12."]}}) from None


def placement_of(ctx) -> Placement:
    placement_id = ctx.data.get("placement_id")
    placement = ctx.session.get(Placement, placement_id) if placement_id else None
    if placement is None:
        raise Invalid("This step belongs to a placement, but the process has no placement yet: record the referral first.")
    return placement


def provider_of(ctx) -> Provider:
    provider_id = ctx.data.get("provider_id")
    provider = ctx.session.get(Provider, provider_id) if provider_id else None
    if provider is None:
        raise Invalid("This step belongs to a provider, but the process has none yet: record the provider first.")
    return provider


def pupil_organisation(ctx, pupil) -> int | None:
    """The organisation whose safeguarding staff a pupil's alerts go to: the pupil's own school, else the one
    that commissioned the placement, else the installation's own (never nobody: issue 17)."""
    found = pupil.organisation_id if pupil.organisation_id is not None else getattr(ctx.instance, "organisation_id", None)
    return outbox.installation_organisation(ctx.session, found)


def touch(placement: Placement, status: str | None = None) -> None:
    if status:
        placement.status = status
    placement.updated_at = now()


def log(ctx, summary: str, placement: Placement | None = None, provider: Provider | None = None,
        record: object | None = None, restricted: bool = False, kind: str | None = None) -> LogEntry:
    """One line of a placement's or provider's history: who recorded what, when, from which step."""
    ctx.session.flush()
    entry = LogEntry(placement_id=placement.id if placement else None,
                     provider_id=provider.id if provider else (placement.provider_id if placement else None),
                     instance_id=ctx.instance.id if ctx.instance is not None else None, at=now(),
                     actor_id=ctx.actor.id if ctx.actor else None, actor=ctx.actor.name if ctx.actor else "apflow",
                     kind=kind or ctx.kind, task_name=getattr(ctx.task, "name", None), summary=summary[:2000],
                     record=getattr(record, "__tablename__", None), record_id=getattr(record, "id", None),
                     restricted=restricted)
    ctx.session.add(entry)
    return entry


def school_day_bounds(calendar, day: date) -> tuple[datetime, datetime]:
    """Start and end of a school day, as UTC moments."""
    start = datetime.combine(day, calendar.day_start, tzinfo=calendar.zone).astimezone(timezone.utc)
    end = datetime.combine(day, calendar.day_end, tzinfo=calendar.zone).astimezone(timezone.utc)
    return start, end


def not_before_now(moment: datetime) -> datetime:
    """A timer moment that has passed fires a minute from now, so the scheduler picks it up."""
    return max(moment, now() + timedelta(minutes=1))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def yes(answers: dict, key: str) -> bool:
    return answers.get(key) is True
