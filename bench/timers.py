"""3. Timers: many timers falling due at the same moment, fired by one or two `apflow scheduler`
processes, in real time.

The diagram (written to a temp dir and deployed): a coordinator task with a non-interrupting
boundary timer whose date comes from the process data (`fire_at`); when it fires, a "Chase" task
appears for the headteacher, as in referral_triage. One instance is started through the service
layer with a far-future date, copied N times (common.clone_instances), and the schedulers are
started. Then one UPDATE moves every copy's date (in the workflow state and in pending_timers) to
T = a couple of seconds ahead, and the clock runs: the schedulers' sweep (APFLOW_SWEEP_SECONDS=0.5)
sees the new due time, arms their wake-up and fire.

Measured from the events table: lateness of each firing (`late_seconds`, due time to the moment the
firing transaction began), the time from T until the last timer fired, timers per second, and
every instance's count of timer_fired events (each must be exactly 1).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, select, text

from apflow.services import instances, processes
from apflow.store.models import Event, HumanTask, Instance

from .common import (
    clone_instances,
    env_for,
    fresh_database,
    make_core,
    make_users,
    percentile,
    read_template,
    reading,
    say,
    stop_processes,
    table,
)

PROCESS = "bench_timer"
SENTINEL = "2099-01-01T00:00:00+00:00"
SWEEP_SECONDS = 0.5
LEAD_SECONDS = 0.6  # how far ahead of "now" the timers are set once everything is running (> 1 sweep)

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="Defs_bench_timer" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench_timer" name="Benchmark timer" isExecutable="true">
    <bpmn:laneSet id="LaneSet_bench">
      <bpmn:lane id="Lane_coord" name="AP Coordinator">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_wait</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Timer_due</bpmn:flowNodeRef><bpmn:flowNodeRef>End_done</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_head" name="Headteacher">
        <bpmn:flowNodeRef>Task_chase</bpmn:flowNodeRef><bpmn:flowNodeRef>End_chased</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_wait" name="Wait for the review">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="chase_triage.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Timer_due" name="Review due" cancelActivity="false" attachedToRef="Task_wait">
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">fire_at</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Task_chase" name="Chase the review">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="chase_triage.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_3</bpmn:incoming><bpmn:outgoing>Flow_4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End_done"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_chased"><bpmn:incoming>Flow_4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_wait" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_wait" targetRef="End_done" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Timer_due" targetRef="Task_chase" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_chase" targetRef="End_chased" />
  </bpmn:process>
</bpmn:definitions>
"""


def _launch_schedulers(url: str, workdir: Path, count: int) -> list[tuple[subprocess.Popen, Path]]:
    env = env_for(url, workdir, APFLOW_SWEEP_SECONDS=SWEEP_SECONDS, APFLOW_RUN_SCHEDULER="false")
    procs = []
    for n in range(count):
        log = workdir / f"scheduler-{n}.log"
        with log.open("w") as handle:
            proc = subprocess.Popen([sys.executable, "-m", "apflow", "scheduler"], env=env, stdout=handle,
                                    stderr=subprocess.STDOUT, cwd=workdir)
        procs.append((proc, log))
    return procs


def _wait_running(procs) -> None:
    deadline = time.monotonic() + 60
    for proc, log in procs:
        while "scheduler running" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the scheduler did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)


def _stop(procs) -> list[str]:
    """Stop the schedulers (SIGTERM, as an operator would) and return error lines from their logs."""
    return stop_processes(procs, 20)


def _fired_count(core) -> int:
    with reading(core) as s:
        return s.scalar(text("SELECT count(*) FROM events WHERE kind = 'timer_fired'"))


def _move_due_time(core, due: datetime) -> None:
    """One transaction: every copy's timer date, in its workflow state and in pending_timers."""
    iso = due.isoformat()
    with core.db.session() as s:
        if core.db.is_sqlite:
            s.execute(text("UPDATE instances SET state = replace(state, :old, :new)"), {"old": SENTINEL, "new": iso})
        else:
            s.execute(text("UPDATE instances SET state = replace(state::text, :old, :new)::json"), {"old": SENTINEL, "new": iso})
        s.execute(text("UPDATE pending_timers SET due_at = :due"), {"due": due if not core.db.is_sqlite else due.replace(tzinfo=None)})


def run(db: str, workdir: Path, count: int, schedulers: int) -> dict:
    work = workdir / f"timers-{db}-{schedulers}"
    work.mkdir(parents=True, exist_ok=True)
    url = fresh_database(db, work, "timers")
    # The schedulers boot (imports, start-up sweep on an empty table) while the placements are made.
    procs = _launch_schedulers(url, work, schedulers)
    try:
        core = make_core(url, work)
        coord = make_users(core, {"coord": ["coordinator"], "head": ["headteacher"]})["coord"]
        diagram = work / "bench_timer.bpmn"
        diagram.write_text(DIAGRAM)
        processes.deploy_paths(core, [diagram], by="bench", note="timer benchmark")

        template_id = instances.start_instance(core, coord, PROCESS, {"fire_at": SENTINEL})["id"]
        template = read_template(core, template_id)
        assert SENTINEL in template.state_text, "the timer date should be in the workflow state"
        with core.db.session() as s:
            s.execute(delete(Instance).where(Instance.id == template_id))
        t0 = time.perf_counter()
        ids = clone_instances(core, template, count, timer_due=datetime.fromisoformat(SENTINEL))
        load_s = time.perf_counter() - t0
        _wait_running(procs)
    except BaseException:
        _stop(procs)
        raise

    problems: list[str] = []
    try:
        due = datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS + count / 5_000)  # + time for the UPDATE
        _move_due_time(core, due)
        margin = (due - datetime.now(timezone.utc)).total_seconds()
        if margin < SWEEP_SECONDS:
            problems.append(f"the due time was set only {margin:.2f}s ahead (less than one sweep)")
        limit = time.monotonic() + (due - datetime.now(timezone.utc)).total_seconds() + 60 + count / 10
        last, last_change = -1, time.monotonic()
        while time.monotonic() < limit:
            fired = _fired_count(core)
            if fired >= count:
                break
            if fired != last:
                last, last_change = fired, time.monotonic()
            elif time.monotonic() - last_change > 30 and datetime.now(timezone.utc) > due:
                problems.append(f"no progress for 30 s at {fired} of {count} timers")
                break
            time.sleep(0.25)
        time.sleep(SWEEP_SECONDS + 0.1)  # another sweep after the last firing: a duplicate would show now
    finally:
        problems += _stop(procs)

    with reading(core) as s:
        fired_events = s.execute(select(Event.instance_id, Event.at, Event.detail).where(Event.kind == "timer_fired")).all()
        errors = s.scalar(text("SELECT count(*) FROM events WHERE kind = 'error'"))
        chase_ready = s.scalar(select(text("count(*)")).select_from(HumanTask).where(
            HumanTask.state == "ready", HumanTask.spec_id == "Task_chase"))
        pending_left = s.scalar(text("SELECT count(*) FROM pending_timers"))
    core.db.dispose()

    per_instance = Counter(row.instance_id for row in fired_events)
    late = [float((row.detail if isinstance(row.detail, dict) else json.loads(row.detail))["late_seconds"]) for row in fired_events]
    ats = sorted(row.at for row in fired_events)
    drain = (ats[-1] - due).total_seconds() if ats else float("nan")
    spread = (ats[-1] - ats[0]).total_seconds() if len(ats) > 1 else float("nan")
    return {
        "db": db, "schedulers": schedulers, "timers": count, "load_seconds": load_s,
        "fired": len(fired_events), "instances_fired": len(per_instance),
        "fired_twice": sum(1 for c in per_instance.values() if c > 1),
        "never_fired": len(set(ids) - set(per_instance)),
        "error_events": errors, "chase_tasks_ready": chase_ready, "pending_timers_left": pending_left,
        "all_fired_after_s": drain, "first_to_last_s": spread,
        "timers_per_second": len(fired_events) / drain if drain and drain > 0 else float("nan"),
        "lateness_s": {"p50": percentile(late, 50), "p95": percentile(late, 95), "max": max(late) if late else float("nan")},
        "problems": problems,
    }


def report(results: list[dict]) -> None:
    rows = [[r["db"], r["schedulers"], r["timers"], r["fired"], r["fired_twice"], r["never_fired"], r["all_fired_after_s"],
             r["timers_per_second"], r["lateness_s"]["p50"], r["lateness_s"]["p95"], r["lateness_s"]["max"]] for r in results]
    say(table(["db", "schedulers", "timers", "fired", "fired twice", "never fired", "all fired after s", "timers/s",
               "late p50 s", "late p95 s", "late max s"], rows))
    for r in results:
        if r["problems"] or r["error_events"] or r["chase_tasks_ready"] != r["timers"]:
            say(f"  {r['db']} x{r['schedulers']}: error events {r['error_events']}, chase tasks ready {r['chase_tasks_ready']}, "
                f"pending timers left {r['pending_timers_left']}")
            for line in r["problems"][:10]:
                say(f"    {line}")
