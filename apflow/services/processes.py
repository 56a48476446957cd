"""Deployed processes: validate and deploy diagrams as immutable versions, list them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from apflow.clock import clock
from apflow.engine import validate as checks
from apflow.engine.diagrams import task_properties
from apflow.engine.forms import SCHEMA_PROPERTY, UI_PROPERTY
from apflow.engine.problems import InvalidDiagram, Problem
from apflow.errors import Invalid, NotFound
from apflow.store.models import Instance, ProcessVersion, User

from . import permissions, records
from .core import Core


@dataclass
class Deployed:
    process_id: str
    version: int
    created: bool
    version_id: int


def check_sources(core: Core, bpmn: dict[str, bytes], extra_forms: dict[str, bytes] | None = None,
                  form_overrides: dict[str, bytes] | None = None) -> checks.Checked:
    """The checks every diagram passes before it can run, with this installation's forms folder, size limit
    and the kinds of record its steps may write."""
    return checks.check(bpmn, core.settings.forms_dir, extra_forms, core.settings.max_diagram_bytes, form_overrides,
                        record_kinds=records.KNOWN_KINDS)


def check_paths(core: Core, paths: list[Path]) -> tuple[checks.Checked, dict[str, bytes]]:
    bpmn, forms, problems = checks.collect(paths)
    result = check_sources(core, bpmn, forms)
    result.problems = problems + result.problems
    if not bpmn and not forms and not problems:
        result.problems.append(Problem(", ".join(map(str, paths)), None, "No .bpmn or .json files found.", "Name diagram files or folders holding them."))
    return result, bpmn


def deploy_paths(core: Core, paths: list[Path], by: str, note: str = "") -> list[Deployed]:
    result, bpmn = check_paths(core, paths)
    if result.problems:
        raise InvalidDiagram(result.problems)
    return deploy_checked(core, result, by, note)


def deploy_sources(core: Core, bpmn: dict[str, bytes], by: str, note: str = "") -> list[Deployed]:
    result = check_sources(core, bpmn)
    if result.problems:
        raise InvalidDiagram(result.problems)
    return deploy_checked(core, result, by, note)


def deploy_checked(core: Core, result: checks.Checked, by: str, note: str) -> list[Deployed]:
    """Store a new version of each process whose files or forms changed; an unchanged one is left alone."""
    parsed = result.parsed
    deployed: list[Deployed] = []
    with core.db.session() as session:
        for process_id in parsed.process_ids:
            bundle = parsed.bundle(process_id)
            form_sources = {name: data for name, data in result.forms.items() if name in _form_names(bundle)}
            digest = parsed.version_hash(process_id, form_sources)
            newest = latest(session, process_id)
            if newest is not None and newest.content_hash == digest:
                deployed.append(Deployed(process_id, newest.version, False, newest.id))
                continue
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
            )
            session.add(version)
            session.flush()
            deployed.append(Deployed(process_id, version.version, True, version.id))
    return deployed


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
                for v in versions if v.process_id not in stages and permissions.can(user, "instance.start", v)]


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
