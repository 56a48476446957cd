"""4. HTTP: apflow served by waitress (`apflow serve --no-scheduler`, 8 threads, a subprocess) on
127.0.0.1, under 20 concurrent users for a fixed time.

Each user is a thread with one keep-alive connection (http.client), a bearer token from
POST /api/v1/tokens and a browser session from the sign-in form. Users are AP coordinators; each
owns the tasks of the referrals it started (10 pre-started per user), so no two users ever complete
the same task and a 409 would be a real fault. In a closed loop with no think time, each user picks:
- 70%: the inbox, in three equal parts: the /inbox page as a browser gets it (HTML, signed-in
  session), GET /api/v1/inbox (page 1, 50 rows) and GET /api/v1/tasks (first page, up to 200 rows);
- 15%: POST /api/v1/tasks/{id}/complete on its oldest own task (triage answers, accept/decline);
- 15% (and whenever it has no task left): POST /api/v1/processes/referral_triage/instances,
  then GET /api/v1/tasks?instance=ID to learn the new task's id.
Starts balance completions, so the number of open referrals stays near where it started
(users x per_user); the count at the end is reported.

Reported: requests per second, latency p50/p95/p99 overall and per request kind, and errors
(any status other than the expected 200/201, and any connection failure). Getting the tokens is
set-up, before the clock starts (one login at a time on SQLite): a failed POST /api/v1/tokens
is retried and counted separately (token_failures). Quick mode skips the 20 Argon2 logins and
issues the tokens with users.issue_token, the function the endpoint calls after the password check.
"""
from __future__ import annotations

import http.client
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import text, update

from apflow.services import instances
from apflow.services import users as users_service
from apflow.store.models import User as UserRow

from .common import (
    PASSWORD,
    START_DATA,
    TRIAGE,
    TRIAGE_ACCEPT,
    TRIAGE_DECLINE,
    deploy_triage,
    env_for,
    fresh_database,
    make_core,
    make_users,
    reading,
    say,
    summary,
    table,
)

SERVER_THREADS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch_server(url: str, work: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = work / "serve.log"
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "apflow", "serve", "--port", str(port), "--no-scheduler",
                                 "--threads", str(SERVER_THREADS)],
                                env=env_for(url, work, APFLOW_RUN_SCHEDULER="false"), stdout=handle,
                                stderr=subprocess.STDOUT, cwd=work)
    return proc, log


def _wait_serving(proc: subprocess.Popen, log: Path, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apflow serve exited:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("apflow serve did not answer within 60 s")


def _token(port: int, username: str) -> tuple[str | None, int]:
    """A bearer token from POST /api/v1/tokens, and how many attempts failed before it."""
    failures = 0
    for _ in range(10):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/v1/tokens", body=json.dumps({"username": username, "password": PASSWORD}),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status == 201:
            return json.loads(data)["token"], failures
        failures += 1
        time.sleep(0.1)
    return None, failures


def _session_cookie(port: int, username: str) -> str | None:
    """Sign in through the form, as a browser does; the session cookie, or None."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        page = response.read().decode()
        cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if not cookie or not csrf:
            return None
        form = f"username={username}&password={PASSWORD.replace(' ', '+')}&csrf_token={csrf.group(1)}"
        conn.request("POST", "/login", body=form, headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        signed_in = (response.getheader("Set-Cookie") or "").split(";")[0]
        return signed_in if response.status == 302 and signed_in else None
    finally:
        conn.close()


class User(threading.Thread):
    def __init__(self, name: str, port: int, token: str | None, tasks: list[str], seed: int, start_gate: threading.Barrier,
                 stop_at: list, paged_inbox: bool = False, cookie: str | None = None):
        super().__init__(name=name, daemon=True)
        self.paged_inbox, self.cookie = paged_inbox, cookie
        self.username, self.port, self.tasks = name, port, deque(tasks)
        self.rng = random.Random(seed)
        self.gate, self.stop_at = start_gate, stop_at
        self.records: list[tuple[str, int, float]] = []  # (kind, status, seconds); status 0 = no response
        self.failures: list[str] = []
        self.token = token
        self.conn = None

    # -- one request over the kept-alive connection ---------------------------------------
    def call(self, kind: str, method: str, path: str, body=None, expect=200, page: bool = False):
        headers = {"Content-Type": "application/json"}
        if page:  # a browser: the session cookie, HTML back
            headers = {"Cookie": self.cookie}
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as err:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            self.records.append((kind, 0, time.perf_counter() - start))
            self.failures.append(f"{kind} {method} {path}: {err.__class__.__name__}: {err}")
            return None
        elapsed = time.perf_counter() - start
        self.records.append((kind, status, elapsed))
        if status != expect:
            self.failures.append(f"{kind} {method} {path}: HTTP {status}: {data[:300]!r}")
            return None
        return data if page else json.loads(data)

    def run(self):
        self.gate.wait()
        if not self.token:
            return
        answers = [TRIAGE_ACCEPT, TRIAGE_DECLINE]
        while time.monotonic() < self.stop_at[0]:
            pick = self.rng.random()
            if pick < 0.7 / 3 and self.cookie:
                self.call("inbox_html", "GET", "/inbox", page=True)
            elif pick < 1.4 / 3 and self.paged_inbox:
                self.call("inbox_page", "GET", "/api/v1/inbox")
            elif pick < 0.7:
                self.call("inbox", "GET", "/api/v1/tasks")
            elif pick < 0.85 and self.tasks:
                task_id = self.tasks.popleft()
                self.call("complete", "POST", f"/api/v1/tasks/{task_id}/complete", {"data": self.rng.choice(answers)})
            else:
                started = self.call("start", "POST", f"/api/v1/processes/{TRIAGE}/instances", {"data": START_DATA}, expect=201)
                if started:
                    found = self.call("lookup", "GET", f"/api/v1/tasks?instance={started['id']}")
                    if found and found["tasks"]:
                        self.tasks.append(found["tasks"][0]["id"])
        if self.conn is not None:
            self.conn.close()


def _has_paged_inbox(port: int, token: str | None) -> bool:
    """Whether this apflow serves the paged inbox, GET /api/v1/inbox."""
    if not token:
        return False
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status == 200


def _issue_tokens(url: str, work: Path, names: list[str]) -> dict[str, str]:
    """Tokens made by the service POST /api/v1/tokens calls after checking the password (quick mode:
    20 full-cost Argon2 logins would take ~3 s of the minute)."""
    core = make_core(url, work)
    tokens = {}
    with core.db.session() as s:
        for name in names:
            tokens[name] = users_service.issue_token(s, users_service.user_by_name(s, name), core.settings.token_hours)
    core.db.dispose()
    return tokens


def run(db: str, workdir: Path, seconds: float, users: int = 20, per_user: int = 10, login: bool = True) -> dict:
    work = workdir / f"http-{db}"
    work.mkdir(parents=True, exist_ok=True)
    url = fresh_database(db, work, "http")
    port = _free_port()
    proc, log = _launch_server(url, work, port)  # boots while the users and their referrals are made
    try:
        core = make_core(url, work)
        names = [f"user{n:02d}" for n in range(users)]
        people = make_users(core, {name: ["coordinator"] for name in names})
        with core.db.session() as s:  # a full-cost Argon2 hash, as a real account has (no rehash at login)
            s.execute(update(UserRow).values(password_hash=PasswordHasher().hash(PASSWORD)))
        deploy_triage(core)
        own = {}
        for name in names:
            own[name] = []
            for _ in range(per_user):
                started = instances.start_instance(core, people[name], TRIAGE, START_DATA)
                own[name].append(instances.list_ready_tasks(core, people[name], started["id"])[0]["id"])
        core.db.dispose()
        _wait_serving(proc, log, port)
        if login:
            # Set-up. On SQLite one login at a time: concurrent logins hit "database is locked" (see
            # docs/performance.md), which is a finding, not something to measure here.
            with ThreadPoolExecutor(max_workers=1 if db == "sqlite" else 4) as pool:
                got = dict(zip(names, pool.map(lambda name: _token(port, name), names)))
            tokens = {name: token for name, (token, _) in got.items()}
            token_failures = sum(failed for _, failed in got.values())
        else:
            tokens, token_failures = _issue_tokens(url, work, names), 0

        paged = _has_paged_inbox(port, tokens[names[0]])
        with ThreadPoolExecutor(max_workers=1 if db == "sqlite" else 4) as pool:  # set-up, like the tokens
            cookies = dict(zip(names, pool.map(lambda name: _session_cookie(port, name), names)))
        stop_at = [float("inf")]
        gate = threading.Barrier(users + 1)
        threads = [User(name, port, tokens[name], own[name], seed=n, start_gate=gate, stop_at=stop_at, paged_inbox=paged,
                        cookie=cookies[name]) for n, name in enumerate(names)]
        for t in threads:
            t.start()
        gate.wait()
        began = time.monotonic()
        stop_at[0] = began + seconds
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - began
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    server_errors = [line for line in log.read_text().splitlines() if " ERROR " in line or "Traceback" in line]
    core = make_core(url, work)
    with reading(core) as s:
        open_at_end = s.scalar(text("SELECT count(*) FROM human_tasks WHERE state = 'ready'"))
    core.db.dispose()

    records = [r for t in threads for r in t.records]
    failures = [f for t in threads for f in t.failures]
    ok = [r for r in records if r[1] in (200, 201)]
    out = {"db": db, "users": users, "paged_inbox_in_mix": paged, "open_tasks_at_start": users * per_user,
           "open_tasks_at_end": open_at_end, "tokens_from": "POST /api/v1/tokens" if login else "users.issue_token (in-process)", "seconds": elapsed, "server_threads": SERVER_THREADS, "requests": len(records),
           "requests_per_second": len(records) / elapsed, "errors": len(records) - len(ok) + sum(1 for t in threads if not t.token) + sum(1 for t in threads if not t.cookie),
           "latency_ms": summary([r[2] for r in records]), "by_kind": {}, "failures": failures[:20],
           "failure_count": len(failures), "token_failures": token_failures,
           "signed_in_sessions": sum(1 for c in cookies.values() if c),
           "server_error_lines": server_errors[:20]}
    for kind in ("inbox_html", "inbox_page", "inbox", "complete", "start", "lookup"):
        out["by_kind"][kind] = summary([r[2] for r in records if r[0] == kind]) | {
            "errors": sum(1 for r in records if r[0] == kind and r[1] not in (200, 201))}
    return out


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        rows.append([r["db"], "all", r["requests"], r["requests_per_second"], r["latency_ms"]["p50"], r["latency_ms"]["p95"],
                     r["latency_ms"]["p99"], r["errors"]])
        for kind, s in r["by_kind"].items():
            if not s["n"]:
                continue
            rows.append([r["db"], kind, s["n"], s["n"] / r["seconds"], s.get("p50", float("nan")), s.get("p95", float("nan")),
                         s.get("p99", float("nan")), s["errors"]])
    say(table(["db", "requests", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows))
    for r in results:
        say(f"  {r['db']}: open triage tasks {r['open_tasks_at_start']} at the start, {r['open_tasks_at_end']} at the end")
        if r["token_failures"]:
            say(f"  {r['db']}: {r['token_failures']} POST /api/v1/tokens failed during set-up (retried)")
        for line in r["failures"][:5] + r["server_error_lines"][:5]:
            say(f"  {r['db']}: {line}")
