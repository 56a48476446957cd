"""7. What running the diagram's code in worker processes costs one step (apflow/engine/workers.py).

Two figures, each taken with the two ways alternating iteration by iteration so that machine noise hits both:

- service: instances.complete_task on a fresh referral_triage instance, with the engine in worker processes
  (APFLOW_ENGINE_PROCESSES=2, the default) and in the web process (0). On SQLite the pooled step is worked out
  with no transaction open and written in a second one (no write lock is held while diagram code runs), so
  this figure includes that second transaction as well as the trip to the worker.
- engine: start + complete of the same diagram through the runner alone, no database: WorkflowHost.run_step
  in this process against EnginePool.run (pickle the state to a warm worker, restore it onto the worker's
  cached spec, run, answer as JSON, read the answer back); and the worker again after this process has done
  BUSY_MS of other work before each step (untimed), as a web process does between steps: the worker has
  then been idle that long and answers later.
"""
from __future__ import annotations

import gc
import time
from pathlib import Path

from apflow.engine.diagrams import parse_sources
from apflow.engine.workers import Engine, EnginePool, WorkerSetup

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
from .overhead import _start_and_task

BUSY_MS = 6.0  # other work this process does before a step in the "after busy" variant (about a request's own work)


def _busy(ms: float) -> None:
    """Keep this process working (plain Python, as a request does) for ms milliseconds."""
    until = time.perf_counter() + ms / 1000
    while time.perf_counter() < until:
        sorted(str(n) for n in range(200))


def run(db: str, workdir: Path, iterations: int) -> dict:
    url = fresh_database(db, workdir, "pool")
    pooled = make_core(url, workdir, engine_processes=2)
    local = make_core(url, workdir, engine_processes=0)
    people = make_users(pooled, STANDARD_PEOPLE)
    deploy_triage(pooled)
    coord = people["coord"]
    times = {"pooled": [], "local": []}
    warmup = max(10, iterations // 20)
    for i in range(warmup + iterations):
        tasks = {name: _start_and_task(pooled, coord)[1] for name in times}
        if i % 100 == 0:
            gc.collect()
        order = ("pooled", "local") if i % 2 else ("local", "pooled")
        for name in order:
            core = pooled if name == "pooled" else local
            t0 = time.perf_counter()
            result = _complete(core, coord, tasks[name])
            spent = time.perf_counter() - t0
            assert result["instance"]["status"] == "completed", result["instance"]
            if i >= warmup:
                times[name].append(spent)
    pooled.db.dispose()
    local.db.dispose()
    out = {"db": db, "iterations": iterations, "pooled_ms": summary(times["pooled"]), "local_ms": summary(times["local"])}
    out["overhead_ms"] = out["pooled_ms"]["p50"] - out["local_ms"]["p50"]
    out["ratio"] = out["pooled_ms"]["p50"] / out["local_ms"]["p50"]
    return out


def _complete(core, user, task_id):
    from apflow.services import instances

    return instances.complete_task(core, user, task_id, TRIAGE_ACCEPT)


def engine_only(iterations: int) -> dict:
    """The runner alone (no database): start + complete referral_triage in this process and in a warm worker."""
    source = TRIAGE_BPMN.read_bytes()
    bundle = parse_sources({TRIAGE_BPMN.name: source}).bundle(TRIAGE)
    local = Engine(make_host())
    spec = local.host.spec_to_dict(bundle)
    pool = EnginePool(WorkerSetup(None, {}, 1.0), workers=1)
    pool.warm_up()
    times = {"pooled": [], "local": [], "pooled_after_busy": []}
    try:
        warmup = max(10, iterations // 20)
        for i in range(warmup + iterations):
            order = ("pooled", "local") if i % 2 else ("local", "pooled")
            for name in (*order, "pooled_after_busy"):
                if name == "pooled_after_busy":
                    _busy(BUSY_MS)
                t0 = time.perf_counter()
                if name != "local":
                    started = pool.run("triage", lambda: spec, None, {"kind": "start", "data": START_DATA})
                    [task] = started.ready
                    pool.run("triage", lambda: spec, started.state, {"kind": "complete", "task_id": task.id, "data": TRIAGE_ACCEPT})
                else:
                    started = local.run("triage", None, lambda: bundle, None, {"kind": "start", "data": START_DATA})
                    [task] = started.ready
                    local.run("triage", None, lambda: bundle, started.state, {"kind": "complete", "task_id": task.id, "data": TRIAGE_ACCEPT})
                if i >= warmup:
                    times[name].append(time.perf_counter() - t0)
    finally:
        pool.close()
    out = {"iterations": iterations, "pooled_ms": summary(times["pooled"]), "local_ms": summary(times["local"]),
           "pooled_after_busy_ms": summary(times["pooled_after_busy"]), "busy_ms": BUSY_MS}
    out["overhead_ms"] = out["pooled_ms"]["p50"] - out["local_ms"]["p50"]
    return out


def make_host():
    from apflow.engine.runtime import WorkflowHost

    return WorkflowHost()


def report(results: list[dict], engine: dict) -> None:
    rows = [[r["db"], "complete_task, engine in worker processes", r["pooled_ms"]["p50"], r["pooled_ms"]["p95"], r["pooled_ms"]["n"]]
            for r in results]
    rows += [[r["db"], "complete_task, engine in the web process", r["local_ms"]["p50"], r["local_ms"]["p95"], r["local_ms"]["n"]]
             for r in results]
    rows += [["-", "start + complete, runner only: worker", engine["pooled_ms"]["p50"], engine["pooled_ms"]["p95"], engine["pooled_ms"]["n"]],
             ["-", "start + complete, runner only: in process", engine["local_ms"]["p50"], engine["local_ms"]["p95"], engine["local_ms"]["n"]],
             ["-", f"same, worker, this process busy {engine['busy_ms']:g} ms before each step", engine["pooled_after_busy_ms"]["p50"],
              engine["pooled_after_busy_ms"]["p95"], engine["pooled_after_busy_ms"]["n"]]]
    say(table(["db", "one step", "p50 ms", "p95 ms", "n"], rows))
    for r in results:
        say(f"  {r['db']}: worker processes add {r['overhead_ms']:.2f} ms to a completion (p50), {r['ratio']:.2f}x")
    say(f"  runner only: {engine['overhead_ms']:.2f} ms per start + complete (two trips to a worker)")
