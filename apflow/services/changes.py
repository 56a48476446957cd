"""What the process library's use cases share: only managers change it; every change is recorded in
process_changes (who, when, why, with the saved content, so any save can be recovered); how a draft is summed up."""
from __future__ import annotations

import re

from apflow.clock import clock
from apflow.engine.problems import InvalidDiagram
from apflow.engine.xml import parse_xml
from apflow.errors import Invalid
from apflow.store.models import ProcessChange, ProcessDraft, ProcessVersion, User

from . import permissions

MAX_NOTE = 2000
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def require_manager(user: User) -> None:
    permissions.require(user, "process.deploy")


def record_change(session, user: User, kind: str, process_id: str | None = None, form_name: str | None = None, note: str = "",
                  revision: int | None = None, version: int | None = None, content: str | None = None, detail: dict | None = None) -> None:
    session.add(ProcessChange(process_id=process_id, form_name=form_name, kind=kind, at=clock.now(), by=user.username,
                              note=note, revision=revision, version=version, content=content, detail=detail or {}))


def change_note(note, required: bool = False) -> str:
    note = str(note or "").strip()[:MAX_NOTE]
    if required and not note:
        raise Invalid("Say why in a change note; it is kept with the version for everyone to read.", {"note": ["Write a change note."]})
    return note


def iso(value):
    return value.isoformat() if value is not None else None


def process_name(xml: str, process_id: str) -> str:
    try:
        root = parse_xml(xml.encode("utf-8"), "draft.bpmn").getroot()
    except InvalidDiagram:
        return process_id
    node = root.find(f"{{{BPMN_NS}}}process[@id='{process_id}']") if re.fullmatch(r"[\w.-]+", process_id) else None
    return (node.get("name") if node is not None else None) or process_id


def draft_summary(draft: ProcessDraft, latest: ProcessVersion | None) -> dict:
    deployed_xml = latest.sources.get(latest.source_file) if latest is not None else None
    return {"revision": draft.revision, "updated_at": iso(draft.updated_at), "updated_by": draft.updated_by,
            "base_version": draft.base_version, "undeployed_changes": draft.xml != deployed_xml}
