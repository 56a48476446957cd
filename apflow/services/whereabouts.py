"""Where is the pupil now (R62): for the school's staff, one pupil or every AP pupil of their organisations at once:
the session, the provider, the site's address, the tutor and today's mark; or why the pupil is not in a session
(weekend, half-term, INSET day, bank holiday, before or after the day's sessions, suspended, removed, ended, not
started), each on the pupil's own school's term calendar. Providers and families have no school-wide list."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from apflow.clock import clock
from apflow.errors import Forbidden, NotFound
from apflow.placements import registers as domain
from apflow.placements.common import UK
from apflow.placements.models import Placement, Provider, Pupil
from apflow.store.models import Instance, Organisation, User

from . import permissions
from .core import Core

# placements on the list: running, suspended, about to start, and those removed or ended in the last four weeks
SHOWN = ("active", "ending", "suspended", "approved")
RECENTLY_CLOSED = ("removed", "ended")
RECENT = timedelta(days=28)


def _answer(session, rows, now) -> list[dict]:
    """Whereabouts of each placement row (see _rows), in a few queries whatever the number of rows."""
    today = now.astimezone(UK).date()
    calendars = domain.Calendars(session)
    school_of = {r.id: r.pupil_org if r.pupil_org is not None else r.commissioner for r in rows}
    marks = domain.registers(session, rows, lambda r: calendars(school_of[r.id]), today, today)
    orgs = set(school_of.values()) - {None}
    names = dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(orgs))).all()) if orgs else {}
    answers = []
    for r in rows:
        where = domain.whereabouts(r, r.provider_name, calendars(school_of[r.id]), marks[r.id], now)
        answers.append({"pupil": {"name": r.pupil_name, "ref": r.pupil_ref}, "placement_id": r.id, "instance_id": r.instance_id,
                        "status": r.status, "school": names.get(school_of[r.id]) or r.pupil_school or None, **where,
                        "today": [{"starts": m.starts, "ends": m.ends, "address": m.address, **domain.mark_words(m)} for m in marks[r.id]]})
    return answers


def _rows(session, user: User, *where) -> list:
    """The placements commissioned by this person's organisations, as plain rows (a school-wide list reads thousands)."""
    return list(session.execute(
        select(Placement.id, Placement.status, Placement.start_date, Placement.tutor_name, Placement.instance_id,
               Pupil.name.label("pupil_name"), Pupil.ref.label("pupil_ref"), Pupil.school.label("pupil_school"),
               Pupil.organisation_id.label("pupil_org"), Instance.organisation_id.label("commissioner"),
               Provider.name.label("provider_name"))
        .join(Pupil, Pupil.id == Placement.pupil_id)
        .outerjoin(Instance, Instance.id == Placement.instance_id).outerjoin(Provider, Provider.id == Placement.provider_id)
        .where(permissions.commissioned_by(user), *where).order_by(Pupil.name, Placement.id)))


def all_pupils(core: Core, user: User) -> list[dict]:
    """Every AP pupil of this person's organisations, right now."""
    if not permissions.can(user, "whereabouts.view"):
        raise Forbidden("Where pupils are is shown to the staff of the school or LA that placed them.")
    now = clock.now()
    with core.db.session(readonly=True) as session:
        rows = _rows(session, user, or_(Placement.status.in_(SHOWN),
                                        Placement.status.in_(RECENTLY_CLOSED) & (Placement.updated_at >= now - RECENT)))
        return _answer(session, rows, now)


PAGE = 100  # pupils a page of the list shows (a large authority's list is thousands)


def needs_attention(entry: dict) -> bool:
    """Should be in a session (or was today) and is reported absent or not registered yet."""
    mark = entry.get("mark")
    return bool(mark) and mark.get("status") in ("absent", None)


def listing(core: Core, user: User, search: str = "", attention: bool = False, offset: int = 0, limit: int | None = None) -> dict:
    """One page of all_pupils (`limit` of them, PAGE unless said): those whose name or reference contains `search`, only
    those who need attention if asked, in name order. `total` counts what matches; `attention` counts everyone on the
    list who needs it."""
    limit = PAGE if limit is None else limit
    pupils = all_pupils(core, user)
    flagged = sum(1 for p in pupils if needs_attention(p))
    wanted = search.strip().casefold()
    if wanted:
        pupils = [p for p in pupils if wanted in (p["pupil"]["name"] or "").casefold() or wanted in (p["pupil"]["ref"] or "").casefold()]
    if attention:
        pupils = [p for p in pupils if needs_attention(p)]
    return {"pupils": pupils[offset:offset + limit], "total": len(pupils), "attention": flagged, "offset": offset, "limit": limit}


def one_pupil(core: Core, user: User, ref: str) -> dict:
    """Where one pupil is now: from their running placement, else their latest."""
    if not permissions.can(user, "whereabouts.view"):
        raise NotFound(f"There is no pupil {ref} whose whereabouts you can see.")
    now = clock.now()
    with core.db.session(readonly=True) as session:
        rows = _rows(session, user, Pupil.ref == str(ref))  # commissioned by the person's organisations: whereabouts.view
        if not rows:
            raise NotFound(f"There is no pupil {ref} whose whereabouts you can see.")
        rows.sort(key=lambda r: (r.status in domain.RUNNING, r.status == "suspended", r.id))
        return _answer(session, rows[-1:], now)[0]
