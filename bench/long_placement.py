"""16. Long placements (issue 18, point 3): does a placement that has run a school year cost more per step than one on
its first day, and does its stored workflow state stay bounded?

One database holds the lifecycle diagrams (bpmn/), the demo term dates, one person per role and an approved provider
(the scenario tests' driver, tests/scenarios/conftest.py, gives the believable answers). The "old" placement is
referred, planned, commissioned and started on Monday 8 September 2025, then driven through the services day by day
with the app clock moved (no sleeps) for a school year (365 days by default): each day at 08:30 the scheduler's minute
checks run (registers laid out, follow-ups, patterns) and due timers fire; at 15:00 the provider marks the day's
register (one absence every ninth school day, so the absence follow-up loop runs) and the checks run again; every
ready task is completed (half-termly and termly reviews, assessments, updates, feedback, absence follow-ups, passport
reviews); at 16:00 due timers fire again. The stored state's bytes are taken after day 1, after the first term and at
the end.

Then a "fresh" placement (another pupil) is started on the same date, and both are driven side by side through the
measurement window (default 9 weeks, so a half-term's timers fall due in both), the two taken in alternating order
each day, with the same steps for both: the day's register with an absence for each, the absence signal
(registers.follow_up_absences), each Monday a parent's review request (placements.request_review), left until its
deadline passes so the review's timer fires, and every task that is ready completed. Timed, per placement: every
completion (instances.complete_task), every signal, every timer firing (instances.fire_instance_timers when one is due).
The per-step ratio is p50(old) / p50(fresh) over the same kinds of step (completions of the task names both did).

Printed: the ratios, the state's bytes at each point and what fills it (tasks in the top-level tree and in each
subprocess, by state, and the task specs repeated most). `python -m bench --only long_placement` (or
`python -m bench.long_placement --db sqlite --days 365 --window-days 63`).
"""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from apflow.clock import clock
from apflow.config import ROOT
from apflow.errors import WorkflowFailed
from apflow.placements.models import Placement
from apflow.services import calendars, instances, processes, registers, watches
from apflow.services import placements as placement_service
from apflow.store.models import HumanTask, Instance, PendingTimer

from .common import fresh_database, make_core, percentile, reading, say, summary, table

FIRST_DAY = date(2025, 9, 8)  # a Monday early in the autumn term of the demo calendar
TERM_END = date(2025, 12, 19)  # the autumn term's last day (apflow/data/terms-2025-2027.csv)
ABSENT_EVERY = 9  # school days, during the year
REVIEW_REASON = "Her needs have changed since the last review."


def _scenario():
    """The scenario tests' driver and answers (imported here so `python -m bench` runs without them unless asked)."""
    from tests.scenarios import conftest as scenario
    from tests.support import make_user

    return scenario, make_user


class Drive:
    """Placements moved through the services with the app clock; every timed step lands in samples[label]."""

    def __init__(self, core, measure: bool = False):
        scenario, make_user = _scenario()
        self.core, self.scenario = core, scenario
        calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="bench")
        processes.deploy_paths(core, [ROOT / "bpmn" / f"{name}.bpmn" for name in scenario.LIFECYCLE], by="bench")
        cast = getattr(scenario.cast, "__wrapped__", None)  # the scenario tests' own cast (fixture), so the bench follows it
        self.people = cast(core) if cast else {role: make_user(core, name, role) for role, name in [
            ("coordinator", "coord"), ("headteacher", "head"), ("dsl", "dsl"), ("senco", "senco"), ("provider", "tutor"),
            ("la_officer", "la1"), ("parent", "parent1"), ("pupil", "pupil1"), ("manager", "boss")]}
        self.life = scenario.Lifecycle(core, self.people, clock)
        self.calendar = core.calendar()
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.steps: Counter = Counter()
        self.failures: list[str] = []
        self.monthly: list[float] = []  # every step's seconds since the last progress line

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        clock.freeze(datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc))

    def _time(self, label: str | None, kind: str, fn, *args):
        """Run and time one step; a step that fails is recorded (with its time) and the drive goes on."""
        start = time.perf_counter()
        try:
            result = fn(*args)
        except WorkflowFailed as err:
            self.failures.append(f"{clock.now():%Y-%m-%d %H:%M} {label or 'old'} {kind}: {err} "
                                 f"(after {time.perf_counter() - start:.1f} s)")
            return None
        elapsed = time.perf_counter() - start
        if label:
            self.samples.setdefault(label, {}).setdefault(kind, []).append(elapsed)
        self.monthly.append(elapsed)
        return result

    def start(self, pupil: str, ref: str) -> tuple[int, int]:
        """A placement through referral, planning, commissioning, start, commencement and baseline: (instance, placement)."""
        iid = self.life.active_placement(pupil_name=pupil, pupil_ref=ref)
        self.life.to_running(iid)
        return iid, self.life.placement_id(iid)

    def fire(self, iid: int, label: str | None) -> None:
        with reading(self.core) as s:
            due = s.scalar(select(PendingTimer.id).where(PendingTimer.instance_id == iid, PendingTimer.due_at <= clock.now(),
                                                         PendingTimer.attempts == 0).limit(1))
        if due:
            self._time(label, "timer", instances.fire_instance_timers, self.core, iid)
            self.steps["timer"] += 1
            with reading(self.core) as s:
                failed = s.scalar(select(PendingTimer.id).where(PendingTimer.instance_id == iid, PendingTimer.attempts > 0).limit(1))
            if failed:
                self.failures.append(f"{clock.now():%Y-%m-%d %H:%M} instance {iid}: a timer failed: {self.last_error(iid)}")

    def last_error(self, iid: int) -> str:
        with reading(self.core) as s:
            return str(s.scalar(select(Instance.error_message).where(Instance.id == iid)) or "")

    def work(self, iid: int, label: str | None, hold_reviews: bool = False) -> None:
        """Complete every task ready on the instance (a requested review's "Hold" waits for its timer when asked)."""
        for _ in range(50):
            ready = [t for t in self.life.tasks(iid)
                     if not (hold_reviews and t["name"] == "Hold the placement review" and not self._overdue(t))]
            if not ready:
                return
            task = ready[0]
            form = self.scenario._form_name(self.core, task["id"])
            data = self.scenario.answers(form) if form else {}
            if self._time(label, f"complete: {task['name']}", instances.complete_task, self.core, self.life.who(task), task["id"], data) is None:
                return  # failed (recorded): the task stays ready
            self.steps["complete"] += 1

    def _overdue(self, task: dict) -> bool:
        return bool(task.get("due_at")) and datetime.fromisoformat(task["due_at"]) < clock.now()

    def register(self, pid: int, day: date, absent: bool) -> None:
        rows = [r for r in registers.provider_day(self.core, self.people["provider"], day)["rows"]
                if r["placement_id"] == pid and r["status"] is None]
        if rows:
            registers.record_marks(self.core, self.people["provider"], [
                {"placement_id": pid, "day": r["day"], "starts": r["starts"], "status": "absent" if absent else "present",
                 **({"reason": "unknown"} if absent else {})} for r in rows])

    def signal(self, pid: int, label: str | None) -> None:
        if self._time(label, "signal: absence reported", registers.follow_up_absences, self.core, pid):
            self.steps["signal"] += 1

    def day(self, day: date, placements: list[tuple[int, int]], labels: list[str | None], absent: bool, review: bool,
            hold_reviews: bool = False) -> None:
        """One day for every placement given, in the order given."""
        school = self.calendar.is_school_day(day)
        self.at(day, 8, 30)
        for (iid, _), label in zip(placements, labels):  # timers first: a step run by a check would fire them on its way
            self.fire(iid, label)
        watches.run_all(self.core)
        if review and school:
            for (iid, pid), label in zip(placements, labels):
                self._time(label, "signal: review requested", placement_service.request_review, self.core, self.people["parent"],
                           pid, REVIEW_REASON)
        for (iid, _), label in zip(placements, labels):
            self.work(iid, label, hold_reviews)
        self.at(day, 15)
        for (iid, _), label in zip(placements, labels):
            self.fire(iid, label)
        if school:
            for (iid, pid), label in zip(placements, labels):
                self.register(pid, day, absent)
                self.signal(pid, label)
        watches.run_all(self.core)
        for (iid, _), label in zip(placements, labels):
            self.work(iid, label, hold_reviews)
        self.at(day, 16)
        for (iid, _), label in zip(placements, labels):
            self.fire(iid, label)
            self.work(iid, label, hold_reviews)


def state_of(core, iid: int) -> dict:
    with reading(core) as s:
        return s.scalar(select(Instance.state).where(Instance.id == iid))


def anatomy(state: dict) -> dict:
    """Bytes of the stored state and what fills it: tasks per state, in the top tree and in subprocesses."""
    def count(tasks: dict) -> Counter:
        return Counter(_state_name(t.get("state")) for t in tasks.values())

    subs = state.get("subprocesses", {}) or {}
    specs = Counter(t.get("task_spec") for t in state.get("tasks", {}).values())
    for sub in subs.values():
        specs.update(t.get("task_spec") for t in sub.get("tasks", {}).values())
    return {"bytes": len(json.dumps(state, separators=(",", ":"))), "tasks": len(state.get("tasks", {})),
            "tasks_by_state": dict(count(state.get("tasks", {}))), "subprocesses": len(subs),
            "subprocess_tasks": sum(len(s.get("tasks", {})) for s in subs.values()),
            "subprocess_tasks_by_state": dict(sum((count(s.get("tasks", {})) for s in subs.values()), Counter())),
            "data_bytes": len(json.dumps(state.get("data", {}), separators=(",", ":"))),
            "task_data_bytes": sum(len(json.dumps(t.get("data", {}), separators=(",", ":"))) for t in state.get("tasks", {}).values()),
            "most_repeated": specs.most_common(6)}


def _state_name(value) -> str:
    from SpiffWorkflow.util.task import TaskState

    try:
        return TaskState.get_name(int(value))
    except (TypeError, ValueError):
        return str(value)


def run(db: str, workdir: Path, days: int = 365, window_days: int = 63, state_file: Path | None = None,
        keep_finished: bool = False, in_process: bool = False) -> dict:
    """keep_finished: store finished subprocesses as before engine/prune.py (for a before/after comparison; the engine
    then runs in this process, where the change can be undone, and so should the run it is compared with)."""
    overrides = {"engine_processes": 0} if in_process else {}
    if keep_finished:
        from apflow.engine import runtime

        runtime.drop_finished_subprocesses = lambda state: state
        overrides["engine_processes"] = 0
    core = make_core(fresh_database(db, workdir, "long_placement", schema="bench_long_placement"), workdir, **overrides)
    began = time.monotonic()
    try:
        clock.freeze(datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 8, 0, tzinfo=timezone.utc))
        drive = Drive(core)
        drive.scenario.seed_approved_provider(core)
        old = drive.start("Jordan T.", "P-0001")
        sizes = {}
        school_days = 0
        for k in range(days):
            day = FIRST_DAY + timedelta(days=k)
            school_days += drive.calendar.is_school_day(day)
            drive.day(day, [old], [None], absent=drive.calendar.is_school_day(day) and school_days % ABSENT_EVERY == 0, review=False)
            if k == 0:
                sizes["day 1"] = anatomy(state_of(core, old[0]))
            if day == TERM_END:
                sizes[f"a term ({day:%d %b %Y})"] = anatomy(state_of(core, old[0]))
            if day.day == 1 or k == days - 1:  # progress: the month's steps and the state's size
                say(f"  {day:%d %b %Y}: state {len(json.dumps(state_of(core, old[0]))):,} bytes; {len(drive.monthly)} steps since "
                    f"the last line, p50 {percentile(drive.monthly, 50) * 1000:.0f} ms, max {max(drive.monthly, default=0) * 1000:.0f} ms; "
                    f"{len(drive.failures)} failed so far")
                drive.monthly.clear()
        sizes[f"the end ({days} days, {FIRST_DAY + timedelta(days=days - 1):%d %b %Y})"] = anatomy(state_of(core, old[0]))
        year_steps = dict(drive.steps)
        year_seconds = time.monotonic() - began
        year_failures = list(drive.failures)
        if state_file:
            state_file.write_text(json.dumps(state_of(core, old[0])))

        window_start = FIRST_DAY + timedelta(days=days)
        drive.at(window_start, 8, 0)
        fresh = drive.start("Amir H.", "P-0002")
        fresh_sizes = {"day 1": anatomy(state_of(core, fresh[0]))}
        drive.samples.clear()
        for k in range(window_days):
            day = window_start + timedelta(days=k)
            pair, labels = ([old, fresh], ["old", "fresh"]) if k % 2 == 0 else ([fresh, old], ["fresh", "old"])
            drive.day(day, pair, labels, absent=True, review=day.weekday() == 0, hold_reviews=True)
        sizes["after the window"] = anatomy(state_of(core, old[0]))
        fresh_sizes[f"after the window ({window_days} days)"] = anatomy(state_of(core, fresh[0]))
        with reading(core) as s:
            events = {iid: s.scalar(select(Instance.status).where(Instance.id == iid)) for iid, _ in (old, fresh)}
            ready = {iid: len(s.scalars(select(HumanTask.id).where(HumanTask.instance_id == iid, HumanTask.state == "ready")).all())
                     for iid, _ in (old, fresh)}
            placement_status = {pid: s.scalar(select(Placement.status).where(Placement.id == pid)) for _, pid in (old, fresh)}
    finally:
        clock.reset()
        core.db.dispose()
    result = _result(db, drive, days, window_days, sizes, fresh_sizes, year_steps, year_seconds, year_failures, events, ready,
                     placement_status, old, fresh)
    result.update(finished_subprocesses_kept=keep_finished, engine_in_process=bool(overrides))
    return result


def _result(db, drive, days, window_days, sizes, fresh_sizes, year_steps, year_seconds, year_failures, status, ready,
            placement_status, old, fresh) -> dict:
    old_s, fresh_s = drive.samples.get("old", {}), drive.samples.get("fresh", {})
    kinds = sorted(set(old_s) & set(fresh_s))
    by_kind = {k: {"old": summary(old_s[k]), "fresh": summary(fresh_s[k])} for k in kinds}

    def pooled(prefix):
        names = [k for k in kinds if k.startswith(prefix)]
        o = [x for k in names for x in old_s[k]]
        f = [x for k in names for x in fresh_s[k]]
        return {"old": summary(o), "fresh": summary(f), "ratio": percentile(o, 50) / percentile(f, 50) if o and f else float("nan")}

    steps = {"complete": pooled("complete: "), "timer": pooled("timer"), "signal": pooled("signal: ")}
    # like for like per completion: the median over task names of p50(old)/p50(fresh)
    per_name = [by_kind[k]["old"]["p50"] / by_kind[k]["fresh"]["p50"] for k in kinds if k.startswith("complete: ")]
    steps["complete"]["ratio_median_of_names"] = percentile(per_name, 50) if per_name else float("nan")
    return {"db": db, "days": days, "window_days": window_days, "year_steps": year_steps, "year_seconds": year_seconds,
            "sizes": sizes, "fresh_sizes": fresh_sizes, "steps": steps, "by_kind": by_kind,
            "only_old": sorted(set(old_s) - set(fresh_s)), "only_fresh": sorted(set(fresh_s) - set(old_s)),
            "failures": year_failures + [f for f in drive.failures if f not in year_failures],
            "status": {"old": status[old[0]], "fresh": status[fresh[0]]}, "ready_at_end": {"old": ready[old[0]], "fresh": ready[fresh[0]]},
            "placement_status": {"old": placement_status[old[1]], "fresh": placement_status[fresh[1]]},
            "per_step_ratio": max((steps[k]["ratio"] for k in ("complete", "timer") if steps[k]["ratio"] == steps[k]["ratio"]), default=float("nan")),
            "state_bytes_year": list(sizes.values())[-2]["bytes"], "state_bytes_day1": sizes["day 1"]["bytes"]}


def report(results: list[dict]) -> None:
    for r in results:
        how = ("finished subprocesses kept (as before engine/prune.py)" if r.get("finished_subprocesses_kept") else "finished subprocesses pruned") \
            + (", engine in this process" if r.get("engine_in_process") else ", engine in worker processes")
        say(f"\n{r['db']} ({how}): {r['days']} days driven in {r['year_seconds']:.0f} s ({r['year_steps']}); instance status old/fresh "
            f"{r['status']['old']}/{r['status']['fresh']}, placements {r['placement_status']['old']}/{r['placement_status']['fresh']}, "
            f"ready tasks at the end {r['ready_at_end']['old']}/{r['ready_at_end']['fresh']}")
        rows = []
        for key, words in (("complete", "complete a task (every completion)"), ("timer", "fire a timer"),
                           ("signal", "a signal (absence, review request)")):
            s = r["steps"][key]
            rows.append([words, s["fresh"].get("n", 0), s["fresh"].get("p50", float("nan")), s["fresh"].get("p95", float("nan")),
                         s["old"].get("n", 0), s["old"].get("p50", float("nan")), s["old"].get("p95", float("nan")), f"{s['ratio']:.2f}x"])
        old = f"{r['days']} days in"
        say(table(["step (interleaved window)", "n fresh", "p50 ms fresh", "p95 ms", f"n {old}", f"p50 ms {old}", "p95 ms",
                   "ratio p50"], rows))
        say(f"  completions, median over task names of p50 ratio: {r['steps']['complete']['ratio_median_of_names']:.2f}x")
        say(table(["step", "n fresh/old", "p50 ms fresh", f"p50 ms {old}", "ratio"],
                  [[k, f"{v['fresh']['n']}/{v['old']['n']}", v["fresh"]["p50"], v["old"]["p50"], v["old"]["p50"] / v["fresh"]["p50"]]
                   for k, v in r["by_kind"].items()]))
        if r["only_old"] or r["only_fresh"]:
            say(f"  steps only one of them took: old {r['only_old']}, fresh {r['only_fresh']}")
        rows = [[f"old: {when}", a["bytes"], a["tasks"], _states(a["tasks_by_state"]), a["subprocesses"], a["subprocess_tasks"],
                 _states(a["subprocess_tasks_by_state"]), a["task_data_bytes"]] for when, a in r["sizes"].items()]
        rows += [[f"fresh: {when}", a["bytes"], a["tasks"], _states(a["tasks_by_state"]), a["subprocesses"], a["subprocess_tasks"],
                  _states(a["subprocess_tasks_by_state"]), a["task_data_bytes"]] for when, a in r["fresh_sizes"].items()]
        say(table(["stored state", "bytes", "top tasks", "by state", "subprocesses", "their tasks", "by state", "bytes of task data"], rows))
        last = list(r["sizes"].values())[-1]
        say("  task specs repeated most (old, at the end): " + ", ".join(f"{name} x{n}" for name, n in last["most_repeated"]))
        for line in r["failures"][:10]:
            say(f"  FAILED: {line}")


def _states(counts: dict) -> str:
    return ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> None:
    import argparse
    import shutil
    import tempfile

    from sqlalchemy import create_engine, text

    from .common import POSTGRES_URL, load_average, postgres_problem

    parser = argparse.ArgumentParser(prog="python -m bench.long_placement", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--days", type=int, default=365, help="how long the old placement runs before the window")
    parser.add_argument("--window-days", type=int, default=63, help="days both placements are driven side by side")
    parser.add_argument("--state-file", type=Path, help="write the old placement's stored state (JSON) here at the end")
    parser.add_argument("--keep-finished-subprocesses", action="store_true",
                        help="store finished subprocesses as before engine/prune.py (runs the engine in this process)")
    parser.add_argument("--in-process", action="store_true", help="run the engine in this process (APFLOW_ENGINE_PROCESSES=0)")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and postgres_problem():
        raise SystemExit("PostgreSQL is not reachable")
    workdir = Path(tempfile.mkdtemp(prefix="apflow-bench-long-"))
    say(f"load average {load_average()}")
    try:
        report([run(db, workdir, args.days, args.window_days, args.state_file, args.keep_finished_subprocesses, args.in_process)
                for db in dbs])
    finally:
        if "postgres" in dbs:
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS bench_long_placement CASCADE"))
            admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"load average {load_average()}")


if __name__ == "__main__":
    main()
