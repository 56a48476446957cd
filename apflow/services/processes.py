"""Deployed processes: validate and deploy diagrams as immutable versions, list them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from apflow.clock import clock
from apflow.engine import interop
from apflow.engine import validate as checks
from apflow.engine.diagrams import task_properties
from apflow.engine.forms import SCHEMA_PROPERTY, UI_PROPERTY
from apflow.engine.problems import InvalidDiagram, Problem
from apflow.errors import Forbidden, Invalid, NotFound
from apflow.store.models import Instance, Organisation, ProcessVersion, User

from . import operations, organisations, permissions, records
from . import roles as custom_roles
from .core import Core


@dataclass
class Deployed:
    process_id: str
    version: int
    created: bool
    version_id: int
    # Warnings about this process's files (as problem dicts): worth fixing, but they did not stop the deploy.
    warnings: list = field(default_factory=list)


def check_sources(core: Core, bpmn: dict[str, bytes], extra_forms: dict[str, bytes] | None = None,
                  form_overrides: dict[str, bytes] | None = None, form_places: interop.Places | None = None,
                  stored_forms: dict[str, bytes] | None = None) -> checks.Checked:
    """The checks every diagram passes before it can run, with this installation's forms folder, size limit,
    the kinds of record its steps may write and the roles its lanes may name (built-in and custom)."""
    return checks.check(bpmn, core.settings.forms_dir, extra_forms, core.settings.max_diagram_bytes, form_overrides,
                        record_kinds=records.KNOWN_KINDS, roles=custom_roles.load_catalogue(core),
                        services=operations.service_settings(core.settings), form_places=form_places, stored_forms=stored_forms,
                        helpers=core.script_helpers())


def check_paths(core: Core, paths: list[Path]) -> tuple[checks.Checked, dict[str, bytes]]:
    bpmn, forms, problems = checks.collect(paths)
    result = check_sources(core, bpmn, forms, form_places=interop.forms_near(paths))  # forms next to the diagrams too
    result.problems = problems + result.problems
    if not bpmn and not forms and not problems:
        result.problems.append(Problem(", ".join(map(str, paths)), None, "No .bpmn or .json files found.", "Name diagram files or folders holding them."))
    return result, bpmn


def deploy_paths(core: Core, paths: list[Path], by: str, note: str = "", user: User | None = None) -> list[Deployed]:
    result, bpmn = check_paths(core, paths)
    if not result.ok:  # warnings alone do not stop a deploy
        raise InvalidDiagram(result.problems)
    return deploy_checked(core, result, by, note, user)


def deploy_sources(core: Core, bpmn: dict[str, bytes], by: str, note: str = "", user: User | None = None,
                   forms: dict[str, bytes] | None = None) -> list[Deployed]:
    """forms: form files uploaded with the diagrams (JSON Schema or Camunda .form), found before the forms folder."""
    result = check_sources(core, bpmn, forms)
    if not result.ok:  # warnings alone do not stop a deploy
        raise InvalidDiagram(result.problems)
    return deploy_checked(core, result, by, note, user)


def deploy_checked(core: Core, result: checks.Checked, by: str, note: str, user: User | None = None) -> list[Deployed]:
    """Store a new version of each process whose files or forms changed; an unchanged one is left alone.

    user: the manager deploying (None: the operator's CLI, the demo): they may deploy only processes their organisation
    owns, or new ones, which their organisation then owns (issue 17); one refusal deploys nothing."""
    parsed = result.parsed
    deployed: list[Deployed] = []
    with core.db.session() as session:
        for process_id in parsed.process_ids:
            bundle = parsed.bundle(process_id)
            form_sources = {name: data for name, data in result.forms.items() if name in _form_names(bundle)}
            digest = parsed.version_hash(process_id, form_sources)
            newest = latest(session, process_id)
            if newest is not None and newest.content_hash == digest:
                deployed.append(Deployed(process_id, newest.version, False, newest.id, _warnings_for(result, parsed, process_id)))
                continue
            if user is not None:
                require_editable(session, user, process_id)
            owner = owner_of(session, process_id) if newest is not None else organisations.home_organisation_id(session, user)
            files = sorted({parsed.process_files[p] for p in [process_id, *parsed.called_processes(process_id)] if p in parsed.process_files})
            start = next((ts for ts in bundle.spec.task_specs.values()
                          if type(ts).__name__ == "StartEvent" and getattr(ts, "bpmn_id", None)), None)
            version = ProcessVersion(
                process_id=process_id,
                name=parsed.process_names.get(process_id, process_id),
                version=(newest.version + 1) if newest else 1,
                content_hash=digest,
                source_file=parsed.process_files[process_id],
                sources={name: parsed.sources[name].decode("utf-8") for name in files},
                spec=core.host.spec_to_dict(bundle),
                forms={name: json.loads(data) for name, data in form_sources.items()},
                start_lane=getattr(start, "lane", None),
                deployed_at=clock.now(),
                deployed_by=by,
                note=note,
                organisation_id=owner,
            )
            session.add(version)
            session.flush()
            deployed.append(Deployed(process_id, version.version, True, version.id, _warnings_for(result, parsed, process_id)))
    return deployed


def _warnings_for(result: checks.Checked, parsed, process_id: str) -> list[dict]:
    files = {parsed.process_files[p] for p in [process_id, *parsed.called_processes(process_id)] if p in parsed.process_files}
    return [p.as_dict() for p in result.warnings if p.file in files]


def _form_names(bundle) -> set[str]:
    names = set()
    for task_spec in bundle.task_specs():
        props = task_properties(task_spec)
        names.update(v for k, v in props.items() if k in {SCHEMA_PROPERTY, UI_PROPERTY} and v)
    return names


def latest(session, process_id: str) -> ProcessVersion | None:
    """The newest deployed version of a process, or None."""
    return session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                          .order_by(ProcessVersion.version.desc()).limit(1))


def owner_of(session, process_id: str) -> int | None:
    """The organisation owning a deployed process (the installation's own for one deployed before organisations owned
    processes); None for a process not deployed yet."""
    newest = latest(session, process_id)
    if newest is None:
        return None
    return newest.organisation_id if newest.organisation_id is not None else organisations.default_organisation_id(session)


def require_editable(session, user: User, process_id: str) -> None:
    """Refuse a manager changing a process another organisation owns (a new process: any manager; issue 17)."""
    owner = owner_of(session, process_id)
    if permissions.can(user, "process.edit", owner, session):
        return
    permissions.require(user, "process.deploy")
    name = session.scalar(select(Organisation.name).where(Organisation.id == owner)) or "another organisation"
    raise Forbidden(f"The process '{process_id}' belongs to {name}: only its managers can change or deploy it. "
                    "To adapt it for your organisation, save it under a new process id and deploy that.")


def version_number(session, process_id: str, number: int) -> ProcessVersion:
    found = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id, ProcessVersion.version == number))
    if found is None:
        raise NotFound(f"Process '{process_id}' has no version {number}.")
    return found


def latest_version(session, process_id: str) -> ProcessVersion:
    version = latest(session, process_id)
    if version is None:
        raise NotFound(f"No process '{process_id}' is deployed. Deploy it with `apflow deploy`, or check the id in GET /api/v1/processes.")
    return version


def startable(core: Core, user: User) -> list[dict]:
    """The processes this person may start from the product ("New referral", "Approve a provider"): the newest
    version of each, where they hold the start lane's role; not those that only run as a stage of another
    process (planning, a review), which their parent starts."""
    with core.db.session(readonly=True) as session:
        newest = select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version")).group_by(ProcessVersion.process_id).subquery()
        versions = list(session.scalars(select(ProcessVersion).join(newest, (ProcessVersion.process_id == newest.c.process_id)
                                                                     & (ProcessVersion.version == newest.c.version)).order_by(ProcessVersion.name)))
        stages = {called for v in versions for called in core.bundle(v).subprocess_specs if called != v.process_id}
        return [{"id": v.process_id, "name": v.name, "about": (getattr(core.bundle(v).spec, "documentation", None) or "").strip()}
                for v in versions if v.process_id not in stages and permissions.can(user, "instance.start", v, session)]


def list_processes(core: Core) -> list[dict]:
    with core.db.session(readonly=True) as session:
        counts = dict(session.execute(select(Instance.process_version_id, func.count()).where(Instance.status != "completed")
                                      .group_by(Instance.process_version_id)).all())
        processes: dict[str, dict] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())):
            entry = processes.setdefault(version.process_id, {"id": version.process_id, "name": version.name,
                                                               "latest_version": version.version, "versions": []})
            entry["versions"].append({
                "version": version.version, "content_hash": version.content_hash, "deployed_at": version.deployed_at.isoformat(),
                "deployed_by": version.deployed_by, "note": version.note, "source_file": version.source_file,
                "active_instances": counts.get(version.id, 0),
            })
        return list(processes.values())


def problems_payload(problems: list[Problem]) -> list[dict]:
    return [p.as_dict() for p in problems]


def invalid_from(err: InvalidDiagram) -> Invalid:
    return Invalid("The diagram has problems; nothing was deployed.", {"problems": problems_payload(err.problems)})
