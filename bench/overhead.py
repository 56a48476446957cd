"""1. Overhead of apflow's service layer over SpiffWorkflow alone, completing one user task.

apflow: instances.complete_task on a fresh referral_triage instance (load the instance under its
lock, check the answers against the form, engine steps, write state + human tasks + timers +
events, commit, build the response).

Library: the same diagram with SpiffWorkflow only, in memory: deserialize the workflow JSON
(spec included) with BpmnWorkflowSerializer + SPIFF_CONFIG, complete the ready user task with
the same answers, do_engine_steps, serialize.

A third figure, "engine inside apflow", times only apflow's WorkflowHost load/complete/dump on
the stored state (sandboxed script engine, cached spec, no database): the difference to the
service figure is what the database, the ORM and the response cost.

Both sides start a fresh instance per iteration outside the timed region; the sides alternate
iteration by iteration so that machine noise hits both alike.
"""
from __future__ import annotations

import cProfile
import gc
import io
import pstats
import re
import time
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from apflow.services import instances
from apflow.store.models import Instance

from .common import (
    STANDARD_PEOPLE,
    START_DATA,
    TRIAGE,
    TRIAGE_ACCEPT,
    TRIAGE_BPMN,
    deploy_triage,
    fresh_database,
    make_core,
    make_users,
    say,
    summary,
    table,
)

_ISO = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.]+$|^\d{4}-\d{2}-\d{2}")


class LibraryOnly:
    """referral_triage run by SpiffWorkflow with nothing of apflow."""

    def __init__(self):
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(TRIAGE_BPMN))
        self.spec = parser.get_spec(TRIAGE)
        self.subprocess_specs = parser.get_subprocess_specs(TRIAGE)
        # The diagram writes timers as plain ISO 8601 (P2D), which SpiffWorkflow would evaluate as
        # Python; quoting them is the least change that lets the library run the file unaided.
        for task_spec in self.spec.task_specs.values():
            event = getattr(task_spec, "event_definition", None)
            if isinstance(event, TimerEventDefinition) and _ISO.match(event.expression.strip()):
                event.expression = repr(event.expression.strip())
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def started_json(self) -> str:
        """A freshly started instance, serialized with its spec (untimed set-up)."""
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs)
        workflow.get_tasks(state=TaskState.READY)[0].data.update(START_DATA)
        workflow.do_engine_steps()
        return self.serializer.serialize_json(workflow)

    def complete(self, state_json: str, answers: dict) -> str:
        """The timed unit: restore, complete the ready user task, run engine steps, serialize."""
        workflow = self.serializer.deserialize_json(state_json)
        task = next(t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask))
        task.set_data(**answers)
        task.run()
        workflow.do_engine_steps()
        assert workflow.completed, "the accepted referral should finish the process"
        return self.serializer.serialize_json(workflow)


def _start_and_task(core, user) -> tuple[int, str]:
    started = instances.start_instance(core, user, TRIAGE, START_DATA)
    [task] = instances.list_ready_tasks(core, user, started["id"])
    return started["id"], task["id"]


def _engine_inside_apflow(core, instance_id: int, task_id: str) -> float:
    """apflow's WorkflowHost alone on the stored state: load, complete, dump (no database)."""
    with core.db.session() as s:
        instance = s.get(Instance, instance_id)
        state, bundle = instance.state, core.bundle(instance.version)
    start = time.perf_counter()
    workflow = core.host.load(state, bundle)
    core.host.complete(workflow, task_id, TRIAGE_ACCEPT)
    core.host.dump(workflow)
    return time.perf_counter() - start


def run(db: str, workdir: Path, iterations: int) -> dict:
    url = fresh_database(db, workdir, "overhead")
    core = make_core(url, workdir, engine_processes=0)  # like for like with the library: the engine in this process (see pool.py)
    people = make_users(core, STANDARD_PEOPLE)
    deploy_triage(core)
    coord = people["coord"]
    library = LibraryOnly()

    service, lib, engine = [], [], []
    warmup = max(10, iterations // 20)
    for i in range(warmup + iterations):
        state_json = library.started_json()
        instance_id, task_id = _start_and_task(core, coord)
        engine_id, engine_task = _start_and_task(core, coord)
        if i % 100 == 0:
            gc.collect()  # now and then, outside the timing (a full collection costs ~20 ms here)

        t0 = time.perf_counter()
        library.complete(state_json, TRIAGE_ACCEPT)
        t_lib = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = instances.complete_task(core, coord, task_id, TRIAGE_ACCEPT)
        t_service = time.perf_counter() - t0
        assert result["instance"]["status"] == "completed", result["instance"]

        t_engine = _engine_inside_apflow(core, engine_id, engine_task)
        if i >= warmup:
            lib.append(t_lib)
            service.append(t_service)
            engine.append(t_engine)
    core.db.dispose()

    out = {"db": db, "iterations": iterations, "service_ms": summary(service), "library_ms": summary(lib),
           "engine_in_apflow_ms": summary(engine)}
    out["ratio"] = out["service_ms"]["p50"] / out["library_ms"]["p50"]
    out["engine_ratio"] = out["engine_in_apflow_ms"]["p50"] / out["library_ms"]["p50"]
    return out


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        for label, key in (("apflow complete_task (service)", "service_ms"), ("engine inside apflow (no DB)", "engine_in_apflow_ms"),
                           ("SpiffWorkflow alone", "library_ms")):
            rows.append([r["db"], label, r[key]["p50"], r[key]["p95"], r[key]["n"]])
    say(table(["db", "completing one user task", "p50 ms", "p95 ms", "n"], rows))
    for r in results:
        say(f"  {r['db']}: overhead ratio p50(service)/p50(library) = {r['ratio']:.2f}x (goal <= 2x on SQLite); "
            f"engine inside apflow / library = {r['engine_ratio']:.2f}x")


# Where the time of one completion goes: (label, object holding the function, attribute name).
PHASES = [
    ("instances._lock_and_read (lock; read the instance, the task and its siblings)", instances, "_lock_and_read"),
    ("instances._checked_answers (form check)", instances, "_checked_answers"),
    ("WorkflowHost.load (restore the workflow from JSON)", "host", "load"),
    ("WorkflowHost.complete (run the task + engine steps)", "host", "complete"),
    ("WorkflowHost.waiting_timers (before and after the step)", "host", "waiting_timers"),
    ("instances.persist (state + derived rows)", instances, "persist"),
    ("  WorkflowHost.dump (workflow to JSON)", "host", "dump"),
    ("  save_row (UPDATE of the instance and of the closed task)", instances, "save_row"),
    ("instances.instance_dict (the response's instance part)", instances, "instance_dict"),
    ("Session.commit (COMMIT)", Session, "commit"),
]


def breakdown(db: str, workdir: Path, iterations: int) -> dict:
    """Wall-clock time per completion inside the main steps of complete_task (timing wrappers, no profiler)."""
    url = fresh_database(db, workdir, "breakdown")
    core = make_core(url, workdir)
    coord = make_users(core, STANDARD_PEOPLE)["coord"]
    deploy_triage(core)
    pending = [_start_and_task(core, coord)[1] for _ in range(iterations + 10)]
    spent = {label: [0.0, 0] for label, _, _ in PHASES}
    saved = []
    for label, holder, name in PHASES:
        if holder == "host":
            holder = core.host
        elif holder == "deadlines":
            holder = getattr(instances, "deadlines", None)
        if holder is None or not hasattr(holder, name):
            continue
        original = getattr(holder, name)
        saved.append((holder, name, original, name in vars(holder)))

        def timed_call(*args, __original=original, __label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label][0] += time.perf_counter() - t0
                spent[__label][1] += 1

        setattr(holder, name, timed_call)
    total = 0.0
    try:
        for n, task_id in enumerate(pending):
            if n == 10:
                for value in spent.values():
                    value[:] = [0.0, 0]
                total = 0.0
            t0 = time.perf_counter()
            instances.complete_task(core, coord, task_id, TRIAGE_ACCEPT)
            total += time.perf_counter() - t0
    finally:
        for holder, name, original, own in saved:
            if own:
                setattr(holder, name, original)
            else:
                delattr(holder, name)
        core.db.dispose()
    per = {label: {"ms": value[0] / iterations * 1000, "calls": value[1] / iterations} for label, value in spent.items() if value[1]}
    return {"db": db, "iterations": iterations, "total_ms": total / iterations * 1000, "phases": per}


def report_breakdown(results: list[dict]) -> None:
    for r in results:
        rows = [[label, v["calls"], v["ms"], 100 * v["ms"] / r["total_ms"]] for label, v in r["phases"].items()]
        rows.append(["complete_task in all", 1.0, r["total_ms"], 100.0])
        say(f"-- {r['db']}: where one completion's time goes (mean of {r['iterations']}) --")
        say(table(["step", "calls", "ms", "% of total"], rows))


def profile(db: str, workdir: Path, iterations: int, top: int = 30) -> str:
    """cProfile of the service-layer completion (iterations of complete_task only)."""
    url = fresh_database(db, workdir, "profile")
    core = make_core(url, workdir)
    coord = make_users(core, STANDARD_PEOPLE)["coord"]
    deploy_triage(core)
    pending = [_start_and_task(core, coord)[1] for _ in range(iterations + 10)]
    for task_id in pending[:10]:
        instances.complete_task(core, coord, task_id, TRIAGE_ACCEPT)
    profiler = cProfile.Profile()
    profiler.enable()
    for task_id in pending[10:]:
        instances.complete_task(core, coord, task_id, TRIAGE_ACCEPT)
    profiler.disable()
    core.db.dispose()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    buffer.write("\n---- by own time ----\n")
    stats.sort_stats("tottime").print_stats(top)
    return _trim(buffer.getvalue())


def _trim(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(("Ordered by", "   List reduced")))
