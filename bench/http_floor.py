"""8. The floor over HTTP: start and complete referral_triage through `apflow serve` against
SpiffWorkflow alone on the same diagram, interleaved in one loop (issue 18, point 1).

Server: `python -m apflow serve --no-scheduler` in a subprocess (waitress, as bench/http.py starts
it), so the process has exactly the logging configuration `apflow serve` sets up (apflow/logs.py:
APFLOW_LOG_LEVEL, else WARNING, for the root logger and SpiffWorkflow's loggers) and the engine's
default worker processes. One client, one keep-alive connection (http.client) over a real socket on
127.0.0.1, a bearer token from users.issue_token (set-up).

Each iteration, in alternating order so machine load hits both sides alike:
- library start: LibraryOnly.started_json() of bench/overhead.py (new BpmnWorkflow on the parsed
  spec, start data, do_engine_steps, serialize_json);
- HTTP start: POST /api/v1/processes/referral_triage/instances (201), client-side wall clock;
- (untimed) GET /api/v1/tasks?instance=ID for the new task's id;
- library complete: LibraryOnly.complete() (deserialize_json, complete the user task, engine steps,
  serialize_json), on the state the library start just made;
- HTTP complete: POST /api/v1/tasks/{id}/complete (200).
Ratios: p50 over HTTP / p50 of the library, same run.

Where the rest goes: `python -m bench.http_floor` (used by profile()) runs the same server in-process
with a WSGI wrapper that runs cProfile around each POST .../complete; the client asks for the stats
at the end. The request is profiled from the WSGI call to the last body byte, not the socket and
waitress's parsing, which the wall-clock difference to the profiled time shows.
"""
from __future__ import annotations

import cProfile
import gc
import http.client
import io
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

from .common import START_DATA, TRIAGE, TRIAGE_ACCEPT, deploy_triage, env_for, fresh_database, make_core, make_users, say, summary, table
from .http import _free_port, _issue_tokens, _wait_serving
from .overhead import LibraryOnly, _trim

SERVER_THREADS = 8
PROFILE_PATH = "/__bench_profile__"


class Client:
    """One bearer-token client on a kept-alive connection."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body=None, expect: int = 200):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data[:300]!r}")
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return json.loads(data) if data[:1] in (b"{", b"[") else data.decode()

    def start(self) -> int:
        return self.call("POST", f"/api/v1/processes/{TRIAGE}/instances", {"data": START_DATA}, expect=201)["id"]

    def task_of(self, instance_id: int) -> str:
        return self.call("GET", f"/api/v1/tasks?instance={instance_id}")["tasks"][0]["id"]

    def complete(self, task_id: str):
        return self.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": TRIAGE_ACCEPT})

    def close(self):
        self.conn.close()


def _prepare(db: str, workdir: Path, name: str, **where):
    """A fresh database (where: fresh_database's schema, for two at once on PostgreSQL) with a coordinator, the triage
    diagram deployed and a bearer token for the coordinator."""
    work = workdir / f"{name}-{db}"
    work.mkdir(parents=True, exist_ok=True)
    url = fresh_database(db, work, name, **where)
    core = make_core(url, work)
    make_users(core, {"coord": ["coordinator"]})
    deploy_triage(core)
    core.db.dispose()
    return work, url, _issue_tokens(url, work, ["coord"])["coord"]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_server(url: str, work: Path, code: Path | None = None) -> tuple[subprocess.Popen, int, Path]:
    """`apflow serve --no-scheduler` on url in a subprocess (exactly the CLI: it sets up logging, APFLOW_LOG_LEVEL else
    WARNING), from `code` first on PYTHONPATH if given; its process, port and log file. Wait for it with _wait_serving."""
    port = _free_port()
    log = work / "serve.log"
    env = env_for(url, work, APFLOW_RUN_SCHEDULER="false")
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "apflow", "serve", "--port", str(port), "--no-scheduler",
                                 "--threads", str(SERVER_THREADS)], env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=work)
    return proc, port, log


def run(db: str, workdir: Path, iterations: int) -> dict:
    work, url, token = _prepare(db, workdir, "http_floor")
    proc, port, log = start_server(url, work)
    library = LibraryOnly()
    times = {"http_start": [], "http_complete": [], "library_start": [], "library_complete": []}
    try:
        _wait_serving(proc, log, port)
        client = Client(port, token)
        warmup = max(10, iterations // 10)
        for i in range(warmup + iterations):
            if i % 100 == 0:
                gc.collect()  # outside the timing, as overhead.py does
            sample = {}
            http_first = i % 2 == 0
            # -- start
            for side in (("http", "library") if http_first else ("library", "http")):
                t0 = time.perf_counter()
                if side == "http":
                    instance_id = client.start()
                else:
                    state_json = library.started_json()
                sample[f"{side}_start"] = time.perf_counter() - t0
            task_id = client.task_of(instance_id)
            # -- complete
            for side in (("library", "http") if http_first else ("http", "library")):
                t0 = time.perf_counter()
                if side == "http":
                    result = client.complete(task_id)
                else:
                    library.complete(state_json, TRIAGE_ACCEPT)
                sample[f"{side}_complete"] = time.perf_counter() - t0
            status = result.get("instance", {}).get("status") if isinstance(result, dict) else None
            if status not in (None, "completed"):
                raise RuntimeError(f"the accepted referral should finish over HTTP too, got {status!r}")
            if i >= warmup:
                for key, value in sample.items():
                    times[key].append(value)
        back_to_back = _back_to_back(client, library, max(50, iterations // 2), proc.pid)
        client.close()
    finally:
        _stop(proc)
    server_errors = [line for line in log.read_text().splitlines() if " ERROR " in line or "Traceback" in line]
    out = {"db": db, "iterations": iterations, "server": f"apflow serve --no-scheduler --threads {SERVER_THREADS} (subprocess)",
           "log_lines_from_server": len(log.read_text().splitlines()),
           "server_error_lines": server_errors[:10]}
    for key, samples in times.items():
        out[f"{key}_ms"] = summary(samples)
    out["complete_ratio"] = out["http_complete_ms"]["p50"] / out["library_complete_ms"]["p50"]
    out["start_ratio"] = out["http_start_ms"]["p50"] / out["library_start_ms"]["p50"]
    out.update(back_to_back)
    return out


def _back_to_back(client: Client, library: LibraryOnly, n: int, server_pid: int) -> dict:
    """Where the rest goes, part 1: the same steps with no pause between them on either side (n HTTP starts in a row,
    then n HTTP completions, then the library's n starts and n completions), and one cheap authenticated request
    (GET /api/v1/me) in a row and after the client pauses 5 ms. With nothing in between, each process stays busy;
    in the interleaved loop the server sits idle while the client runs the library, and is slower to answer when
    the next request wakes it."""
    def timed(call, items) -> list[float]:
        spent = []
        for item in items:
            t0 = time.perf_counter()
            call(item)
            spent.append(time.perf_counter() - t0)
        return spent

    def cpu(work, side: str) -> tuple[list[float], float]:
        """work()'s wall times, and the processor time it cost per item: the server's, with its engine workers
        (every process under it), for HTTP; this process's for the library."""
        before = _tree_cpu_seconds(server_pid) if side == "http" else time.process_time()
        spent = work()
        after = _tree_cpu_seconds(server_pid) if side == "http" else time.process_time()
        return spent, (after - before) / len(spent)

    gc.collect()
    instance_ids = []
    http_start, http_start_cpu = cpu(lambda: timed(lambda _: instance_ids.append(client.start()), range(n)), "http")
    tasks = [client.task_of(instance_id) for instance_id in instance_ids]
    http_complete, http_complete_cpu = cpu(lambda: timed(client.complete, tasks), "http")
    states = []
    library_start, library_start_cpu = cpu(lambda: timed(lambda _: states.append(library.started_json()), range(n)), "library")
    library_complete, library_complete_cpu = cpu(lambda: timed(lambda state: library.complete(state, TRIAGE_ACCEPT), states), "library")
    me_in_a_row = timed(lambda _: client.call("GET", "/api/v1/me"), range(n))
    me_after_pause = timed(lambda _: (time.sleep(0.005), client.call("GET", "/api/v1/me")), range(n))
    out = {"b2b_http_start_ms": summary(http_start), "b2b_http_complete_ms": summary(http_complete),
           "b2b_library_start_ms": summary(library_start), "b2b_library_complete_ms": summary(library_complete),
           "me_in_a_row_ms": summary(me_in_a_row), "me_after_pause_ms": summary([t - 0.005 for t in me_after_pause])}
    out["b2b_complete_ratio"] = out["b2b_http_complete_ms"]["p50"] / out["b2b_library_complete_ms"]["p50"]
    out["b2b_start_ratio"] = out["b2b_http_start_ms"]["p50"] / out["b2b_library_start_ms"]["p50"]
    out.update({"cpu_http_start_ms": 1000 * http_start_cpu, "cpu_http_complete_ms": 1000 * http_complete_cpu,
                "cpu_library_start_ms": 1000 * library_start_cpu, "cpu_library_complete_ms": 1000 * library_complete_cpu})
    out["cpu_complete_ratio"] = http_complete_cpu / library_complete_cpu
    out["cpu_start_ratio"] = http_start_cpu / library_start_cpu
    return out


def _tree_cpu_seconds(pid: int) -> float:
    """Processor time (user + system) used so far by a process and every process under it, from /proc (Linux)."""
    ticks, total, todo = os.sysconf("SC_CLK_TCK"), 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        for label, key in (("start: HTTP POST .../instances", "http_start_ms"), ("start: SpiffWorkflow start+serialize", "library_start_ms"),
                           ("complete: HTTP POST .../complete", "http_complete_ms"),
                           ("complete: SpiffWorkflow deserialize+complete+serialize", "library_complete_ms")):
            rows.append([r["db"], label, r[key]["p50"], r[key]["p95"], r[key]["n"]])
    say(table(["db", "one step", "p50 ms", "p95 ms", "n"], rows))
    for r in results:
        say(f"  {r['db']}: HTTP complete / library = {r['complete_ratio']:.2f}x (goal <= 2.5x on SQLite); "
            f"HTTP start / library = {r['start_ratio']:.2f}x (goal <= 4x); server log lines: {r['log_lines_from_server']}")
        say(f"  {r['db']}: back to back (no pause on either side): HTTP complete / library = {r['b2b_complete_ratio']:.2f}x, "
            f"HTTP start / library = {r['b2b_start_ratio']:.2f}x; GET /api/v1/me p50 {r['me_in_a_row_ms']['p50']:.2f} ms in a row, "
            f"{r['me_after_pause_ms']['p50']:.2f} ms after the client pauses 5 ms")
        say(f"  {r['db']}: processor time per step (server and its engine workers / the library's process): complete "
            f"{r['cpu_http_complete_ms']:.2f} / {r['cpu_library_complete_ms']:.2f} ms = {r['cpu_complete_ratio']:.2f}x, start "
            f"{r['cpu_http_start_ms']:.2f} / {r['cpu_library_start_ms']:.2f} ms = {r['cpu_start_ratio']:.2f}x")
        for line in r["server_error_lines"][:5]:
            say(f"  {r['db']}: {line}")


# -- where the time of an HTTP completion goes -----------------------------------------------------

def profile(db: str, workdir: Path, iterations: int, top: int = 25) -> dict:
    """cProfile of `iterations` HTTP completions inside a server like `apflow serve` (see serve_profiled)."""
    work, url, token = _prepare(db, workdir, "http_floor_profile")
    port = _free_port()
    log = work / "serve.log"
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "bench.http_floor", str(port)],
                                env=env_for(url, work, APFLOW_RUN_SCHEDULER="false"), stdout=handle,
                                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)
    try:
        _wait_serving(proc, log, port)
        client = Client(port, token)
        tasks = [client.task_of(client.start()) for _ in range(iterations + 10)]
        for task_id in tasks[:10]:
            client.complete(task_id)
        client.call("DELETE", PROFILE_PATH)  # reset: only the measured completions from here
        wall = []
        for task_id in tasks[10:]:
            t0 = time.perf_counter()
            client.complete(task_id)
            wall.append(time.perf_counter() - t0)
        stats = client.call("GET", PROFILE_PATH)
        client.close()
    finally:
        _stop(proc)
    return {"db": db, "iterations": iterations, "wall_ms": summary(wall), "profiled_ms_per_request": stats["ms_per_request"],
            "text": stats["text"]}


def _app_as_served(before_settling=lambda: None):
    """The WSGI app as `apflow serve --no-scheduler` builds it (its logging set-up, the engine's workers started, the
    heap settled); before_settling() runs just before the heap is settled."""
    from apflow.config import Settings
    from apflow.logs import setup_logging
    from apflow.services.core import Core
    from apflow.web import create_app, settle_heap

    setup_logging(None)  # as apflow.cli.main does before `serve`
    core = Core(Settings.from_env())
    core.db.upgrade()
    app = create_app(core=core, run_scheduler=False)
    core.steps.warm_up()
    before_settling()
    settle_heap()
    return app


def _whole_body(app, environ, start_response) -> bytes:
    result = app(environ, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return body


def _json_answer(start_response, body: bytes) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def serve_profiled(port: int, top: int = 25) -> None:
    """What `apflow serve --no-scheduler` does (same logging set-up, same app, waitress), with cProfile
    around each POST .../complete and PROFILE_PATH to read (GET) or reset (DELETE) the stats."""
    from waitress import serve as waitress_serve

    app = _app_as_served()
    state = {"profiler": cProfile.Profile(), "requests": 0, "seconds": 0.0}

    def wrapped(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        if path == PROFILE_PATH:
            if method == "DELETE":
                state.update(profiler=cProfile.Profile(), requests=0, seconds=0.0)
                body = b"{}"
            else:
                buffer = io.StringIO()
                stats = pstats.Stats(state["profiler"], stream=buffer)
                stats.strip_dirs().sort_stats("tottime").print_stats(top)
                buffer.write("\n---- cumulative ----\n")
                stats.sort_stats("cumulative").print_stats(top)
                body = json.dumps({"text": _trim(buffer.getvalue()),
                                   "ms_per_request": 1000 * state["seconds"] / max(state["requests"], 1)}).encode()
            return _json_answer(start_response, body)
        if not (method == "POST" and path.endswith("/complete")):
            return app(environ, start_response)
        profiler = state["profiler"]
        t0 = time.perf_counter()
        profiler.enable()
        try:
            body = _whole_body(app, environ, start_response)
        finally:
            profiler.disable()
            state["seconds"] += time.perf_counter() - t0
            state["requests"] += 1
        return [body]

    print(f"profiled apflow listening on {port}", flush=True)
    waitress_serve(wrapped, host="127.0.0.1", port=port, threads=1, ident="apflow")  # one thread: one profiler at a time


# -- where the time goes, by the clock -----------------------------------------------------------------------

PARTS_PATH = "/__bench_parts__"
# (module, attribute, what it is): each is timed by the wall clock around every call, in every request thread
PARTS = [
    ("apflow.services.users", "user_for_token", "who is asking (token, person)"),
    ("apflow.services.instances", "_start_early", "start: code sent to a worker before the transaction"),
    ("apflow.services.instances", "latest_version", "start: newest version read"),
    ("apflow.services.instances", "_complete_early", "complete: code sent to a worker before the transaction"),
    ("apflow.services.instances", "_lock_and_read", "complete: lock, read instance and tasks"),
    ("apflow.engine.runtime:WorkflowHost", "load", "complete: the server restores the workflow"),
    ("apflow.services.instances", "_checked_answers", "complete: form check"),
    ("apflow.services.instances", "_run_in_step", "waiting for the engine worker"),
    ("apflow.services.instances", "persist", "persist (rows derived from the step)"),
    ("sqlalchemy.orm:Session", "flush", "ORM flush (new rows)"),
    ("sqlalchemy.orm:Session", "commit", "commit"),
]


def _install_parts(totals: dict, counts: dict, kind) -> None:
    import functools
    import importlib

    for where, name, label in PARTS:
        module, _, cls = where.partition(":")
        owner = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        original = getattr(owner, name)

        def timed(*args, __original=original, __label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                key = (kind(), __label)
                totals[key] = totals.get(key, 0.0) + time.perf_counter() - t0
                counts[key] = counts.get(key, 0) + 1

        setattr(owner, name, functools.wraps(original)(timed))


def serve_parts(port: int) -> None:
    """What `apflow serve --no-scheduler` does, with the wall clock around each part in PARTS and around each whole
    request (start or complete), summed per kind of request; PARTS_PATH to read (GET) or reset (DELETE) the sums."""
    import threading

    from waitress import serve as waitress_serve

    local = threading.local()
    totals: dict = {}
    counts: dict = {}
    app = _app_as_served(lambda: _install_parts(totals, counts, lambda: getattr(local, "kind", "other")))

    def wrapped(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        if path == PARTS_PATH:
            if method == "DELETE":
                totals.clear()
                counts.clear()
            return _json_answer(start_response, json.dumps([[kind, label, totals[kind, label], counts[kind, label]]
                                                            for kind, label in totals]).encode())
        local.kind = ("start" if method == "POST" and path.endswith("/instances") else
                      "complete" if method == "POST" and path.endswith("/complete") else "other")
        t0 = time.perf_counter()
        try:
            body = _whole_body(app, environ, start_response)
        finally:
            key = (local.kind, "the whole request (WSGI)")
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - t0
            counts[key] = counts.get(key, 0) + 1
        return [body]

    print(f"timed apflow listening on {port}", flush=True)
    waitress_serve(wrapped, host="127.0.0.1", port=port, threads=SERVER_THREADS, ident="apflow")


def parts(db: str, workdir: Path, iterations: int) -> dict:
    """Milliseconds per request in each part of PARTS, by the wall clock, for starts and completions interleaved with
    the library's steps as in run() (so the server is as idle between requests as there)."""
    work, url, token = _prepare(db, workdir, "http_floor_parts")
    port = _free_port()
    log = work / "serve.log"
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "bench.http_floor", str(port), "--parts"],
                                env=env_for(url, work, APFLOW_RUN_SCHEDULER="false"), stdout=handle,
                                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)
    library = LibraryOnly()
    try:
        _wait_serving(proc, log, port)
        client = Client(port, token)
        for i in range(10 + iterations):
            if i == 10:
                client.call("DELETE", PARTS_PATH)  # from here on: the measured requests only
            state_json = library.started_json()
            task_id = client.task_of(client.start())
            library.complete(state_json, TRIAGE_ACCEPT)
            client.complete(task_id)
        rows = client.call("GET", PARTS_PATH)
        client.close()
    finally:
        _stop(proc)
    per = {kind: {label: round(1000 * seconds / iterations, 3) for k, label, seconds, _ in rows if k == kind}
           for kind in ("start", "complete")}
    return {"db": db, "iterations": iterations, "ms_per_request": per, "calls": {f"{k}: {label}": n / iterations for k, label, _, n in rows}}


def report_parts(results: list[dict]) -> None:
    for r in results:
        for kind, parts_ms in r["ms_per_request"].items():
            say(f"-- {r['db']}: where an HTTP {kind} spends its time, by the clock in the server ({r['iterations']} requests) --")
            say(table(["part", "ms per request"], sorted(([label, ms] for label, ms in parts_ms.items()), key=lambda row: -row[1])))


if __name__ == "__main__":
    if sys.argv[2:] == ["--parts"]:
        serve_parts(int(sys.argv[1]))
    else:
        serve_profiled(int(sys.argv[1]))
