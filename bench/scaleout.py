"""15. Scale-out on PostgreSQL (issue 18, point 2): web processes x threads under gunicorn and two `apflow scheduler`
processes on one database, under 50 concurrent users.

The deployment is the one docs/operations.md describes: `gunicorn --config docs/deploy/gunicorn.conf.py` (gthread
workers, APFLOW_WEB_PROCESSES x APFLOW_WEB_THREADS, the app built in each process after the fork, engine worker
processes warmed up), `--no-scheduler` web processes (APFLOW_RUN_SCHEDULER=false) and two `apflow scheduler`
processes. It runs once with 1 web process and once with 2 (8 threads each), each time on a fresh PostgreSQL schema
(bench_scaleout_N, dropped at the end), for the same number of seconds.

50 users, each a thread with one keep-alive http.client connection and a bearer token, an AP coordinator owning the
referrals it started (4 pre-started each), in a closed loop with no think time:
- 55%: GET /api/v1/inbox (page 1 of the user's inbox);
- 20%: POST /api/v1/tasks/{id}/complete on its oldest own triage task (so a 409 would be a real fault);
- 15% (and whenever it has no task left): POST /api/v1/processes/referral_triage/instances, then
  GET /api/v1/tasks?instance=ID for the new task's id;
- 10%: POST /api/v1/processes/bench_timer/instances with a timer due 3 to 8 s later (bench/timers.py's diagram: the
  timer fires a "Chase" task for the headteacher), while the due time is at least 2 s before the end.
A timer already due when its start request is served (the request queued longer than that) fires inside the
start, as the engine does; those are counted apart (fired_at_start), not as scheduler firings.
The schedulers fire those timers during the run. Afterwards the run waits until every timer due has fired, and
counts from the database: timer_fired events per instance (fired twice, never fired), their lateness, error events.

Reported per configuration: requests/s, p50/p95/p99 per kind and overall, errors (any status other than the expected
one, or a failed connection), timers fired / twice / never and their lateness. The load generator runs on the same
machine (2 cores here), so req/s is a floor. `python -m bench --only scaleout` (or `python -m bench.scaleout`).
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, text

from apflow.config import ROOT
from apflow.services import instances, processes
from apflow.services import users as users_service
from apflow.store.models import Event, Instance, PendingTimer

from . import http as http_bench
from . import timers as timers_bench
from .common import (
    START_DATA,
    TRIAGE,
    TRIAGE_ACCEPT,
    TRIAGE_DECLINE,
    deploy_triage,
    env_for,
    fresh_database,
    make_core,
    make_users,
    percentile,
    reading,
    say,
    stop_processes,
    summary,
    table,
)
from .http import _free_port, _wait_serving

GUNICORN_CONF = ROOT / "docs" / "deploy" / "gunicorn.conf.py"
THREADS = 8
USERS = 50
PER_USER = 4
SCHEDULERS = 2
SWEEP_SECONDS = 1.0
TIMER_EARLIEST, TIMER_LATEST = 3.0, 8.0  # seconds from the start request to its timer (far enough for a queued request)
KINDS = [("inbox", "GET /api/v1/inbox"), ("complete", "POST /api/v1/tasks/{id}/complete"),
         ("start", "POST .../referral_triage/instances"), ("lookup", "GET /api/v1/tasks?instance="),
         ("timer_start", "POST .../bench_timer/instances (timer in 3-8 s)")]


class User(http_bench.User):
    """One person: a keep-alive connection, a token, the triage tasks it owns (bench/http.py's client, another mix)."""

    def run(self):
        self.gate.wait()
        while time.monotonic() < self.stop_at[0]:
            pick = self.rng.random()
            if pick < 0.55:
                self.call("inbox", "GET", "/api/v1/inbox")
            elif pick < 0.75 and self.tasks:
                self.call("complete", "POST", f"/api/v1/tasks/{self.tasks.popleft()}/complete",
                          {"data": self.rng.choice([TRIAGE_ACCEPT, TRIAGE_DECLINE])})
            elif pick >= 0.9 and time.monotonic() + TIMER_LATEST + 2 < self.stop_at[0]:
                fire_at = datetime.now(timezone.utc) + timedelta(seconds=self.rng.uniform(TIMER_EARLIEST, TIMER_LATEST))
                self.call("timer_start", "POST", f"/api/v1/processes/{timers_bench.PROCESS}/instances",
                          {"data": {"fire_at": fire_at.isoformat()}}, expect=201)
            else:
                started = self.call("start", "POST", f"/api/v1/processes/{TRIAGE}/instances", {"data": START_DATA}, expect=201)
                if started:
                    found = self.call("lookup", "GET", f"/api/v1/tasks?instance={started['id']}")
                    if found and found["tasks"]:
                        self.tasks.append(found["tasks"][0]["id"])
        if self.conn is not None:
            self.conn.close()


def _launch(url: str, work: Path, port: int, web_processes: int) -> list[tuple[subprocess.Popen, Path]]:
    """gunicorn with the documented config, and the schedulers: [(process, log)], the web server first."""
    env = env_for(url, work, APFLOW_RUN_SCHEDULER="false", APFLOW_BIND=f"127.0.0.1:{port}",
                  APFLOW_WEB_PROCESSES=web_processes, APFLOW_WEB_THREADS=THREADS, APFLOW_SWEEP_SECONDS=SWEEP_SECONDS)
    commands = [("web", [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)])]
    commands += [(f"scheduler-{n}", [sys.executable, "-m", "apflow", "scheduler"]) for n in range(SCHEDULERS)]
    procs = []
    for name, command in commands:
        log = work / f"{name}.log"
        with log.open("w") as handle:
            procs.append((subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=work), log))
    return procs


def _stop(procs) -> list[str]:
    """SIGTERM, as systemd sends it (gunicorn has 40 s to finish its requests); error lines from the logs."""
    return stop_processes(procs, 40, (" ERROR ", "Traceback", "[ERROR]", "CRITICAL"))


def _timers_due_unfired(core) -> int:
    with reading(core) as s:
        return s.scalar(select(func.count()).select_from(PendingTimer).where(PendingTimer.due_at <= datetime.now(timezone.utc)))


def run(workdir: Path, seconds: float, web_processes: int, users: int = USERS, per_user: int = PER_USER) -> dict:
    if importlib.util.find_spec("gunicorn") is None:
        raise SystemExit('the scale-out benchmark needs gunicorn: .venv/bin/pip install -e ".[server]"')
    work = workdir / f"scaleout-{web_processes}"
    work.mkdir(parents=True, exist_ok=True)
    url = fresh_database("postgres", work, "scaleout", schema=f"bench_scaleout_{web_processes}")
    port = _free_port()
    procs = _launch(url, work, port, web_processes)  # they boot while the people and referrals are made
    problems: list[str] = []
    try:
        core = make_core(url, work)
        names = [f"user{n:02d}" for n in range(users)]
        people = make_users(core, {**{name: ["coordinator"] for name in names}, "head": ["headteacher"]})
        deploy_triage(core)
        diagram = work / "bench_timer.bpmn"
        diagram.write_text(timers_bench.DIAGRAM)
        processes.deploy_paths(core, [diagram], by="bench", note="scale-out benchmark")
        own = {}
        for name in names:
            own[name] = []
            for _ in range(per_user):
                started = instances.start_instance(core, people[name], TRIAGE, START_DATA)
                own[name].append(instances.list_ready_tasks(core, people[name], started["id"])[0]["id"])
        with core.db.session() as s:  # what POST /api/v1/tokens does after the password check (50 Argon2 logins skipped)
            tokens = {name: users_service.issue_token(s, users_service.user_by_name(s, name), core.settings.token_hours) for name in names}
        _wait_serving(procs[0][0], procs[0][1], port)
        timers_bench._wait_running(procs[1:])
        stop_at = [float("inf")]
        gate = threading.Barrier(users + 1)
        threads = [User(name, port, tokens[name], own[name], seed=n, start_gate=gate, stop_at=stop_at) for n, name in enumerate(names)]
        for t in threads:
            t.start()
        gate.wait()
        began_wall = datetime.now(timezone.utc)
        began = time.monotonic()
        stop_at[0] = began + seconds
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - began
        deadline = time.monotonic() + 60  # every timer due by now must fire
        while _timers_due_unfired(core) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(SWEEP_SECONDS * 2 + 0.2)  # two more sweeps: a second firing would show now
    finally:
        problems += _stop(procs)

    with reading(core) as s:
        timer_instances = set(s.scalars(select(Instance.id).where(Instance.process_id == timers_bench.PROCESS)))
        fired = s.execute(select(Event.instance_id, Event.detail).where(Event.kind == "timer_fired")).all()
        errors = s.scalar(text("SELECT count(*) FROM events WHERE kind = 'error'"))
        chases = Counter(s.scalars(text("SELECT instance_id FROM human_tasks WHERE spec_id = 'Task_chase'")))
    unfired = _timers_due_unfired(core)
    core.db.dispose()
    per_instance = Counter(row.instance_id for row in fired)
    late = [float((row.detail if isinstance(row.detail, dict) else json.loads(row.detail))["late_seconds"]) for row in fired]
    records = [r for t in threads for r in t.records]
    failures = [f for t in threads for f in t.failures]
    out = {"db": "postgres", "web_processes": web_processes, "threads_per_process": THREADS, "schedulers": SCHEDULERS,
           "users": users, "seconds": elapsed, "started_at": began_wall.isoformat(), "requests": len(records),
           "requests_per_second": len(records) / elapsed, "errors": sum(1 for r in records if r[1] not in (200, 201)),
           "latency_ms": summary([r[2] for r in records]), "by_kind": {},
           "timer_instances": len(timer_instances), "timers_fired": len(fired),
           "timers_fired_twice": sum(1 for c in per_instance.values() if c > 1),
           "timers_fired_at_start": len((timer_instances & set(chases)) - set(per_instance)),
           "timers_never_fired": len(timer_instances - set(chases)), "timers_due_unfired": unfired,
           "chase_tasks": sum(chases.values()), "instances_with_two_chases": sum(1 for c in chases.values() if c > 1),
           "timer_lateness_s": {"p50": percentile(late, 50), "p95": percentile(late, 95), "max": max(late) if late else float("nan")},
           "error_events": errors, "failures": failures[:20], "failure_count": len(failures), "problems": problems[:20]}
    for kind, _ in KINDS:
        mine = [r for r in records if r[0] == kind]
        out["by_kind"][kind] = summary([r[2] for r in mine]) | {"errors": sum(1 for r in mine if r[1] not in (200, 201)),
                                                                "per_second": len(mine) / elapsed}
    return out


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        setup = f"{r['web_processes']} x {r['threads_per_process']}"
        rows.append([setup, "all", r["requests"], r["requests_per_second"], r["latency_ms"]["p50"], r["latency_ms"]["p95"],
                     r["latency_ms"]["p99"], r["errors"]])
        for kind, words in KINDS:
            s = r["by_kind"][kind]
            if s["n"]:
                rows.append([setup, words, s["n"], s["per_second"], s["p50"], s["p95"], s["p99"], s["errors"]])
    say(table(["web processes x threads", "requests", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows))
    say(table(["web processes", "timer instances started", "fired by a scheduler", "fired twice", "fired inside the start",
               "never fired", "due, unfired", "chase tasks", "lateness p50 s", "p95 s", "max s", "error events"],
              [[r["web_processes"], r["timer_instances"], r["timers_fired"], r["timers_fired_twice"] + r["instances_with_two_chases"],
                r["timers_fired_at_start"], r["timers_never_fired"], r["timers_due_unfired"], r["chase_tasks"], r["timer_lateness_s"]["p50"], r["timer_lateness_s"]["p95"],
                r["timer_lateness_s"]["max"], r["error_events"]] for r in results]))
    if len(results) == 2:
        one, two = results
        say(f"  2 web processes / 1: throughput {two['requests_per_second'] / one['requests_per_second']:.2f}x, "
            f"p95 {two['latency_ms']['p95'] / one['latency_ms']['p95']:.2f}x")
    for r in results:
        for line in r["failures"][:5] + r["problems"][:5]:
            say(f"  {r['web_processes']} web: {line}")


def main() -> None:
    import argparse
    import shutil
    import tempfile

    from sqlalchemy import create_engine

    from .common import POSTGRES_URL, load_average, postgres_problem

    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", default="1,2", help="web process counts to run, in turn (default 1,2)")
    args = parser.parse_args()
    problem = postgres_problem()
    if problem:
        raise SystemExit(f"scale-out runs on PostgreSQL only, and it is not reachable: {problem}")
    workdir = Path(tempfile.mkdtemp(prefix="apflow-bench-scaleout-"))
    say(f"load average {load_average()}")
    try:
        report([run(workdir, args.seconds, int(n)) for n in args.processes.split(",")])
    finally:
        admin = create_engine(POSTGRES_URL)  # only this benchmark's schemas
        with admin.begin() as conn:
            for n in args.processes.split(","):
                conn.execute(text(f"DROP SCHEMA IF EXISTS bench_scaleout_{int(n)} CASCADE"))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"load average {load_average()}")


if __name__ == "__main__":
    main()
