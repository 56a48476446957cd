"""Registers and attendance as files (issue 16, part 4: R71, R79): one row per timetabled session over a date range,
for one placement, one provider or everything the person may export, as CSV or as an XLSX workbook.

Who may export: the commissioning school's coordinators, headteacher and managers for their own placements, and a
provider's staff for the pupils it teaches (permissions `register.export` and `exportable_by`); never families. Every
export is written to the read log (who, which pupils, what, when). Cells a spreadsheet would run as a formula are
escaped (CSV injection): a text cell starting with =, +, -, @, a tab or a carriage return gets a leading apostrophe.
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements import registers as domain
from apflow.placements.common import UK
from apflow.placements.models import Placement, Provider, Pupil
from apflow.store.models import Instance, User

from . import permissions, read_log
from .core import Core

log = logging.getLogger(__name__)
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_DAYS = 366
MAX_ROWS = 200_000  # a whole school over a year is well under this; more is a sign the range or scope was not meant
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# the columns, in order, with their widths in the workbook (characters)
COLUMNS = [("Day", 12), ("Session", 13), ("Statutory session", 10), ("Pupil", 24), ("Pupil ref", 12), ("Provider", 26),
           ("Activity", 24), ("Where", 34), ("Provider's report", 30), ("Minutes late", 8), ("Provider's note", 34),
           ("School's code", 8), ("Code meaning", 36), ("Followed up on", 12), ("Follow-up", 40)]


def safe_cell(value):
    """A value as a spreadsheet will not run it as a formula (OWASP's advice on CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def today() -> date:
    return clock.now().astimezone(UK).date()


@dataclass
class Scope:
    """What to export: one placement, one provider's, or (both None) everything the person may export."""
    placement_id: int | None = None
    provider_id: int | None = None


def _range(since: date | None, until: date | None) -> tuple[date, date]:
    until = min(until or today(), today())
    since = since or until - timedelta(days=27)
    if since > until:
        raise Invalid("The first day must come before the last.", {"fields": {"from": ["Choose a day on or before the last day."]}})
    if (until - since).days >= MAX_DAYS:
        raise Invalid(f"Export at most {MAX_DAYS} days at a time.", {"fields": {"from": [f"Choose a range of at most {MAX_DAYS} days."]}})
    return since, until


def _placements(session, user: User, scope: Scope) -> list[tuple]:
    """(Placement, Pupil, commissioning organisation id, provider name) of the scope, or NotFound if the person may not
    export it: one 404 whether it does not exist or is someone else's."""
    query = (select(Placement, Pupil, Instance.organisation_id, Provider.name).join(Pupil, Pupil.id == Placement.pupil_id)
             .outerjoin(Instance, Instance.id == Placement.instance_id).outerjoin(Provider, Provider.id == Placement.provider_id)
             .where(permissions.exportable_by(user), Placement.start_date.is_not(None)).order_by(Pupil.name, Placement.id))
    if scope.placement_id is not None:
        rows = list(session.execute(query.where(Placement.id == scope.placement_id)))
        if not rows or not permissions.can(user, "register.export", rows[0][0], session):
            raise NotFound(f"There is no placement {scope.placement_id} whose register you can export.")
        return rows
    if scope.provider_id is not None:
        rows = list(session.execute(query.where(Placement.provider_id == scope.provider_id)))
        if not rows:
            raise NotFound(f"There is no provider {scope.provider_id} with placements whose registers you can export.")
        return rows
    if not (permissions.staff_roles(user) & (permissions.EXPORT_STAFF | {"provider"})):
        raise NotFound("There are no registers you can export.")
    return list(session.execute(query))


def _follow_up(mark) -> str:
    detail = mark.follow_up or {}
    parts = [str(detail.get("absence_outcome") or "").strip()]
    if detail.get("contacted"):
        who = detail["contacted"]
        parts.append("contacted: " + (", ".join(str(w).replace("_", " ") for w in who) if isinstance(who, list) else str(who)))
    if detail.get("pupil_safe"):
        parts.append(f"pupil safe: {detail['pupil_safe']}")
    return "; ".join(p for p in parts if p)


def _row(mark, pupil: Pupil, provider: str | None) -> list:
    words = domain.mark_words(mark)
    return [mark.day, f"{mark.starts}-{mark.ends}", mark.half, pupil.name, pupil.ref, provider or "", mark.activity or "",
            mark.address or "", words["report"], mark.minutes_late if mark.status == "late" else None,
            mark.note or "", mark.code or "", words["code_words"] or "",
            mark.followed_up_at.astimezone(UK).date() if mark.followed_up_at else None, _follow_up(mark)]


def register_rows(core: Core, user: User, scope: Scope, since: date | None = None, until: date | None = None) -> dict:
    """The rows of a register export, oldest first, and what it covers (a title and a file name)."""
    since, until = _range(since, until)
    with core.db.session(readonly=True) as session:
        found = _placements(session, user, scope)
        calendars = domain.Calendars(session)
        school_of = {p.id: domain.school_id(pupil, commissioner) for p, pupil, commissioner, _ in found}
        marks = domain.registers(session, [p for p, *_ in found], lambda p: calendars(school_of[p.id]), since, until)
        rows = []
        for placement, pupil, _, provider in found:
            rows += [_row(m, pupil, provider) for m in marks[placement.id]]
            if len(rows) > MAX_ROWS:
                raise Invalid(f"That is more than {MAX_ROWS:,} sessions: export a shorter range, or one provider at a time.",
                              {"fields": {"from": ["Choose a later first day."]}})
        rows.sort(key=lambda r: (r[0], r[1], r[3]))
        if scope.placement_id is not None:
            placement, pupil, _, provider = found[0]
            title = f"Register of {pupil.name} ({pupil.ref})"
            name = f"register-{pupil.ref}"
        elif scope.provider_id is not None:
            provider = found[0][3] or f"provider {scope.provider_id}"
            title, name = f"Registers at {provider}", f"registers-{provider}"
        else:
            title, name = "Registers", "registers"
    return {"title": f"{title}, {since:%d %B %Y} to {until:%d %B %Y}", "filename": f"{name}-{since.isoformat()}-to-{until.isoformat()}",
            "from": since, "to": until, "rows": rows, "pupil_ids": sorted({pupil.id for _, pupil, *_ in found})}


def register_export(core: Core, user: User, fmt: str, scope: Scope, since: date | None = None, until: date | None = None,
                    route: str = "") -> tuple[bytes, str, str]:
    """The export as (content, file name, mimetype); the read is logged for every pupil in it."""
    if fmt not in FORMATS:
        raise Invalid("Choose CSV or XLSX.", {"fields": {"format": ["Choose csv or xlsx."]}})
    found = register_rows(core, user, scope, since, until)
    content = to_csv(found["rows"]) if fmt == "csv" else to_xlsx(found["title"], found["rows"])
    read_log.write(core, user, found["pupil_ids"], f"Register export ({fmt.upper()}, {found['from']} to {found['to']})", route)
    log.info("register export by %s: %s (%d rows, %s)", user.username, found["title"], len(found["rows"]), fmt)
    return content, f"{found['filename']}.{fmt}", FORMATS[fmt]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(rows: list[list], columns: list[str] | None = None) -> bytes:
    """CSV with a header row, UTF-8 with a byte order mark (so Excel reads names in any script), dates as YYYY-MM-DD."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns or [c for c, _ in COLUMNS])
    for row in rows:
        writer.writerow([safe_cell(_text(v)) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, rows: list[list]) -> bytes:
    """A workbook with one sheet: a bold header row frozen at the top, widths set, days as dates. Written row by row
    (openpyxl's write-only mode), so a whole school's year takes memory for one row at a time, not the sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Registers")
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def header(name):
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        return cell

    def dated(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell

    sheet.append([header(c) for c, _ in COLUMNS])
    for row in rows:
        sheet.append([dated(v) if isinstance(v, date) else safe_cell(v) for v in row])
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    book.properties.title = title[:250]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_choices(core: Core, user: User) -> dict:
    """What the exports page offers this person: the placements and providers they may export, and the census."""
    if not (permissions.staff_roles(user) & (permissions.EXPORT_STAFF | {"provider"})):
        raise NotFound("There are no registers you can export.")
    with core.db.session(readonly=True) as session:
        rows = list(session.execute(
            select(Placement.id, Placement.status, Pupil.name, Pupil.ref, Provider.id, Provider.name).join(Pupil, Pupil.id == Placement.pupil_id)
            .outerjoin(Instance, Instance.id == Placement.instance_id).outerjoin(Provider, Provider.id == Placement.provider_id)
            .where(permissions.exportable_by(user), Placement.start_date.is_not(None)).order_by(Pupil.name, Placement.id)))
        census = permissions.can(user, "census.return", None, session)
    providers = {pid: name for *_, pid, name in rows if pid is not None}
    return {"placements": [{"id": pid, "pupil": name, "ref": ref, "status": status, "provider": provider}
                           for pid, status, name, ref, _, provider in rows],
            "providers": [{"id": pid, "name": name} for pid, name in sorted(providers.items(), key=lambda p: p[1])],
            "census": census, "today": today().isoformat(), "four_weeks_ago": (today() - timedelta(days=27)).isoformat()}
