"""The process library: every process with its versions (who deployed what, when and why) and its draft, the
change history, downloading and comparing versions, and rolling back to an earlier version."""
from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from apflow.clock import clock
from apflow.engine.compare import compare
from apflow.engine.problems import InvalidDiagram
from apflow.errors import Conflict, Invalid, NotFound
from apflow.store.models import Instance, ProcessChange, ProcessDraft, ProcessVersion, User

from . import processes
from .changes import change_note, draft_summary, iso, process_name, record_change, require_manager
from .core import Core
from .drafts import get_draft


def library(core: Core, user: User) -> list[dict]:
    """Every process: its versions (who, when, why), instances per version, and its draft."""
    require_manager(user)
    with core.db.session(readonly=True) as session:
        counts: dict[int, dict[str, int]] = {}
        for version_id, status, count in session.execute(select(Instance.process_version_id, Instance.status, func.count())
                                                         .group_by(Instance.process_version_id, Instance.status)):
            counts.setdefault(version_id, {})[status] = count
        drafts = {d.process_id: d for d in session.scalars(select(ProcessDraft))}
        result: dict[str, dict] = {}
        newest: dict[str, ProcessVersion] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())):
            newest.setdefault(version.process_id, version)
            entry = result.setdefault(version.process_id, {"id": version.process_id, "name": version.name,
                                                           "latest_version": version.version, "source_file": version.source_file,
                                                           "versions": [], "draft": None})
            per_status = counts.get(version.id, {})
            entry["versions"].append({
                "version": version.version, "deployed_at": iso(version.deployed_at), "deployed_by": version.deployed_by,
                "note": version.note, "running": per_status.get("running", 0) + per_status.get("error", 0),
                "failed": per_status.get("error", 0), "completed": per_status.get("completed", 0),
            })
        for process_id, draft in drafts.items():
            entry = result.get(process_id)
            if entry is None:
                entry = result[process_id] = {"id": process_id, "name": process_name(draft.xml, process_id), "latest_version": None,
                                              "source_file": draft.source_file, "versions": [], "draft": None}
            entry["draft"] = draft_summary(draft, newest.get(process_id))
        return sorted(result.values(), key=lambda e: e["name"].lower())


def process_detail(core: Core, user: User, process_id: str) -> dict:
    entry = next((p for p in library(core, user) if p["id"] == process_id), None)
    if entry is None:
        raise NotFound(f"There is no process '{process_id}' in the library.")
    entry["history"] = history(core, user, process_id)
    return entry


def history(core: Core, user: User, process_id: str, limit: int = 200) -> list[dict]:
    require_manager(user)
    with core.db.session(readonly=True) as session:
        rows = session.scalars(select(ProcessChange).where(ProcessChange.process_id == process_id)
                               .order_by(ProcessChange.id.desc()).limit(limit))
        return [{"id": r.id, "kind": r.kind, "at": iso(r.at), "by": r.by, "note": r.note, "revision": r.revision,
                 "version": r.version, "detail": r.detail} for r in rows]


def version_xml(core: Core, user: User, process_id: str, number: int) -> tuple[str, str]:
    """(file name, BPMN text) of a deployed version, for download."""
    require_manager(user)
    with core.db.session(readonly=True) as session:
        version = processes.version_number(session, process_id, number)
        return version.source_file, version.sources[version.source_file]


def versions(core: Core, user: User, process_id: str) -> list[dict]:
    entry = process_detail(core, user, process_id)
    return entry["versions"]


def _xml_of(core: Core, user: User, process_id: str, ref) -> tuple[str, str]:
    """(label, xml) of a version number or 'draft'."""
    if str(ref) == "draft":
        draft = get_draft(core, user, process_id)
        return "draft", draft["xml"]
    try:
        number = int(ref)
    except (TypeError, ValueError):
        raise Invalid("Compare version numbers, or 'draft'.", {"from": ["A version number or 'draft'."]}) from None
    return f"version {number}", version_xml(core, user, process_id, number)[1]


def diff(core: Core, user: User, process_id: str, before, after) -> dict:
    """What changed from one version (or the draft) to another: as lists, and both diagrams to highlight."""
    require_manager(user)
    before_label, before_xml = _xml_of(core, user, process_id, before)
    after_label, after_xml = _xml_of(core, user, process_id, after)
    try:
        result = compare(before_xml, after_xml)
    except InvalidDiagram as err:
        raise Invalid("A diagram could not be read for comparison.", {"problems": processes.problems_payload(err.problems)}) from None
    return {"process_id": process_id, "from": str(before), "to": str(after), "from_label": before_label, "to_label": after_label,
            **result.as_dict(), "same": result.empty, "from_xml": before_xml, "to_xml": after_xml}


def rollback(core: Core, user: User, process_id: str, version, note) -> dict:
    """Make an earlier version's content the newest version again (after passing today's checks)."""
    require_manager(user)
    note = change_note(note, required=True)
    if not isinstance(version, int) or isinstance(version, bool):
        raise Invalid("Name the version to roll back to as a whole number.", {"version": ["A version number."]})
    with core.db.session(readonly=True) as session:
        processes.require_editable(session, user, process_id)
        old = processes.version_number(session, process_id, version)
        latest = processes.latest(session, process_id)
        if latest.version == old.version:
            raise Conflict(f"Version {version} is already the newest version.")
        sources = {name: text.encode("utf-8") for name, text in old.sources.items()}
        forms = {name: json.dumps(doc).encode("utf-8") for name, doc in old.forms.items()}
        old_fields = {k: getattr(old, k) for k in ("name", "content_hash", "source_file", "sources", "forms", "start_lane")}
        latest_xml = latest.sources.get(latest.source_file)
    result = processes.check_sources(core, sources, None, forms)
    if not result.ok:
        raise Invalid(f"Version {version} does not pass today's checks, so it cannot become live again.",
                      {"problems": processes.problems_payload(result.problems)})
    spec = core.host.spec_to_dict(result.parsed.bundle(process_id))
    try:
        return _store_rollback(core, user, process_id, version, note, spec, old_fields, latest_xml)
    except IntegrityError:
        raise Conflict("Someone else deployed this process at the same moment. Nothing was rolled back; reload and check the versions.") from None


def _store_rollback(core: Core, user: User, process_id: str, version: int, note: str, spec: dict, old_fields: dict, latest_xml: str) -> dict:
    with core.db.session() as session:
        newest = processes.latest(session, process_id)
        row = ProcessVersion(process_id=process_id, version=newest.version + 1, spec=spec, deployed_at=clock.now(),
                             organisation_id=newest.organisation_id,
                             deployed_by=user.username, note=f"Rolled back to version {version}: {note}", **old_fields)
        session.add(row)
        session.flush()
        record_change(session, user, "rolled_back", process_id=process_id, note=note, version=row.version,
                detail={"content_of": version, "replaced": newest.version})
        draft = session.get(ProcessDraft, process_id, with_for_update=True)
        draft_reset = False
        if draft is not None and draft.xml == latest_xml:
            # The draft had nothing undeployed: keep editing from what is live now.
            draft.xml, draft.revision = old_fields["sources"][old_fields["source_file"]], draft.revision + 1
            draft.updated_at, draft.updated_by, draft.base_version = clock.now(), user.username, row.version
            record_change(session, user, "saved", process_id=process_id, note=f"Draft reset to version {version} by the rollback",
                    revision=draft.revision, content=draft.xml)
            draft_reset = True
        new_version = row.version
    return {"process_id": process_id, "version": new_version, "content_of": version, "draft_reset": draft_reset,
            "message": f"Version {new_version} is live with the content of version {version}. Running instances stay on their "
                       "versions; move them from the migration page if you want."}
