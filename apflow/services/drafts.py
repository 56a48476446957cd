"""Drafts of process diagrams, edited in the browser or uploaded from another BPMN editor.

A draft is never run. Saving is refused over someone else's newer save (409); validating runs the checks of
`apflow validate` plus one trial run of each script in the sandbox; only a deploy makes a draft live."""
from __future__ import annotations

import json
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from apflow.clock import clock
from apflow.engine import validate as checks
from apflow.engine.problems import InvalidDiagram, Problem
from apflow.engine.xml import parse_xml, text_to_utf8, utf8_source
from apflow.errors import Conflict, Invalid, NotFound
from apflow.store.models import FormDraft, ProcessDraft, ProcessVersion, User

from . import processes
from .changes import BPMN_NS, change_note, draft_summary, iso, process_name, record_change, require_manager
from .core import Core

BPMN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.bpmn$")


def get_draft(core: Core, user: User, process_id: str) -> dict:
    """The draft to edit: the saved draft, or (revision 0) the newest deployed version's diagram."""
    require_manager(user)
    with core.db.session(readonly=True) as session:
        processes.require_editable(session, user, process_id)  # another organisation's process: not theirs to edit
        draft = session.get(ProcessDraft, process_id)
        latest = processes.latest(session, process_id)
        if draft is None and latest is None:
            raise NotFound(f"There is no process '{process_id}' in the library.")
        if draft is None:
            return {"process_id": process_id, "source_file": latest.source_file, "xml": latest.sources[latest.source_file],
                    "revision": 0, "updated_at": None, "updated_by": None, "base_version": latest.version,
                    "deployed_version": latest.version, "undeployed_changes": False, "name": latest.name}
        return {"process_id": process_id, "source_file": draft.source_file, "xml": draft.xml, **draft_summary(draft, latest),
                "deployed_version": latest.version if latest else None,
                "name": process_name(draft.xml, process_id)}


def _check_xml(xml, filename: str, max_bytes: int) -> str:
    if not isinstance(xml, str) or not xml.strip():
        raise Invalid("Send the diagram as BPMN XML text.", {"xml": ["The diagram is empty."]})
    try:
        root = parse_xml(text_to_utf8(xml), filename, max_bytes).getroot()
    except InvalidDiagram as err:
        raise Invalid("The diagram could not be read; nothing was saved.", {"problems": processes.problems_payload(err.problems)}) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise Invalid("This is XML but not a BPMN 2.0 diagram; nothing was saved.", {"problems": [Problem(
            filename, None, "The file's root element is not bpmn:definitions.", "Save the diagram from a BPMN 2.0 editor.").as_dict()]})
    return xml


def _processes_in(xml: str) -> dict[str, bool]:
    """Process ids in a diagram and whether each is executable."""
    root = parse_xml(text_to_utf8(xml), "draft.bpmn").getroot()
    return {node.get("id"): node.get("isExecutable") == "true" for node in root.iter(f"{{{BPMN_NS}}}process") if node.get("id")}


def save_draft(core: Core, user: User, process_id: str, xml, revision, note: str = "", kind: str = "saved",
               new_file: str | None = None) -> dict:
    """Save the draft if `revision` is the one it is at; refuse (409) a save over someone else's newer one.

    new_file names the file of a process that is neither deployed nor drafted yet (an upload).
    """
    require_manager(user)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise Invalid("Send the draft revision you started from as a whole number (0 when there was no draft).", {"revision": ["A whole number."]})
    note = change_note(note)
    with core.db.session(readonly=True) as session:
        processes.require_editable(session, user, process_id)
        draft = session.get(ProcessDraft, process_id)
        latest = processes.latest(session, process_id)
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
                                                              "updated_at": iso(draft.updated_at) if draft else None})
        now = clock.now()
        if draft is None:
            latest = processes.latest(session, process_id)
            draft = ProcessDraft(process_id=process_id, source_file=source_file, revision=0,
                                 base_version=latest.version if latest else None)
            session.add(draft)
        draft.xml, draft.revision, draft.updated_at, draft.updated_by = xml, current + 1, now, user.username
        record_change(session, user, kind, process_id=process_id, note=note, revision=draft.revision, content=xml)
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
    latest = processes.latest(session, process_id)
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
    return {name: text_to_utf8(text) for name, text in sources.items()}


def _called_files(session, xml: str, exclude: set[str]) -> dict[str, str]:
    """Deployed files holding processes that this diagram's call activities name."""
    try:
        root = parse_xml(text_to_utf8(xml), "draft.bpmn").getroot()
    except InvalidDiagram:
        return {}
    files = {}
    for node in root.iter(f"{{{BPMN_NS}}}callActivity"):
        called = node.get("calledElement")
        version = processes.latest(session, called) if called else None
        if version is not None and version.source_file not in exclude:
            files[version.source_file] = version.sources[version.source_file]
    return files


def _trial_runs(core: Core, result: checks.Checked) -> list[Problem]:
    """Run each script once in the sandbox, with no data: one that hits the time or size limit is refused.

    Static checks cannot tell a loop that never ends; a trial run with the runtime's own limits can.
    Other failures (a name that only process data would give, say) are expected with no data and ignored.
    """
    if result.parsed is None:
        return []
    problems = []
    for process_id in result.parsed.process_ids:
        for task_spec in result.parsed.bundle(process_id).task_specs():
            for what in ("script", "prescript", "postscript"):
                source = getattr(task_spec, what, None)
                if not source or not str(source).strip():
                    continue
                # In a worker process (core.steps), like every run of a diagram's code: never in the web process.
                err = core.steps.try_script(str(source))
                if err:
                    label = task_spec.bpmn_name or task_spec.bpmn_id
                    problems.append(Problem(result.parsed.process_files[process_id], task_spec.bpmn_id,
                                            f"The {what.replace('script', ' script').strip()} of '{label}' was tried once and stopped: {err}",
                                            "Make every loop end and keep values small; a script that never finishes would stop every placement reaching it."))
    return problems


def _check_with_trial_runs(core: Core, sources: dict[str, bytes], overrides: dict[str, bytes],
                           stored_forms: dict[str, bytes] | None = None) -> checks.Checked:
    """The checks of `apflow validate`, then a trial run of every script."""
    result = processes.check_sources(core, sources, None, overrides, stored_forms=stored_forms)
    if result.ok:
        result.problems += _trial_runs(core, result)
    return result


def _check_draft(core: Core, process_id: str, source_file: str, xml: str) -> checks.Checked:
    with core.db.session(readonly=True) as session:
        sources = _sources_for(session, process_id, source_file, xml)
        overrides = _form_overrides(session)
        latest = processes.latest(session, process_id)  # its converted Camunda forms, whose .form files stay with the author
        stored = {name: json.dumps(doc).encode("utf-8") for name, doc in (latest.forms if latest else {}).items()}
    result = _check_with_trial_runs(core, sources, overrides, stored)
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
    require_manager(user)
    note = change_note(note, required=True)
    with core.db.session(readonly=True) as session:
        draft = session.get(ProcessDraft, process_id)
        if draft is None:
            raise Conflict("There is no saved draft to deploy; save your changes first.")
        if revision != draft.revision:
            raise Conflict(_conflict_message(draft, revision), {"revision": draft.revision})
        xml, source_file = draft.xml, draft.source_file
    result = _check_draft(core, process_id, source_file, xml)
    if not result.ok:  # warnings alone do not stop a deploy
        raise Invalid("The diagram has problems; nothing was deployed.", {"problems": processes.problems_payload(result.problems)})
    try:
        deployed = processes.deploy_checked(core, result, by=user.username, note=note, user=user)
    except IntegrityError:  # another deploy of this process took the same version number first
        raise Conflict("Someone else deployed this process at the same moment. Nothing was deployed; reload and check the versions.") from None
    mine = next(d for d in deployed if d.process_id == process_id)
    with core.db.session() as session:
        draft = session.get(ProcessDraft, process_id)
        if draft is not None and draft.revision == revision:
            draft.base_version = mine.version
        for item in deployed:
            if item.created:
                record_change(session, user, "deployed", process_id=item.process_id, note=note, revision=revision, version=item.version,
                        detail={"from_draft_of": process_id})
    return {"process_id": process_id, "version": mine.version, "created": mine.created,
            "deployed": [d.__dict__ for d in deployed], "warnings": processes.problems_payload(result.warnings),
            "message": (f"Deployed version {mine.version}: new instances use it; running ones stay on their version."
                        if mine.created else f"Nothing changed since version {mine.version}, so no new version was made.")}


def upload(core: Core, user: User, filename: str, data: bytes, note: str = "", process_id: str | None = None,
           revision: int | None = None) -> dict:
    """A .bpmn from another bpmn-js editor becomes the draft of its process, after passing every check.

    A file that is refused (unsafe XML, sandbox violations, a missing start event, ...) changes nothing.
    """
    require_manager(user)
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not BPMN_NAME.match(filename):
        raise Invalid("Upload a .bpmn file (letters, digits, '.', '-' and '_' in its name).", {"file": ["Choose a .bpmn file."]})
    try:  # any encoding XML allows; the draft keeps a faithful UTF-8 transcoding (its declaration then says UTF-8)
        text = utf8_source(data, filename).decode("utf-8")
    except InvalidDiagram as err:
        raise Invalid("The file's characters could not be read; nothing was changed.", {"problems": processes.problems_payload(err.problems)}) from None
    _check_xml(text, filename, core.settings.max_diagram_bytes)
    with core.db.session(readonly=True) as session:
        sources = {filename: text_to_utf8(text)}
        sources.update({name: text_to_utf8(t) for name, t in _called_files(session, text, exclude={filename}).items()})
        overrides = _form_overrides(session)
    result = _check_with_trial_runs(core, sources, overrides)
    if not result.ok:
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
        latest = processes.latest(session, process_id)
    current = draft.revision if draft else 0
    if revision is None:
        if draft is not None:
            raise Conflict(f"The process '{process_id}' already has a draft (revision {draft.revision}, saved by {draft.updated_by}); "
                           "upload from its page so you see it before replacing it. Nothing was changed.", {"revision": draft.revision})
        revision = current
    if draft is None and latest is not None:
        filename = latest.source_file  # one file per process, whatever the upload was called
    return save_draft(core, user, process_id, text, revision, note or f"Uploaded {filename}", kind="uploaded", new_file=filename)
