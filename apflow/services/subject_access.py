"""A subject access export (R111, UK GDPR article 15): everything apflow holds about one pupil, for the pupil's
school's manager or DSL to review and send. A ZIP of one JSON and one CSV file per kind of record, a list of the
documents held (not their content: those are downloaded from the placement's page), the read log, and a README.txt
that says what each file is.

Which records: every table that refers to the pupil, to one of their placements, or (one step on) to one of those
rows, found from the schema's foreign keys, so a table added later is included without a change here. Child-protection
records (concerns, the child-protection file, its read log and grants, restricted history and reads) are included only
for people entitled to the file, in a folder of their own and flagged; the README says so either way.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime

from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import NotFound
from apflow.placements.models import Pupil, RetentionDeletion
from apflow.store.models import Base, Document, User

from . import permissions
from .core import Core
from .retention import CP_TABLES

SECRET_COLUMNS = {"invite_hash", "invite_expires_at"}  # an invitation's secret is not the pupil's data
NOT_FOLLOWED = {"users", "organisations", "instances", "documents", "process_versions"}  # shared records, not the pupil's
RESTRICTED_FLAG = {"placement_log", "read_log"}  # tables whose `restricted` rows are child-protection records


def _value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _rows(session, table, column, ids) -> list[dict]:
    if not ids:
        return []
    result = []
    for chunk in range(0, len(ids), 500):
        query = select(table).where(column.in_(ids[chunk:chunk + 500])).order_by(*table.primary_key.columns)
        result += [{k: _value(v) for k, v in row._mapping.items() if k not in SECRET_COLUMNS} for row in session.execute(query)]
    return result


def _describe(table_name: str) -> str:
    for mapper in Base.registry.mappers:
        if mapper.local_table is not None and mapper.local_table.name == table_name:
            doc = (mapper.class_.__doc__ or "").strip()
            return " ".join(doc.split("\n\n")[0].split()) if doc else ""
    return ""


def collect(session, pupil: Pupil, cp: bool) -> dict[str, dict]:
    """Every row held about the pupil, per table: {table: {"rows": [...], "child_protection": bool}}."""
    found: dict[str, dict] = {"pupils": {"rows": _rows(session, Pupil.__table__, Pupil.__table__.c.id, [pupil.id]), "child_protection": False}}
    ids: dict[str, list] = {"pupils": [pupil.id]}
    frontier = ["pupils"]
    for _ in range(3):  # the pupil, their placements and the like, and one step further (a plan's sign-off)
        following = []
        for parent in frontier:
            for table in Base.metadata.sorted_tables:
                if table.name in NOT_FOLLOWED or table.name == parent:
                    continue
                for fk in table.foreign_keys:
                    if fk.column.table.name != parent or fk.column.name != "id":
                        continue
                    is_cp = table.name in CP_TABLES or found.get(parent, {}).get("child_protection", False)
                    if is_cp and not cp:
                        continue
                    rows = _rows(session, table, fk.parent, ids[parent])
                    if not rows:
                        continue
                    entry = found.setdefault(table.name, {"rows": [], "child_protection": is_cp})
                    known = {r.get("id") for r in entry["rows"]} if "id" in table.c else set()
                    entry["rows"] += [r for r in rows if r.get("id") is None or r.get("id") not in known]
                    ids[table.name] = [r["id"] for r in entry["rows"] if "id" in r]
                    following.append(table.name)
        frontier = list(dict.fromkeys(following))
    for name in RESTRICTED_FLAG & set(found):  # restricted history and reads are child-protection records
        kept = [r for r in found[name]["rows"] if not r.get("restricted")]
        flagged = [r for r in found[name]["rows"] if r.get("restricted")]
        found[name]["rows"] = kept
        if cp and flagged:
            found[f"{name}_child_protection"] = {"rows": flagged, "child_protection": True, "of": name}
    found = {k: v for k, v in found.items() if v["rows"]}
    # the documents held on the pupil's placements' workflows (names, not content)
    instance_ids = [r["instance_id"] for r in found.get("placements", {}).get("rows", []) if r.get("instance_id")]
    if cp:
        instance_ids += [r["instance_id"] for r in found.get("concerns", {}).get("rows", []) if r.get("instance_id")]
    documents = session.scalars(select(Document).where(Document.instance_id.in_(instance_ids or [-1])).order_by(Document.id))
    listed = [{"id": d.id, "instance_id": d.instance_id, "filename": d.filename, "content_type": d.content_type, "size": d.size,
               "uploaded_at": _value(d.uploaded_at), "child_protection": bool(d.restricted)}
              for d in documents if cp or not d.restricted]
    if listed:
        found["documents"] = {"rows": listed, "child_protection": False, "about": "The documents held (not their content)."}
    deletions = _rows(session, RetentionDeletion.__table__, RetentionDeletion.__table__.c.pupil_id, [pupil.id])
    if deletions:
        found["retention_deletions"] = {"rows": deletions, "child_protection": False}
    return found


def _pupil(session, user: User, ref: str) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None or not permissions.can(user, "subject_access.export", pupil.id, session):
        raise NotFound(f"There is no pupil {ref} whose records you can export.")
    return pupil


def may_export(core: Core, user: User, ref: str) -> bool:
    with core.db.session(readonly=True) as session:
        pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
        return pupil is not None and permissions.can(user, "subject_access.export", pupil.id, session)


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})
    return out.getvalue()


def _readme(pupil: Pupil, user: User, found: dict, cp: bool, at: datetime) -> str:
    lines = [f"Subject access export for {pupil.name} ({pupil.ref})",
             f"Made {at:%d %B %Y %H:%M} UTC by {user.display_name or user.username} in apflow.", "",
             "Each kind of record is in two files with the same rows: NAME.json (exact values) and NAME.csv (for a",
             "spreadsheet; lists and nested values are written as JSON). Dates are ISO 8601; times are UTC. Ids link",
             "records: placement_id to placements.json, pupil_id to pupils.json; user ids are apflow accounts.", "",
             "Before you send this, review it: it may name other people (staff, other family members, professionals) and",
             "hold opinions of third parties, which the law may require you to remove or withhold.", ""]
    if cp:
        lines += ["CHILD PROTECTION: the files in child_protection/ are the pupil's child-protection records. They are",
                  "included because you are entitled to the file. Decide with the DSL what may be disclosed: information",
                  "that would put the child or someone else at risk of serious harm may be withheld.", ""]
    else:
        lines += ["Child-protection records are not included: only the pupil's DSLs, and people they grant access, can",
                  "export those.", ""]
    lines.append("Files:")
    for name, entry in sorted(found.items()):
        folder = "child_protection/" if entry["child_protection"] else ""
        about = entry.get("about") or _describe(entry.get("of", name)) or name.replace("_", " ").capitalize() + "."
        lines.append(f"- {folder}{name}.json / .csv ({len(entry['rows'])} rows): {about}")
    lines += ["- read_log.json also lists who read the pupil's records, when and from which page (this export included).", ""]
    return "\n".join(lines)


def export(core: Core, user: User, ref: str) -> tuple[str, bytes]:
    """(file name, ZIP bytes) of everything held about the pupil that this person may export."""
    from . import read_log

    at = clock.now()
    with core.db.session() as session:
        pupil = _pupil(session, user, ref)
        cp = permissions.can(user, "cp.view", pupil.id, session)
        read_log.record(session, user, pupil.id, "Subject access export" + (" (with child-protection records)" if cp else ""),
                        f"subject access export of {ref}", restricted=False)
        session.flush()
        found = collect(session, pupil, cp)
        name = f"subject-access-{pupil.ref}-{at:%Y%m%d}.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("README.txt", _readme(pupil, user, found, cp, at))
            for table, entry in sorted(found.items()):
                folder = "child_protection/" if entry["child_protection"] else ""
                zf.writestr(f"{folder}{table}.json", json.dumps({"child_protection": entry["child_protection"], "rows": entry["rows"]},
                                                                indent=1, default=str))
                zf.writestr(f"{folder}{table}.csv", _csv(entry["rows"]))
    return name, buffer.getvalue()

