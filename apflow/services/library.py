"""The process library: managers edit diagrams and forms in the browser, validate and deploy them,
compare versions, move running instances to a new version, and roll back.

A draft is never run. Only a deploy makes a diagram live, and a deploy runs the same checks as
`apflow validate`. Every save, upload, deploy, rollback and bulk move is recorded in
process_changes (who, when, why), with the saved content, so any save can be recovered.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from apflow.clock import clock
from apflow.engine import validate as checks
from apflow.engine.compare import compare
from apflow.engine.diagrams import task_properties
from apflow.engine.forms import SCHEMA_PROPERTY, UI_PROPERTY, check_form_source
from apflow.engine.problems import InvalidDiagram, Problem
from apflow.engine.runtime import DUE_IN_PROPERTY
from apflow.engine.xml import parse_xml
from apflow.errors import Conflict, Invalid, NotFound
from apflow.store.db import locked_instance
from apflow.store.models import (
    FormDraft,
    Instance,
    ProcessChange,
    ProcessDraft,
    ProcessVersion,
    User,
)

from . import instances, permissions, processes
from .core import Core

FORM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.json$")
BPMN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.bpmn$")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_NOTE = 2000
# Tasks the engine has only predicted (not reached); they are rebuilt from the new version on a move.
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE
FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR
ACTIVE = TaskState.READY | TaskState.STARTED


def _manager(user: User) -> None:
    permissions.require(user, "process.deploy")


def _record(session, user: User, kind: str, process_id: str | None = None, form_name: str | None = None, note: str = "",
            revision: int | None = None, version: int | None = None, content: str | None = None, detail: dict | None = None) -> None:
    session.add(ProcessChange(process_id=process_id, form_name=form_name, kind=kind, at=clock.now(), by=user.username,
                              note=note, revision=revision, version=version, content=content, detail=detail or {}))


def _note(note, required: bool = False) -> str:
    note = str(note or "").strip()[:MAX_NOTE]
    if required and not note:
        raise Invalid("Say why in a change note; it is kept with the version for everyone to read.", {"note": ["Write a change note."]})
    return note


def _version(session, process_id: str, number: int) -> ProcessVersion:
    found = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id, ProcessVersion.version == number))
    if found is None:
        raise NotFound(f"Process '{process_id}' has no version {number}.")
    return found


def _latest(session, process_id: str) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                          .order_by(ProcessVersion.version.desc()).limit(1))


def _iso(value):
    return value.isoformat() if value is not None else None


# -- the library ---------------------------------------------------------------------------

def library(core: Core, user: User) -> list[dict]:
    """Every process: its versions (who, when, why), instances per version, and its draft."""
    _manager(user)
    with core.db.session(readonly=True) as session:
        counts: dict[int, dict[str, int]] = {}
        for version_id, status, count in session.execute(select(Instance.process_version_id, Instance.status, func.count())
                                                         .group_by(Instance.process_version_id, Instance.status)):
            counts.setdefault(version_id, {})[status] = count
        drafts = {d.process_id: d for d in session.scalars(select(ProcessDraft))}
        result: dict[str, dict] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())):
            entry = result.setdefault(version.process_id, {"id": version.process_id, "name": version.name,
                                                           "latest_version": version.version, "source_file": version.source_file,
                                                           "versions": [], "draft": None, "_latest": version})
            per_status = counts.get(version.id, {})
            entry["versions"].append({
                "version": version.version, "deployed_at": _iso(version.deployed_at), "deployed_by": version.deployed_by,
                "note": version.note, "running": per_status.get("running", 0) + per_status.get("error", 0),
                "failed": per_status.get("error", 0), "completed": per_status.get("completed", 0),
            })
        for process_id, draft in drafts.items():
            entry = result.get(process_id)
            if entry is None:
                entry = result[process_id] = {"id": process_id, "name": _process_name(draft.xml, process_id), "latest_version": None,
                                              "source_file": draft.source_file, "versions": [], "draft": None, "_latest": None}
            entry["draft"] = _draft_summary(draft, entry["_latest"])
        for entry in result.values():
            entry.pop("_latest")
        return sorted(result.values(), key=lambda e: e["name"].lower())


def _process_name(xml: str, process_id: str) -> str:
    try:
        root = parse_xml(xml.encode("utf-8"), "draft.bpmn").getroot()
    except InvalidDiagram:
        return process_id
    node = root.find(f"{{{BPMN_NS}}}process[@id='{process_id}']") if re.fullmatch(r"[\w.-]+", process_id) else None
    return (node.get("name") if node is not None else None) or process_id


def _draft_summary(draft: ProcessDraft, latest: ProcessVersion | None) -> dict:
    deployed_xml = latest.sources.get(latest.source_file) if latest is not None else None
    return {"revision": draft.revision, "updated_at": _iso(draft.updated_at), "updated_by": draft.updated_by,
            "base_version": draft.base_version, "undeployed_changes": draft.xml != deployed_xml}


def process_detail(core: Core, user: User, process_id: str) -> dict:
    entry = next((p for p in library(core, user) if p["id"] == process_id), None)
    if entry is None:
        raise NotFound(f"There is no process '{process_id}' in the library.")
    entry["history"] = history(core, user, process_id)
    return entry


def history(core: Core, user: User, process_id: str, limit: int = 200) -> list[dict]:
    _manager(user)
    with core.db.session(readonly=True) as session:
        rows = session.scalars(select(ProcessChange).where(ProcessChange.process_id == process_id)
                               .order_by(ProcessChange.id.desc()).limit(limit))
        return [{"id": r.id, "kind": r.kind, "at": _iso(r.at), "by": r.by, "note": r.note, "revision": r.revision,
                 "version": r.version, "detail": r.detail} for r in rows]


# -- drafts --------------------------------------------------------------------------------

def get_draft(core: Core, user: User, process_id: str) -> dict:
    """The draft to edit: the saved draft, or (revision 0) the newest deployed version's diagram."""
    _manager(user)
    with core.db.session(readonly=True) as session:
        draft = session.get(ProcessDraft, process_id)
        latest = _latest(session, process_id)
        if draft is None and latest is None:
            raise NotFound(f"There is no process '{process_id}' in the library.")
        if draft is None:
            return {"process_id": process_id, "source_file": latest.source_file, "xml": latest.sources[latest.source_file],
                    "revision": 0, "updated_at": None, "updated_by": None, "base_version": latest.version,
                    "deployed_version": latest.version, "undeployed_changes": False, "name": latest.name}
        return {"process_id": process_id, "source_file": draft.source_file, "xml": draft.xml, **_draft_summary(draft, latest),
                "deployed_version": latest.version if latest else None,
                "name": _process_name(draft.xml, process_id)}


def _check_xml(xml, filename: str, max_bytes: int) -> str:
    if not isinstance(xml, str) or not xml.strip():
        raise Invalid("Send the diagram as BPMN XML text.", {"xml": ["The diagram is empty."]})
    try:
        root = parse_xml(xml.encode("utf-8"), filename, max_bytes).getroot()
    except InvalidDiagram as err:
        raise Invalid("The diagram could not be read; nothing was saved.", {"problems": processes.problems_payload(err.problems)}) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise Invalid("This is XML but not a BPMN 2.0 diagram; nothing was saved.", {"problems": [Problem(
            filename, None, "The file's root element is not bpmn:definitions.", "Save the diagram from a BPMN 2.0 editor.").as_dict()]})
    return xml


def _processes_in(xml: str) -> dict[str, bool]:
    """Process ids in a diagram and whether each is executable."""
    root = parse_xml(xml.encode("utf-8"), "draft.bpmn").getroot()
    return {node.get("id"): node.get("isExecutable") == "true" for node in root.iter(f"{{{BPMN_NS}}}process") if node.get("id")}


def save_draft(core: Core, user: User, process_id: str, xml, revision, note: str = "", kind: str = "saved",
               new_file: str | None = None) -> dict:
    """Save the draft if `revision` is the one it is at; refuse (409) a save over someone else's newer one.

    new_file names the file of a process that is neither deployed nor drafted yet (an upload).
    """
    _manager(user)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise Invalid("Send the draft revision you started from as a whole number (0 when there was no draft).", {"revision": ["A whole number."]})
    note = _note(note)
    with core.db.session(readonly=True) as session:
        draft = session.get(ProcessDraft, process_id)
        latest = _latest(session, process_id)
        source_file = draft.source_file if draft else (latest.source_file if latest else new_file)
    if source_file is None:
        raise NotFound(f"There is no process '{process_id}' in the library; upload a .bpmn file to add one.")
    xml = _check_xml(xml, source_file, core.settings.max_diagram_bytes)
    if process_id not in _processes_in(xml):
        raise Invalid(f"The diagram no longer holds the process '{process_id}'; nothing was saved.", {"problems": [Problem(
            source_file, None, f"There is no process with the id '{process_id}'.",
            f"Keep the process id '{process_id}' (select the pool or the canvas and check its id).").as_dict()]})
    try:
        saved = _store_draft(core, user, process_id, xml, revision, note, kind, source_file)
    except IntegrityError:  # another first save of this draft committed at the same moment
        raise Conflict("Someone else saved this draft at the same moment. Nothing was saved; reload the editor and make your change again.") from None
    result = get_draft(core, user, process_id)
    result["problems"] = processes.problems_payload(_check_draft(core, process_id, result["source_file"], xml).problems)
    result["saved_revision"] = saved
    return result


def _store_draft(core: Core, user: User, process_id: str, xml: str, revision: int, note: str, kind: str, source_file: str) -> int:
    with core.db.session() as session:
        draft = session.get(ProcessDraft, process_id, with_for_update=True, populate_existing=True)
        current = draft.revision if draft else 0
        if revision != current:
            raise Conflict(_conflict_message(draft, revision), {"revision": current, "updated_by": draft.updated_by if draft else None,
                                                              "updated_at": _iso(draft.updated_at) if draft else None})
        now = clock.now()
        if draft is None:
            latest = _latest(session, process_id)
            draft = ProcessDraft(process_id=process_id, source_file=source_file, revision=0,
                                 base_version=latest.version if latest else None)
            session.add(draft)
        draft.xml, draft.revision, draft.updated_at, draft.updated_by = xml, current + 1, now, user.username
        _record(session, user, kind, process_id=process_id, note=note, revision=draft.revision, content=xml)
        return draft.revision


def _conflict_message(draft: ProcessDraft | None, revision: int) -> str:
    if draft is None:
        return (f"There is no saved draft at revision {revision}: the draft was never saved. Reload the editor "
                "(download your diagram first if you want to keep it). Nothing was saved.")
    when = draft.updated_at.strftime("%d %b %Y %H:%M UTC")
    return (f"{draft.updated_by} saved a newer draft (revision {draft.revision}) at {when}, after the revision {revision} "
            "you started from. Nothing was saved, so their work is not overwritten: download your diagram to keep it, "
            "reload the editor to see their changes, then make your change again.")


def _form_overrides(session) -> dict[str, bytes]:
    return {form.name: form.content.encode("utf-8") for form in session.scalars(select(FormDraft))}


def _sources_for(session, process_id: str, source_file: str, xml: str) -> dict[str, bytes]:
    """The draft's file and, for call activities, the newest deployed copy of every other file the process used."""
    latest = _latest(session, process_id)
    sources = dict(latest.sources) if latest else {}
    for name in list(sources):
        if name == source_file:
            continue
        newest = session.scalar(select(ProcessVersion).where(ProcessVersion.source_file == name)
                                .order_by(ProcessVersion.id.desc()).limit(1))
        if newest is not None and name in newest.sources:
            sources[name] = newest.sources[name]
    sources.update(_called_files(session, xml, exclude={source_file, *sources}))
    sources[source_file] = xml
    return {name: text.encode("utf-8") for name, text in sources.items()}


def _called_files(session, xml: str, exclude: set[str]) -> dict[str, str]:
    """Deployed files holding processes that this diagram's call activities name."""
    try:
        root = parse_xml(xml.encode("utf-8"), "draft.bpmn").getroot()
    except InvalidDiagram:
        return {}
    files = {}
    for node in root.iter(f"{{{BPMN_NS}}}callActivity"):
        called = node.get("calledElement")
        version = _latest(session, called) if called else None
        if version is not None and version.source_file not in exclude:
            files[version.source_file] = version.sources[version.source_file]
    return files


def _trial_runs(core: Core, result: checks.Checked) -> list[Problem]:
    """Run each script once in the sandbox, with no data: one that hits the time or size limit is refused.

    Static checks cannot tell a loop that never ends; a trial run with the runtime's own limits can.
    Other failures (a name that only process data would give, say) are expected with no data and ignored.
    """
    from apflow.engine.sandbox import SandboxLimitExceeded

    if result.parsed is None:
        return []
    environment = core.host.script_engine.environment
    problems = []
    for process_id in result.parsed.process_ids:
        for task_spec in result.parsed.bundle(process_id).task_specs():
            for what in ("script", "prescript", "postscript"):
                source = getattr(task_spec, what, None)
                if not source or not str(source).strip():
                    continue
                try:
                    environment.execute(str(source), {})
                except SandboxLimitExceeded as err:
                    label = task_spec.bpmn_name or task_spec.bpmn_id
                    problems.append(Problem(result.parsed.process_files[process_id], task_spec.bpmn_id,
                                            f"The {what.replace('script', ' script').strip()} of '{label}' was tried once and stopped: {err}",
                                            "Make every loop end and keep values small; a script that never finishes would stop every placement reaching it."))
                except Exception:  # noqa: BLE001 - expected without process data
                    continue
    return problems


def _check(core: Core, sources: dict[str, bytes], overrides: dict[str, bytes]) -> checks.Checked:
    """The checks of `apflow validate`, then a trial run of every script."""
    result = processes.check_sources(core, sources, None, overrides)
    if not result.problems:
        result.problems += _trial_runs(core, result)
    return result


def _check_draft(core: Core, process_id: str, source_file: str, xml: str) -> checks.Checked:
    with core.db.session(readonly=True) as session:
        sources = _sources_for(session, process_id, source_file, xml)
        overrides = _form_overrides(session)
    result = _check(core, sources, overrides)
    if result.parsed is not None and process_id not in result.parsed.process_ids:
        result.problems.append(Problem(source_file, process_id, f"The process '{process_id}' is not executable or is missing.",
                                       "Tick 'Executable' on the process and keep its id."))
    return result


def validate_draft(core: Core, user: User, process_id: str, xml=None) -> dict:
    """The same checks as `apflow validate`, on the given diagram text or the saved draft."""
    draft = get_draft(core, user, process_id)
    if xml is None:
        xml = draft["xml"]
    xml = _check_xml(xml, draft["source_file"], core.settings.max_diagram_bytes)
    result = _check_draft(core, process_id, draft["source_file"], xml)
    return {"ok": result.ok, "problems": processes.problems_payload(result.problems)}


def deploy_draft(core: Core, user: User, process_id: str, revision, note) -> dict:
    """Deploy the draft at `revision` as a new version; refused unless it passes every check."""
    _manager(user)
    note = _note(note, required=True)
    with core.db.session(readonly=True) as session:
        draft = session.get(ProcessDraft, process_id)
        if draft is None:
            raise Conflict("There is no saved draft to deploy; save your changes first.")
        if revision != draft.revision:
            raise Conflict(_conflict_message(draft, revision), {"revision": draft.revision})
        xml, source_file = draft.xml, draft.source_file
    result = _check_draft(core, process_id, source_file, xml)
    if result.problems:
        raise Invalid("The diagram has problems; nothing was deployed.", {"problems": processes.problems_payload(result.problems)})
    try:
        deployed = processes.deploy_checked(core, result, by=user.username, note=note)
    except IntegrityError:  # another deploy of this process took the same version number first
        raise Conflict("Someone else deployed this process at the same moment. Nothing was deployed; reload and check the versions.") from None
    mine = next(d for d in deployed if d.process_id == process_id)
    with core.db.session() as session:
        draft = session.get(ProcessDraft, process_id)
        if draft is not None and draft.revision == revision:
            draft.base_version = mine.version
        for item in deployed:
            if item.created:
                _record(session, user, "deployed", process_id=item.process_id, note=note, revision=revision, version=item.version,
                        detail={"from_draft_of": process_id})
    return {"process_id": process_id, "version": mine.version, "created": mine.created,
            "deployed": [d.__dict__ for d in deployed],
            "message": (f"Deployed version {mine.version}: new instances use it; running ones stay on their version."
                        if mine.created else f"Nothing changed since version {mine.version}, so no new version was made.")}


# -- upload and download -------------------------------------------------------------------

def upload(core: Core, user: User, filename: str, data: bytes, note: str = "", process_id: str | None = None,
           revision: int | None = None) -> dict:
    """A .bpmn from another bpmn-js editor becomes the draft of its process, after passing every check.

    A file that is refused (unsafe XML, sandbox violations, a missing start event, ...) changes nothing.
    """
    _manager(user)
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not BPMN_NAME.match(filename):
        raise Invalid("Upload a .bpmn file (letters, digits, '.', '-' and '_' in its name).", {"file": ["Choose a .bpmn file."]})
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("The file is not UTF-8 text, so it is not a BPMN diagram; nothing was changed.") from None
    else:
        text = str(data)
    _check_xml(text, filename, core.settings.max_diagram_bytes)
    with core.db.session(readonly=True) as session:
        sources = {filename: text.encode("utf-8")}
        sources.update({name: t.encode("utf-8") for name, t in _called_files(session, text, exclude={filename}).items()})
        overrides = _form_overrides(session)
    result = _check(core, sources, overrides)
    if result.problems:
        raise Invalid("The diagram was refused; nothing was changed.", {"problems": processes.problems_payload(result.problems)})
    executable = [pid for pid, file in result.parsed.process_files.items() if file == filename]
    if process_id is None:
        if len(executable) != 1:
            raise Invalid(f"The file holds {len(executable)} executable processes; upload it from the page of the process it is for.")
        process_id = executable[0]
    elif process_id not in executable:
        raise Invalid(f"The file does not hold the process '{process_id}'; nothing was changed.",
                      {"problems": [Problem(filename, None, f"No executable process has the id '{process_id}'.",
                                            f"Give the process the id '{process_id}' in your editor.").as_dict()]})
    with core.db.session(readonly=True) as session:
        draft = session.get(ProcessDraft, process_id)
        latest = _latest(session, process_id)
    current = draft.revision if draft else 0
    if revision is None:
        if draft is not None:
            raise Conflict(f"The process '{process_id}' already has a draft (revision {draft.revision}, saved by {draft.updated_by}); "
                           "upload from its page so you see it before replacing it. Nothing was changed.", {"revision": draft.revision})
        revision = current
    if draft is None and latest is not None:
        filename = latest.source_file  # one file per process, whatever the upload was called
    return save_draft(core, user, process_id, text, revision, note or f"Uploaded {filename}", kind="uploaded", new_file=filename)


def version_xml(core: Core, user: User, process_id: str, number: int) -> tuple[str, str]:
    """(file name, BPMN text) of a deployed version, for download."""
    _manager(user)
    with core.db.session(readonly=True) as session:
        version = _version(session, process_id, number)
        return version.source_file, version.sources[version.source_file]


def versions(core: Core, user: User, process_id: str) -> list[dict]:
    entry = process_detail(core, user, process_id)
    return entry["versions"]


# -- comparing versions --------------------------------------------------------------------

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
    _manager(user)
    before_label, before_xml = _xml_of(core, user, process_id, before)
    after_label, after_xml = _xml_of(core, user, process_id, after)
    try:
        result = compare(before_xml, after_xml)
    except InvalidDiagram as err:
        raise Invalid("A diagram could not be read for comparison.", {"problems": processes.problems_payload(err.problems)}) from None
    return {"process_id": process_id, "from": str(before), "to": str(after), "from_label": before_label, "to_label": after_label,
            **result.as_dict(), "same": result.empty, "from_xml": before_xml, "to_xml": after_xml}


# -- moving running instances --------------------------------------------------------------

@dataclass
class MoveCheck:
    instance_id: int
    from_version: int
    status: str
    pupil_name: str | None
    at: list[str] = field(default_factory=list)       # where it is now, by task name
    reasons: list[str] = field(default_factory=list)  # why it cannot move; empty when it can

    @property
    def can_move(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict:
        return {"instance_id": self.instance_id, "from_version": self.from_version, "status": self.status,
                "pupil_name": self.pupil_name, "at": self.at, "can_move": self.can_move, "reasons": self.reasons}


def _label(task_spec, name: str) -> str:
    if task_spec is None:
        return name
    base = getattr(task_spec, "bpmn_name", None) or getattr(task_spec, "bpmn_id", None)
    if base:
        return base
    for suffix, words in ((".BoundaryEventSplit", "the events on "), (".BoundaryEventJoin", "the events on "), (".EndJoin", "the end of ")):
        if name.endswith(suffix):
            return words + name[:-len(suffix)]
    return name


def _kind(task_spec) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(task_spec).__name__).lower().strip("_ ")
    return words


def _event_summary(task_spec) -> str | None:
    """What an event waits for, in words: 'timer P2D', 'signal concern_raised'."""
    event = getattr(task_spec, "event_definition", None)
    if event is None:
        return None
    expression = getattr(event, "expression", None)
    if isinstance(expression, str):
        if expression.startswith("as_duration(") and expression.endswith(")"):
            expression = expression[len("as_duration("):-1]
        return f"timer {expression.strip(chr(39) + chr(34))}"
    kind = type(event).__name__.replace("EventDefinition", "").lower() or "event"
    return f"{kind} {getattr(event, 'name', None) or ''}".strip()


def _form_of(task_spec) -> tuple:
    props = task_properties(task_spec)
    return props.get(SCHEMA_PROPERTY), props.get(UI_PROPERTY)


def _trees(state: dict, process_id: str) -> list[tuple[str, dict]]:
    """(spec name, tasks) for the instance's own task tree and each subprocess's."""
    trees = [(process_id, state.get("tasks", {}))]
    for sub in (state.get("subprocesses") or {}).values():
        trees.append((sub.get("spec"), sub.get("tasks", {})))
    return trees


def _is_prediction(task: dict, tasks: dict) -> bool:
    """A task the engine only expects to reach: predicted, under a task that is not finished yet."""
    if not task["state"] & PREDICTED:
        return False
    parent = tasks.get(task.get("parent")) if task.get("parent") else None
    return parent is not None and not parent["state"] & FINISHED


def _move_problems(old_bundle, new_bundle, state: dict, new_version: int) -> list[str]:
    """Why an instance in `state` cannot move from old_bundle to new_bundle, in words; [] when it can.

    The rule: every task it has reached (done, doing, waiting) must still exist with the same
    kind of step, and the ones it is on now must keep their lane, form, timer and signal.
    """
    old_specs = {old_bundle.spec.name: old_bundle.spec, **old_bundle.subprocess_specs}
    new_specs = {new_bundle.spec.name: new_bundle.spec, **new_bundle.subprocess_specs}
    reasons: list[str] = []
    for spec_name, tasks in _trees(state, old_bundle.spec.name):
        old_spec, new_spec = old_specs.get(spec_name), new_specs.get(spec_name)
        if new_spec is None:
            reasons.append(f"It is inside the subprocess '{spec_name}', which version {new_version} no longer has.")
            continue
        for task in tasks.values():
            if _is_prediction(task, tasks):
                continue
            name = task["task_spec"]
            before = old_spec.task_specs.get(name) if old_spec else None
            after = new_spec.task_specs.get(name)
            label = _label(before, name)
            state_bits = task["state"]
            doing = "is on" if state_bits & ACTIVE else "is waiting at" if state_bits & TaskState.WAITING else "has passed"
            if after is None:
                reasons.append(f"It {doing} '{label}', which version {new_version} no longer has.")
                continue
            if before is not None and type(before) is not type(after):
                reasons.append(f"It {doing} '{label}', which changed from a {_kind(before)} to a {_kind(after)}.")
                continue
            if before is None or not state_bits & (ACTIVE | TaskState.WAITING):
                continue
            if (before.lane or None) != (after.lane or None):
                reasons.append(f"It {doing} '{label}', whose lane changed from '{before.lane}' to '{after.lane}': "
                               "the task would move to other people mid-way.")
            if _form_of(before) != _form_of(after):
                reasons.append(f"It {doing} '{label}', whose form changed: answers in progress could not be kept.")
            if task_properties(before).get(DUE_IN_PROPERTY) != task_properties(after).get(DUE_IN_PROPERTY) and state_bits & ACTIVE:
                reasons.append(f"It {doing} '{label}', whose dueIn changed: its current due time would not follow the new rule.")
            if _event_summary(before) != _event_summary(after):
                reasons.append(f"It {doing} '{label}', which changed from '{_event_summary(before)}' to '{_event_summary(after)}': "
                               "what it waits for now was set by the old version.")
    return reasons


def _prune_predictions(tasks: dict) -> None:
    drop = {tid for tid, task in tasks.items() if _is_prediction(task, tasks)}
    changed = True
    while changed:  # and everything below a dropped task
        changed = False
        for tid, task in tasks.items():
            if tid not in drop and task.get("parent") in drop:
                drop.add(tid)
                changed = True
    for tid in drop:
        tasks.pop(tid, None)
    for task in tasks.values():
        task["children"] = [c for c in task.get("children", []) if c not in drop]


def _restore_on(core: Core, state: dict, bundle):
    """The instance's workflow on another version: reached tasks kept, predictions rebuilt from the new spec."""
    state = copy.deepcopy(state)
    _prune_predictions(state["tasks"])
    for sub in (state.get("subprocesses") or {}).values():
        _prune_predictions(sub["tasks"])
    workflow = core.host.load(state, bundle)
    workflow._predict()
    for sub in workflow.subprocesses.values():
        sub._predict()
    return workflow


def _check_instance(core: Core, instance: Instance, target: ProcessVersion) -> tuple[MoveCheck, object]:
    old_bundle, new_bundle = core.bundle(instance.version), core.bundle(target)
    result = MoveCheck(instance.id, instance.version.version, instance.status, None)
    workflow = None
    try:
        old = core.host.load(instance.state, old_bundle)
        result.at = [t.name for t in core.host.ready_human_tasks(old)] + [f"waiting: {t.name}" for t in core.host.waiting_timers(old)]
        result.pupil_name = core.host.current_data(old).get("pupil_name")
    except Exception as err:  # noqa: BLE001 - an unreadable instance cannot move, and says why
        result.reasons.append(f"Its state could not be read on its own version: {instances._explain(err)}")
        return result, None
    result.reasons = _move_problems(old_bundle, new_bundle, instance.state, target.version)
    if result.reasons:
        return result, None
    try:
        workflow = _restore_on(core, instance.state, new_bundle)
        before_ready = sorted(t.id for t in core.host.ready_human_tasks(old))
        after_ready = sorted(t.id for t in core.host.ready_human_tasks(workflow))
        before_waiting = sorted((t.task_id, t.due_at) for t in core.host.waiting_timers(old))
        after_waiting = sorted((t.task_id, t.due_at) for t in core.host.waiting_timers(workflow))
        if before_ready != after_ready or before_waiting != after_waiting:
            result.reasons.append(f"On version {target.version} it would not be waiting for the same tasks and timers.")
            workflow = None
    except Exception as err:  # noqa: BLE001 - the engine's own refusal is the reason
        result.reasons.append(f"The engine could not restore it on version {target.version}: {instances._explain(err)}")
        workflow = None
    return result, workflow


def _target(session, process_id: str, to_version) -> ProcessVersion:
    if to_version in (None, "", "latest"):
        target = _latest(session, process_id)
        if target is None:
            raise NotFound(f"Process '{process_id}' has no deployed version.")
        return target
    try:
        return _version(session, process_id, int(to_version))
    except (TypeError, ValueError):
        raise Invalid("`to` must be a version number.", {"to": ["A version number."]}) from None


def migration_preview(core: Core, user: User, process_id: str, to_version=None) -> dict:
    """Each unfinished instance on another version: can it move to the target version safely, and if not, why."""
    _manager(user)
    with core.db.session(readonly=True) as session:
        target = _target(session, process_id, to_version)
        rows = list(session.scalars(select(Instance).where(Instance.process_id == process_id, Instance.status != "completed",
                                                           Instance.process_version_id != target.id).order_by(Instance.id)))
        checks_ = [_check_instance(core, row, target)[0] for row in rows]
    return {"process_id": process_id, "to_version": target.version, "instances": [c.as_dict() for c in checks_],
            "can_move": sum(c.can_move for c in checks_), "cannot_move": sum(not c.can_move for c in checks_)}


def move_instances(core: Core, user: User, process_id: str, to_version, instance_ids, note: str = "") -> dict:
    """Move the given instances to the target version, each in its own locked step; unsafe ones are refused."""
    _manager(user)
    if not isinstance(instance_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in instance_ids):
        raise Invalid("Send `instance_ids`, a list of instance ids.", {"instance_ids": ["A list of whole numbers."]})
    note = _note(note)
    with core.db.session(readonly=True) as session:
        target = _target(session, process_id, to_version)
        target_id = target.id
    actor = instances.Actor.of(user)
    moved, refused, due = [], {}, []
    for instance_id in dict.fromkeys(instance_ids):
        with core.db.session() as session:
            instance = locked_instance(session, instance_id)
            if instance is None:
                refused[instance_id] = ["There is no such instance."]
                continue
            target = session.get(ProcessVersion, target_id)
            if instance.process_id != process_id:
                refused[instance_id] = [f"It is not an instance of '{process_id}'."]
                continue
            if instance.status == "completed":
                refused[instance_id] = ["It has finished."]
                continue
            if instance.process_version_id == target.id:
                refused[instance_id] = [f"It is already on version {target.version}."]
                continue
            result, workflow = _check_instance(core, instance, target)
            if workflow is None:
                refused[instance_id] = result.reasons
                continue
            from_version = instance.version.version
            kept_error = (instance.status, instance.error_message, instance.error_at, instance.error_action)
            instance.process_version_id = target.id
            instance.version = target
            data = core.host.current_data(workflow)
            due += instances._persist(core, session, instance, workflow, actor, before=data).due
            if kept_error[0] == "error":  # a failed step stays failed (and retryable) on the new version
                instance.status, instance.error_message, instance.error_at, instance.error_action = kept_error
            instances._event(session, instance, actor, "instance_migrated",
                             detail={"from_version": from_version, "to_version": target.version, "to": f"version {target.version}",
                                     "message": note or None})
            moved.append(instance_id)
    with core.db.session() as session:
        _record(session, user, "migrated", process_id=process_id, note=note, version=target.version,
                detail={"moved": moved, "refused": {str(k): v for k, v in refused.items()}})
    core.timers_scheduled(due)
    return {"process_id": process_id, "to_version": target.version, "moved": moved,
            "refused": {str(k): v for k, v in refused.items()}}


# -- rollback ------------------------------------------------------------------------------

def rollback(core: Core, user: User, process_id: str, version, note) -> dict:
    """Make an earlier version's content the newest version again (after passing today's checks)."""
    _manager(user)
    note = _note(note, required=True)
    if not isinstance(version, int) or isinstance(version, bool):
        raise Invalid("Name the version to roll back to as a whole number.", {"version": ["A version number."]})
    with core.db.session(readonly=True) as session:
        old = _version(session, process_id, version)
        latest = _latest(session, process_id)
        if latest.version == old.version:
            raise Conflict(f"Version {version} is already the newest version.")
        sources = {name: text.encode("utf-8") for name, text in old.sources.items()}
        forms = {name: json.dumps(doc).encode("utf-8") for name, doc in old.forms.items()}
        old_fields = {k: getattr(old, k) for k in ("name", "content_hash", "source_file", "sources", "forms", "start_lane")}
        latest_xml = latest.sources.get(latest.source_file)
    result = processes.check_sources(core, sources, None, forms)
    if result.problems:
        raise Invalid(f"Version {version} does not pass today's checks, so it cannot become live again.",
                      {"problems": processes.problems_payload(result.problems)})
    spec = core.host.spec_to_dict(result.parsed.bundle(process_id))
    try:
        return _store_rollback(core, user, process_id, version, note, spec, old_fields, latest_xml)
    except IntegrityError:
        raise Conflict("Someone else deployed this process at the same moment. Nothing was rolled back; reload and check the versions.") from None


def _store_rollback(core: Core, user: User, process_id: str, version: int, note: str, spec: dict, old_fields: dict, latest_xml: str) -> dict:
    with core.db.session() as session:
        newest = _latest(session, process_id)
        row = ProcessVersion(process_id=process_id, version=newest.version + 1, spec=spec, deployed_at=clock.now(),
                             deployed_by=user.username, note=f"Rolled back to version {version}: {note}", **old_fields)
        session.add(row)
        session.flush()
        _record(session, user, "rolled_back", process_id=process_id, note=note, version=row.version,
                detail={"content_of": version, "replaced": newest.version})
        draft = session.get(ProcessDraft, process_id, with_for_update=True)
        draft_reset = False
        if draft is not None and draft.xml == latest_xml:
            # The draft had nothing undeployed: keep editing from what is live now.
            draft.xml, draft.revision = old_fields["sources"][old_fields["source_file"]], draft.revision + 1
            draft.updated_at, draft.updated_by, draft.base_version = clock.now(), user.username, row.version
            _record(session, user, "saved", process_id=process_id, note=f"Draft reset to version {version} by the rollback",
                    revision=draft.revision, content=draft.xml)
            draft_reset = True
        new_version = row.version
    return {"process_id": process_id, "version": new_version, "content_of": version, "draft_reset": draft_reset,
            "message": f"Version {new_version} is live with the content of version {version}. Running instances stay on their "
                       "versions; move them from the migration page if you want."}


# -- forms ---------------------------------------------------------------------------------

def _is_ui(name: str) -> bool:
    return "uischema" in name.lower() or name.lower().endswith(".ui.json")


def list_forms(core: Core, user: User) -> list[dict]:
    _manager(user)
    names = {p.name: "file" for p in sorted(core.settings.forms_dir.glob("*.json")) if FORM_NAME.match(p.name)}
    with core.db.session(readonly=True) as session:
        edited = {f.name: f for f in session.scalars(select(FormDraft))}
    result = []
    for name in sorted(set(names) | set(edited)):
        form = edited.get(name)
        result.append({"name": name, "kind": "ui" if _is_ui(name) else "schema", "edited": form is not None,
                       "revision": form.revision if form else 0, "updated_by": form.updated_by if form else None,
                       "updated_at": _iso(form.updated_at) if form else None})
    return result


def _form_name(name: str) -> str:
    if not FORM_NAME.match(name or ""):
        raise Invalid("A form file name is letters, digits, '.', '-' and '_', ending in .json.", {"name": ["e.g. review.schema.json"]})
    return name


def get_form(core: Core, user: User, name: str) -> dict:
    _manager(user)
    name = _form_name(name)
    with core.db.session(readonly=True) as session:
        form = session.get(FormDraft, name)
        if form is not None:
            return {"name": name, "content": form.content, "revision": form.revision, "kind": "ui" if _is_ui(name) else "schema",
                    "source": "edited", "updated_by": form.updated_by, "updated_at": _iso(form.updated_at)}
    path = core.settings.forms_dir / name
    if not path.is_file():
        raise NotFound(f"There is no form '{name}'.")
    return {"name": name, "content": path.read_text("utf-8"), "revision": 0, "kind": "ui" if _is_ui(name) else "schema",
            "source": "file", "updated_by": None, "updated_at": None}


def save_form(core: Core, user: User, name: str, content, revision) -> dict:
    """Save a form (refused unless it is valid); it goes live with the next deploy of each process using it."""
    _manager(user)
    name = _form_name(name)
    if not isinstance(content, str):
        raise Invalid("Send the form as JSON text in `content`.", {"content": ["JSON text."]})
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise Invalid("Send the form revision you started from (0 for a form not edited before).", {"revision": ["A whole number."]})
    problems = check_form_source(name, content.encode("utf-8"), ui=_is_ui(name))
    if problems:
        raise Invalid("The form has problems; nothing was saved.", {"problems": processes.problems_payload(problems)})
    try:
        _store_form(core, user, name, content, revision)
    except IntegrityError:
        raise Conflict("Someone else saved this form at the same moment. Nothing was saved; reload and try again.") from None
    return get_form(core, user, name)


def _store_form(core: Core, user: User, name: str, content: str, revision: int) -> None:
    with core.db.session() as session:
        form = session.get(FormDraft, name, with_for_update=True, populate_existing=True)
        current = form.revision if form else 0
        if revision != current:
            who = f"{form.updated_by} saved it at {form.updated_at.strftime('%d %b %Y %H:%M UTC')}" if form else "it changed"
            raise Conflict(f"The form changed since you opened it ({who}, revision {current}). Nothing was saved; "
                           "copy your text, reload, and make your change again.", {"revision": current})
        if form is None:
            form = FormDraft(name=name, revision=0)
            session.add(form)
        form.content, form.revision, form.updated_at, form.updated_by = content, current + 1, clock.now(), user.username
        _record(session, user, "form_saved", form_name=name, revision=form.revision, content=content)


def preview_form(user: User, schema_text, ui_text=None) -> tuple[dict | None, dict, list[dict]]:
    """(schema, ui schema, problems) from form text being edited, for a live preview."""
    _manager(user)
    if not isinstance(schema_text, str):
        raise Invalid("Send the schema as JSON text in `schema`.")
    problems = check_form_source("schema", schema_text.encode("utf-8"))
    ui = {}
    if ui_text:
        problems += check_form_source("ui schema", str(ui_text).encode("utf-8"), ui=True)
    if problems:
        return None, {}, processes.problems_payload(problems)
    if ui_text:
        ui = json.loads(ui_text)
    return json.loads(schema_text), ui, []
