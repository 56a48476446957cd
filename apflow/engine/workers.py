"""Run the engine's steps in worker processes, so that what a diagram's code does cannot hold up the server.

The sandbox (apflow.engine.sandbox) checks a script between operations; it cannot interrupt one operation
that runs inside C (big-number arithmetic, comparing or printing huge values), nor SpiffWorkflow's own work
(a process that calls itself). So every step that runs diagram code (start, complete a task, fire timers,
send a signal) runs here, in a pool of warm worker processes that:

- hold no database session and no lock: the services read before and write after (see instances.py);
- have limits: processor time per step (RLIMIT_CPU, reset before each step: SIGXCPU ends the worker even
  inside C code) and address space (RLIMIT_AS: an allocation beyond it fails in the worker, not in the
  server), with a wall-clock watchdog in the server as a backstop;
- are killed and replaced when a step overruns; the step then fails with a plain message naming the element
  that was running, and only that instance is affected;
- check the size of what they send back (the state, the process data, due times) before the server reads it.

The server sends the stored state (plain JSON) and the action; the worker restores the workflow onto a
parsed spec it keeps per version (sent once per worker), runs WorkflowHost.run_step, and answers with the
StepOutcome as JSON, so nothing the worker says is ever unpickled by the server.

`Engine` runs steps in the calling process instead: for tests that need it and for library benchmarks
(the setting APFLOW_ENGINE_PROCESSES=0).
"""
from __future__ import annotations

import atexit
import json
import math
import multiprocessing
import resource
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from apflow.clock import clock

from .diagrams import SpecBundle
from .forms import FormRef
from .runtime import FiredTimer, ReadyHumanTask, StepOutcome, TaskNotReady, WaitingTimer, WorkflowHost, describe_failure, element_name
from .sandbox import SandboxLimitExceeded

STEP_CPU_SECONDS = 2          # processor time one step may use (whole seconds: RLIMIT_CPU's unit)
WORKER_MEMORY_MB = 512        # address space a worker may take beyond what it holds when it starts
MAX_REPLY_BYTES = 16 * 2**20  # the state, data and due times one step may hand back, as JSON
STEP_WALL_SECONDS = 60.0      # backstop: a worker that neither finishes nor uses processor time is killed
SPECS_PER_WORKER = 32         # parsed versions each worker keeps
PROGRESS_BYTES = 240          # room for the name of the element a worker is running


def step_cpu_seconds(script_seconds: float) -> int:
    """The processor time one step may use: STEP_CPU_SECONDS, or more when one script may run longer (the backstop
    must not stop a script before its own limits, the time and the sandbox's steps, do)."""
    return max(STEP_CPU_SECONDS, math.ceil(script_seconds) + 1)


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = STEP_CPU_SECONDS
    memory_mb: int = WORKER_MEMORY_MB
    reply_bytes: int = MAX_REPLY_BYTES
    wall_seconds: float = STEP_WALL_SECONDS


@dataclass(frozen=True)
class WorkerSetup:
    """How a worker builds its WorkflowHost. Sent to new processes, so it must pickle: helpers_factory is a
    module-level function called as helpers_factory(context_and_now, **helper_options) that returns the script
    helpers; context_and_now() gives (what the pool's context callable returned when the step was sent, the
    step's time). For apflow the context is the term calendar (school_calendar.helpers takes exactly this)."""
    helpers_factory: Callable | None = None
    helper_options: dict = field(default_factory=dict)
    script_seconds: float = 1.0


class StepFailed(Exception):
    """The step failed in the engine; str() is the plain account, naming the element, to show and store."""


class StepStopped(StepFailed):
    """The worker running the step was stopped: it used up its processor time or memory, or stopped answering."""


class Engine:
    """Runs steps in this process (no isolation): the host's own sandbox limits only."""

    isolated = False

    def warm_up(self) -> None:
        """Nothing to start: steps run here."""

    def __init__(self, host: WorkflowHost):
        self.host = host

    def run(self, key: str, spec: Callable[[], dict], bundle: Callable[[], SpecBundle], state: dict | None,
            action: dict, workflow=None) -> StepOutcome:
        """One action on one instance. key names the deployed version (process id and content hash), spec() gives
        its stored spec and bundle() the parsed one: each runner asks only for what it needs. workflow: the
        instance already restored from state by the caller, which this runner may use instead of restoring it."""
        return self.host.run_step(bundle(), state, action, clock.now(), workflow=workflow)

    def try_script(self, source: str) -> str | None:
        """Run a script once with no data, as deploy does: why a limit stopped it, or None (other failures are
        expected with no data)."""
        return _try_script(self.host, source)


class PooledEngine:
    """Runs steps in a pool of worker processes, with the context (term calendar) of one application."""

    isolated = True

    def __init__(self, pool: "EnginePool", context: Callable[[], object] = lambda: None):
        self.pool, self.context = pool, context

    def warm_up(self) -> None:
        self.pool.warm_up()

    def run(self, key: str, spec: Callable[[], dict], bundle: Callable[[], SpecBundle], state: dict | None,
            action: dict, workflow=None) -> StepOutcome:
        return self.pool.run(key, spec, state, action, self.context())

    def submit(self, key: str, spec: Callable[[], dict], state: dict | None, action: dict) -> "Pending":
        """Send the step to a worker and return at once (see Pending)."""
        return self.pool.submit(key, spec, state, action, self.context())

    def try_script(self, source: str) -> str | None:
        """Engine.try_script, in a worker: a script that stops its worker is stopped by a limit too."""
        try:
            return self.pool.submit(None, None, None, {"kind": "try_script", "script": source}, self.context()).result()
        except StepStopped as err:
            return str(err)


_POOLS: dict[tuple, "EnginePool"] = {}
_POOLS_LOCK = threading.Lock()


def runner(host: WorkflowHost, processes: int, setup: WorkerSetup, context: Callable[[], object] = lambda: None):
    """Where an application's steps run: in `processes` worker processes (shared by every application object of
    this process with the same setup, so tests and CLI commands do not multiply them), or here when 0."""
    if processes <= 0:
        return Engine(host)
    key = (setup.helpers_factory, tuple(sorted(setup.helper_options.items())), setup.script_seconds, processes)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = EnginePool(setup, workers=processes, limits=Limits(cpu_seconds=step_cpu_seconds(setup.script_seconds)))
    return PooledEngine(pool, context)


@atexit.register
def _close_pools() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


# -- the server's side -----------------------------------------------------------------------------------------

class _Worker:
    def __init__(self, ctx, setup: WorkerSetup, limits: Limits):
        self.conn, child = ctx.Pipe()
        self.progress = ctx.Array("c", PROGRESS_BYTES, lock=False)
        self.process = ctx.Process(target=_serve, args=(child, setup, limits, self.progress), name="apflow-engine", daemon=True)
        self.process.start()
        child.close()
        self.specs: OrderedDict[str, None] = OrderedDict()  # mirrors the worker's cache of parsed versions
        self.context = None                                 # the context object the worker holds

    def element(self) -> str | None:
        return _shown(self.progress)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class EnginePool:
    """Warm worker processes that run steps one at a time each; more start (up to max_workers) when all are busy."""

    isolated = True

    def __init__(self, setup: WorkerSetup, workers: int = 2, max_workers: int | None = None, limits: Limits = Limits(),
                 start_method: str = "forkserver"):
        self.setup, self.limits = setup, limits
        self.min_workers = max(1, workers)
        self.max_workers = max(self.min_workers, max_workers or 4 * self.min_workers)
        if start_method == "forkserver":
            # Workers fork from a server that has imported the engine once: a new worker is ready in milliseconds.
            factory = getattr(setup.helpers_factory, "__module__", None)
            multiprocessing.set_forkserver_preload([__name__, *([factory] if factory else [])])
        self._ctx = multiprocessing.get_context(start_method)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._alive = 0
        self._cond = threading.Condition()
        self._closed = False
        self.started = 0   # workers started, for tests and benchmarks
        self.stopped = 0   # workers killed after an overrun

    # -- workers ---------------------------------------------------------------------------
    def _take(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the engine pool is closed")
                if self._idle:
                    worker = self._idle.pop()
                    self._busy.add(worker)
                    return worker
                if self._alive < self.max_workers:
                    self._alive += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self._ctx, self.setup, self.limits)
        except BaseException:
            with self._cond:
                self._alive -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.started += 1
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            if healthy and not self._closed:
                self._idle.append(worker)
            else:
                self._alive -= 1
                if not healthy:
                    self.stopped += 1
            self._cond.notify()
        if not healthy or self._closed:
            worker.kill()

    def running(self) -> list[str]:
        """The elements the busy workers are running now (for tests and a status page)."""
        with self._cond:
            busy = list(self._busy)
        return [name for name in (w.element() for w in busy) if name]

    def warm_up(self) -> None:
        """Start the minimum number of workers now rather than on first use."""
        workers = [self._take() for _ in range(self.min_workers - len(self._idle))]
        for worker in workers:
            self._give_back(worker, True)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._alive -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.kill()

    # -- steps -----------------------------------------------------------------------------
    def run(self, key: str, spec: Callable[[], dict], state: dict | None, action: dict, context=None) -> StepOutcome:
        """One action on one instance in a worker. key names the deployed version (process id and content hash);
        spec() gives its stored spec, asked for only when the worker has not parsed it yet. context: what the
        helpers see (sent again only when it is another object than the worker holds)."""
        return self.submit(key, spec, state, action, context).result()

    def submit(self, key: str, spec: Callable[[], dict], state: dict | None, action: dict, context=None) -> "Pending":
        """Send the step to a worker and return at once; Pending.result() waits for it."""
        worker = self._take()
        try:
            request = {"key": key, "state": state, "action": action, "now": clock.now()}
            if key is not None and key not in worker.specs:
                request["spec"] = spec()
            if worker.context is not context:
                request["context"] = context
            worker.conn.send(request)
        except BaseException:
            self._give_back(worker, False)
            raise
        worker.context = context
        return Pending(self, worker, key, spec, request)

    def _answer(self, worker: _Worker, deadline: float) -> dict:
        try:
            while not worker.conn.poll(max(0.0, min(1.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    element = worker.element()
                    worker.kill()
                    raise StepStopped(_where(element) + f"the step did not finish within {self.limits.wall_seconds:g} s "
                                      "and was stopped; check for loops that never end")
            data = worker.conn.recv_bytes(self.limits.reply_bytes + 4096)
        except (EOFError, OSError, ConnectionError):
            element = worker.element()
            worker.kill()
            raise StepStopped(_where(element) + self._why_stopped(worker.process.exitcode)) from None
        return json.loads(data)

    def _why_stopped(self, exitcode) -> str:
        if exitcode == -signal.SIGXCPU or exitcode == -signal.SIGKILL:
            return (f"the step used more than {self.limits.cpu_seconds} s of processor time and was stopped; "
                    "check for loops that never end and for very large values")
        return (f"the step stopped unexpectedly, most likely because it needed more than {self.limits.memory_mb} MB "
                "of memory; work with smaller values")


class Pending:
    """A step sent to a worker. result() waits for it (a timeout returns None while it still runs); the worker
    goes back to the pool once its answer is read."""

    def __init__(self, pool: EnginePool, worker: _Worker, key: str, spec, request: dict):
        self.pool, self.worker, self.key, self.spec, self.request = pool, worker, key, spec, request
        self.deadline = time.monotonic() + pool.limits.wall_seconds
        self.reply: dict | None = None

    def result(self, timeout: float | None = None) -> StepOutcome | None:
        if self.reply is None:
            if timeout is not None and self.worker is not None and not self.worker.conn.poll(timeout):
                return None
            self.reply = self._receive()
        reply = self.reply
        if "ok" in reply:
            return _outcome_from_json(reply["ok"])
        if "tried" in reply:
            return reply["tried"]
        if reply.get("not_ready"):
            raise TaskNotReady(self.request["action"].get("task_id"))
        raise StepFailed(reply.get("error") or "the step failed")

    def _receive(self) -> dict:
        worker, healthy = self.worker, False
        self.worker = None
        try:
            reply = self.pool._answer(worker, self.deadline)
            if reply.get("need") == "spec":  # out of step with the worker: send the spec again
                worker.specs.clear()
                worker.conn.send({**self.request, "spec": self.spec()})
                reply = self.pool._answer(worker, self.deadline)
            healthy = not reply.get("recycle")
            if self.key is not None:
                worker.specs[self.key] = None
                worker.specs.move_to_end(self.key)
                while len(worker.specs) > SPECS_PER_WORKER:
                    worker.specs.popitem(last=False)
            return reply
        finally:
            self.pool._give_back(worker, healthy)

    def __del__(self):
        if self.worker is not None:  # abandoned unread (an error elsewhere): its worker may still be busy with it
            worker, self.worker = self.worker, None
            self.pool._give_back(worker, False)


def _shown(progress) -> str | None:
    """The element a worker said it is running."""
    name = bytes(progress.raw).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return name or None


def _where(element: str | None) -> str:
    return f"at '{element}' - " if element else ""


# -- the worker's side -----------------------------------------------------------------------------------------

def _limit_resources(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        with open("/proc/self/status") as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        size = 0
    if size:
        cap = size + limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


class _Context:
    """What the helpers read at call time: the context the server sent (an error stands for "there is none",
    e.g. no term dates yet, and is raised to the helper that asks) and the step's time."""

    def __init__(self):
        self.value = None

    def __call__(self):
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value, clock.now()


def _serve(conn, setup: WorkerSetup, limits: Limits, progress) -> None:
    """A worker's life: set the limits, build the host, answer steps until the server hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the server, which stops us
    _limit_resources(limits)
    context = _Context()
    helpers = setup.helpers_factory(context, **setup.helper_options) if setup.helpers_factory else {}
    host = WorkflowHost(helpers=helpers, script_seconds=setup.script_seconds)
    specs: OrderedDict[str, SpecBundle] = OrderedDict()

    def show(task):
        name = (element_name(task.task_spec) or "").encode()[:PROGRESS_BYTES - 1]
        if name:  # the engine's own steps (joins, the end) have none: the last element shown stays
            progress.raw = name + b"\0" * (PROGRESS_BYTES - len(name))

    host.observer = show
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        reply, recycle = _handle(host, specs, context, limits, request, progress)
        progress.raw = b"\0" * PROGRESS_BYTES
        conn.send_bytes(reply)
        if recycle:  # after running out of memory or stack, start afresh
            return


def _handle(host: WorkflowHost, specs: OrderedDict, context: _Context, limits: Limits, request: dict, progress) -> tuple[bytes, bool]:
    key = request["key"]
    recycle = False
    try:
        if request["action"]["kind"] == "try_script":
            context.value = request.get("context", context.value)
            clock.freeze(request["now"])
            _limit_cpu(limits.cpu_seconds)
            return json.dumps({"tried": _try_script(host, request["action"]["script"])}).encode(), False
        if "spec" in request:
            specs[key] = host.spec_from_dict(request["spec"])
        if key not in specs:
            return b'{"need": "spec"}', False
        specs.move_to_end(key)
        while len(specs) > SPECS_PER_WORKER:
            specs.popitem(last=False)
        if "context" in request:
            context.value = request["context"]
        clock.freeze(request["now"])
        _limit_cpu(limits.cpu_seconds)
        outcome = host.run_step(specs[key], request["state"], request["action"], request["now"])
        reply = {"ok": _outcome_to_json(outcome)}
        turned = []
        data = json.dumps(reply, default=lambda value: turned.append(value) or _plain(value), separators=(",", ":")).encode()
        if turned:  # dates became text: the ready tasks' data would not read back as a restore gives it, so it is left out
            reply["ok"]["task_data"] = reply["ok"]["task_properties"] = None
            data = json.dumps(reply, default=_plain, separators=(",", ":")).encode()
        if len(data) > limits.reply_bytes:
            raise StepFailed(f"the process holds more than {limits.reply_bytes // 2**20} MB of data after this step; "
                             "keep less data in it")
        return data, False
    except TaskNotReady:
        return b'{"not_ready": true}', False
    except MemoryError:
        recycle, message = True, _where(_shown(progress)) + (f"the step needed more than {limits.memory_mb} MB of memory "
                                                             "and was stopped; work with smaller values")
    except RecursionError:
        recycle, message = True, _where(_shown(progress)) + ("the step went too deep (a circle of steps that never "
                                                             "ends, or values nested too deeply) and was stopped")
    except StepFailed as err:
        message = str(err)
    except Exception as err:  # noqa: BLE001 - whatever the diagram did, it is reported, and the worker goes on
        message = describe_failure(err)
    finally:
        clock.reset()
    try:
        # A failure may hold the diagram's text; keep the answer small.
        return json.dumps({"recycle": recycle, "error": message[:2000]}).encode(), recycle
    except (TypeError, ValueError, MemoryError, RecursionError):
        return b'{"recycle": true, "error": "the step failed"}', True


def _try_script(host: WorkflowHost, source: str) -> str | None:
    try:
        host.script_engine.environment.execute(source, {})
    except SandboxLimitExceeded as err:
        return str(err)[:2000]
    except Exception:  # noqa: BLE001 - expected without process data
        return None
    return None


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError("the process data holds a value that cannot be saved; keep to text, numbers, lists and objects")


# -- StepOutcome as JSON -----------------------------------------------------------------------------------------

def _outcome_to_json(outcome: StepOutcome) -> dict:
    def task(t: ReadyHumanTask) -> dict:
        row = dict(t.__dict__)
        row["form"] = [t.form.schema_file, t.form.ui_file]
        return row

    def timer(t: WaitingTimer) -> dict:
        return {**t.__dict__, "due_at": t.due_at.isoformat()}

    return {"state": outcome.state, "completed": outcome.completed, "data": outcome.data,
            "ready": [task(t) for t in outcome.ready], "waiting": [timer(t) for t in outcome.waiting],
            "due": {k: v.isoformat() for k, v in outcome.due.items()}, "before": outcome.before,
            "timers_before": [timer(t) for t in outcome.timers_before],
            "fired": [[f.task_id, f.skipped] for f in outcome.fired], "caught": outcome.caught, "effects": outcome.effects,
            "task_data": outcome.task_data, "task_properties": outcome.task_properties}


def _outcome_from_json(data: dict) -> StepOutcome:
    def task(row: dict) -> ReadyHumanTask:
        return ReadyHumanTask(**{**row, "form": FormRef(*row["form"])})

    def timer(row: dict) -> WaitingTimer:
        return WaitingTimer(**{**row, "due_at": datetime.fromisoformat(row["due_at"])})

    return StepOutcome(data["state"], data["completed"], data["data"], [task(t) for t in data["ready"]],
                       [timer(t) for t in data["waiting"]], {k: datetime.fromisoformat(v) for k, v in data["due"].items()},
                       data["before"], [timer(t) for t in data["timers_before"]],
                       [FiredTimer(task_id, skipped) for task_id, skipped in data["fired"]], data["caught"], data.get("effects") or [],
                       data.get("task_data"), data.get("task_properties"))

