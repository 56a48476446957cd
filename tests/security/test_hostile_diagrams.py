"""Hostile diagrams that got past `apflow validate` and deploy (issue 14): work held inside C where no tick check
reaches it, comparisons of huge shared structures, values turned into text outside the sandbox, a process that
calls itself, a multi-instance of 100,000. Each is now refused at validate/deploy, or runs in a worker process
and fails only its own instance, with a plain message naming the element, while other people's requests are
answered and the server's memory stays where it was.

No test here depends on how fast the machine is: the workers' limits are counted in processor time and bytes,
and "another request is answered first" is shown by ordering (the hostile step is seen running in a worker, the
other request returns, and only then does the hostile step end or is found stopped by its processor-time limit).
"""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from apflow import school_calendar
from apflow.config import ROOT
from apflow.engine.diagrams import parse_sources
from apflow.engine.problems import InvalidDiagram
from apflow.engine.runtime import MAX_AUTOMATIC_STEPS, MAX_CALL_DEPTH, WorkflowHost, describe_failure
from apflow.engine.validate import MAX_INSTANCES, check
from apflow.engine.workers import EnginePool, Limits, PooledEngine, StepFailed, WorkerSetup, step_cpu_seconds
from apflow.errors import WorkflowFailed
from apflow.services import instances, processes
from apflow.services.records import KNOWN_KINDS

FORMS = ROOT / "forms"
HANG_GUARD = 120  # seconds: only turns a hang into a failure, never decides a result
WORKER_MEMORY_MB = 100
HOSTILE_LIMITS = Limits(cpu_seconds=1, memory_mb=WORKER_MEMORY_MB)

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">"""
FORMLESS = '<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formless" value="true" />' \
           '</spiffworkflow:properties></bpmn:extensionElements>'


def chain(pid: str, *elements, calls: str = "", begin: bool = True) -> str:
    """start -> 'Begin' (a coordinator's task, no form; left out with begin=False) -> elements, in order -> end.
    Each element is (tag, id, name, inner XML, extra attributes)."""
    nodes = [("startEvent", "Start_1", "", "", ""), *([("userTask", "Task_begin", "Begin", FORMLESS, "")] if begin else []),
             *elements, ("endEvent", "End_1", "", "", "")]
    lane = "".join(f"<bpmn:flowNodeRef>{n[1]}</bpmn:flowNodeRef>" for n in nodes if n[0] in ("startEvent", "userTask"))
    body = []
    for i, (tag, node_id, name, inner, attrs) in enumerate(nodes):
        flows = (f"<bpmn:incoming>Flow_{i}</bpmn:incoming>" if i else "") + (
            f"<bpmn:outgoing>Flow_{i + 1}</bpmn:outgoing>" if i < len(nodes) - 1 else "")
        head, _, rest = inner.rpartition("</bpmn:extensionElements>")  # extension elements come first
        head = head + "</bpmn:extensionElements>" if head else ""
        body.append(f'<bpmn:{tag} id="{node_id}" name="{escape(name)}" {attrs}>{head}{flows}{rest}</bpmn:{tag}>')
        if i < len(nodes) - 1:
            body.append(f'<bpmn:sequenceFlow id="Flow_{i + 1}" sourceRef="{node_id}" targetRef="{nodes[i + 1][1]}" />')
    return HEAD.format(pid=pid) + f"""
  <bpmn:process id="{pid}" name="Hostile {pid}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{pid}"><bpmn:lane id="Lane_{pid}" name="AP Coordinator">{lane}</bpmn:lane></bpmn:laneSet>
    {''.join(body)}{calls}
  </bpmn:process>
</bpmn:definitions>"""


def script(node_id: str, name: str, code: str):
    return ("scriptTask", node_id, name, f"<bpmn:script>{escape(code)}</bpmn:script>", "")


def due_task(node_id: str, name: str, due_in: str):
    props = (f'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formless" value="true" />'
             f'<spiffworkflow:property name="dueIn" value="{escape(due_in, {chr(34): "&quot;"})}" />'
             '</spiffworkflow:properties></bpmn:extensionElements>')
    return ("userTask", node_id, name, props, "")


def call(node_id: str, name: str, called: str):
    return ("callActivity", node_id, name, "", f'calledElement="{called}"')


def many(node_id: str, name: str, cardinality: str, code: str = "x = 1"):
    inner = (f'<bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>{escape(cardinality)}'
             f'</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics><bpmn:script>{escape(code)}</bpmn:script>')
    return ("scriptTask", node_id, name, inner, "")


def problems_for(*sources: str):
    files = {f"hostile_{i}.bpmn": source.encode() for i, source in enumerate(sources)}
    return check(files, FORMS, record_kinds=KNOWN_KINDS).problems


def refused(*sources: str, element: str, words: tuple[str, ...]):
    problems = problems_for(*sources)
    mine = [p for p in problems if p.element == element]
    assert mine, f"expected a problem on {element}, got {[str(p) for p in problems]}"
    text = " ".join(f"{p.message} {p.fix}" for p in mine).lower()
    for word in words:
        assert word.lower() in text, text
    assert all(p.fix for p in mine)
    return mine


# -- helpers for the worker: test-only stand-ins for holes in the sandbox not found yet --------------------------

def crunch() -> int:
    """Big-number division inside C, as `(0).from_bytes(...) // ...` was: minutes, and no budget check runs."""
    return (1 << 24_000_000) // ((1 << 12_000_000) - 1)


def hold(marker: str) -> str:
    """Wait until the test says so: a step that is provably still running while others are served."""
    import time

    while not Path(marker).exists():
        time.sleep(0.01)
    return "released"


def hostile_helpers(context_and_now, **options) -> dict:
    return {**school_calendar.helpers(context_and_now, **options), "crunch": crunch, "hold": hold}


@pytest.fixture(scope="module")
def hostile_pool():
    pool = EnginePool(WorkerSetup(hostile_helpers, {}, 3600.0), workers=2, max_workers=4, limits=HOSTILE_LIMITS)
    yield pool
    pool.close()


@pytest.fixture
def isolated(core, hostile_pool):
    """The app, its diagram code run by the hostile pool (tight limits, the test helpers)."""
    core.steps = PooledEngine(hostile_pool, core._calendar_for_workers)
    core.script_helpers = lambda: hostile_helpers(core._calendar_now)  # so validation knows crunch() and hold() too
    return core


def deploy(core, tmp_path, pid: str, xml: str):
    path = tmp_path / f"{pid}.bpmn"
    path.write_text(xml)
    assert processes.check_paths(core, [path])[0].problems == []
    processes.deploy_paths(core, [path], by="test")


def begin(core, user, pid: str) -> str:
    """Start an instance and return its first task (the coordinator's 'Begin')."""
    started = instances.start_instance(core, user, pid, {})
    [task] = instances.list_ready_tasks(core, user, started["id"])
    return task["id"], started["id"]


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


class Background:
    """A request made in another thread, as a second client would."""

    def __init__(self, call, *args):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(call, *args), daemon=True)
        self.thread.start()

    def _run(self, call, *args):
        try:
            self.result = call(*args)
        except Exception as err:  # noqa: BLE001 - the test reads it
            self.error = err

    def join(self):
        self.thread.join(HANG_GUARD)
        assert not self.thread.is_alive(), "the request never returned"


def wait_until_running(pool: EnginePool, element: str) -> None:
    """Until a worker is seen running `element` (the hostile step is under way)."""
    done = threading.Event()
    for _ in range(HANG_GUARD * 100):
        if element in pool.running():
            return
        done.wait(0.01)
    pytest.fail(f"no worker ran '{element}'")


def bystander_completes(core, people) -> dict:
    """Another person's ordinary step on another placement: start a referral and triage it."""
    started = instances.start_instance(core, people["coordinator2"], "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator2"], started["id"])
    return instances.complete_task(core, people["coordinator2"], task["id"], {"decision": "decline", "rationale": "Needs met in school"})


def hostile_failed(core, people, instance_id: int, request: Background, element: str, *words: str) -> str:
    request.join()
    assert isinstance(request.error, WorkflowFailed), request.error or request.result
    message = request.error.message
    assert f"'{element}'" in message, message
    for word in words:
        assert word in message, message
    shown = instances.get_instance(core, people["manager"], instance_id)
    assert shown["status"] == "error" and f"'{element}'" in shown["error"]["message"]
    for python in ("Error:", "Exception", "Exceeded:", "Traceback", "<"):  # no class names or reprs
        assert python not in shown["error"]["message"], shown["error"]["message"]
    return message


# -- 1. arithmetic held inside C -----------------------------------------------------------------------------------

def test_building_a_huge_number_from_bytes_is_refused_at_validate():
    for code in ("x = (0).from_bytes(b'\\xff' * 100000, 'big') // 3", "x = int.from_bytes(b'\\xff' * 100000, 'big')"):
        [problem] = refused(chain("bigint", script("Task_big", "Big sum", code)), element="Task_big", words=("from_bytes",))
        assert "'Big sum'" in problem.message


def test_division_of_huge_numbers_is_refused_before_it_starts(core):
    environment = core.host.script_engine.environment
    with pytest.raises(Exception, match="size limit reached"):
        environment.execute("n = 2 ** 30000\nm = n * n\nq = (m * m) // 3", {})


def test_arithmetic_inside_c_is_stopped_by_the_workers_processor_limit_and_holds_up_nobody(isolated, people, triage, tmp_path, hostile_pool):
    core = isolated
    deploy(core, tmp_path, "crunching", chain("crunching", script("Task_crunch", "Work it out", "x = crunch()")))
    task_id, instance_id = begin(core, people["coordinator"], "crunching")
    hostile = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    wait_until_running(hostile_pool, "Work it out")
    done = bystander_completes(core, people)            # a write, on SQLite too: no lock is held while it computes
    still_running = hostile.thread.is_alive()
    assert done["instance"]["status"] == "completed"
    message = hostile_failed(core, people, instance_id, hostile, "Work it out", "processor time")
    assert still_running or "processor time" in message
    assert hostile_pool.stopped >= 1


def test_a_timer_that_computes_for_ever_holds_up_nobody_and_backs_off(isolated, people, triage, tmp_path, hostile_pool, frozen_clock):
    """The scheduler's side: the firing is stopped, recorded on its own instance, and not tried again until its
    back-off has passed; meanwhile other people's steps go on."""
    core = isolated
    timer = ("intermediateCatchEvent", "Timer_wait", "Wait a minute", '<bpmn:timerEventDefinition><bpmn:timeDuration '
             'xsi:type="bpmn:tFormalExpression">PT1M</bpmn:timeDuration></bpmn:timerEventDefinition>', "")
    xml = chain("late", timer, script("Task_crunch", "Late work", "x = crunch()"), ("userTask", "Task_next", "Next", FORMLESS, ""))
    deploy(core, tmp_path, "late", xml)
    task_id, instance_id = begin(core, people["coordinator"], "late")
    instances.complete_task(core, people["coordinator"], task_id, {})
    frozen_clock.advance(timedelta(minutes=2))
    sweep = Background(instances.fire_due_timers, core)
    wait_until_running(hostile_pool, "Late work")
    done = bystander_completes(core, people)
    still_running = sweep.thread.is_alive()
    assert done["instance"]["status"] == "completed"
    sweep.join()
    assert sweep.error is None and sweep.result == 0
    shown = instances.get_instance(core, people["manager"], instance_id)
    assert shown["status"] == "error" and "'Late work'" in shown["error"]["message"]
    assert still_running or "processor time" in shown["error"]["message"]
    stopped = hostile_pool.stopped
    assert instances.fire_due_timers(core) == 0 and hostile_pool.stopped == stopped  # backing off: not run again yet


def test_a_start_that_computes_for_ever_holds_up_nobody_and_keeps_nothing(isolated, people, triage, tmp_path, hostile_pool):
    core = isolated
    xml = chain("greedy", script("Task_crunch", "Work it out first", "x = crunch()"), ("userTask", "Task_next", "Next", FORMLESS, ""),
                begin=False)
    deploy(core, tmp_path, "greedy", xml)
    hostile = Background(instances.start_instance, core, people["coordinator"], "greedy", {})
    wait_until_running(hostile_pool, "Work it out first")
    done = bystander_completes(core, people)
    still_running = hostile.thread.is_alive()
    assert done["instance"]["status"] == "completed"
    hostile.join()
    assert isinstance(hostile.error, WorkflowFailed), hostile.result
    assert "could not start" in hostile.error.message and "'Work it out first'" in hostile.error.message
    assert still_running or "processor time" in hostile.error.message
    assert [p for p in processes.list_processes(core) if p["id"] == "greedy"][0]["versions"][0]["active_instances"] == 0


def test_a_step_that_never_ends_holds_up_nobody_while_it_runs(isolated, people, triage, tmp_path, hostile_pool):
    """The strict form of the ordering: the other person's step returns while the hostile one is provably running."""
    core = isolated
    marker = tmp_path / "release"
    deploy(core, tmp_path, "holding", chain("holding", script("Task_hold", "Hold on", f"x = hold({str(marker)!r})")))
    task_id, instance_id = begin(core, people["coordinator"], "holding")
    hostile = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    wait_until_running(hostile_pool, "Hold on")
    assert bystander_completes(core, people)["instance"]["status"] == "completed"
    assert instances.get_instance(core, people["manager"], instance_id)["status"] == "running"
    assert hostile.thread.is_alive() and "Hold on" in hostile_pool.running()
    marker.write_text("go")
    hostile.join()
    assert hostile.error is None and hostile.result["instance"]["status"] == "completed"


def test_the_trial_run_at_deploy_happens_in_a_worker_too(isolated):
    """Deploy and the editor's Validate try each script once: that too runs where a limit can stop it."""
    assert isolated.steps.try_script("x = 1") is None
    assert "processor time" in isolated.steps.try_script("x = crunch()")


# -- 2. comparing large nested structures built from shared references ---------------------------------------------

SHARED = """row = [0] * 1000
a = [row] * 1000
b = [list(row) for i in range(1000)]
same = 0
for i in range(1000000):
    if a == b:
        same += 1
"""


def test_comparing_huge_shared_structures_fails_only_its_own_instance(isolated, people, triage, tmp_path, hostile_pool):
    core = isolated
    deploy(core, tmp_path, "comparing", chain("comparing", script("Task_compare", "Compare", SHARED)))
    task_id, instance_id = begin(core, people["coordinator"], "comparing")
    hostile = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    wait_until_running(hostile_pool, "Compare")
    done = bystander_completes(core, people)
    still_running = hostile.thread.is_alive()
    assert done["instance"]["status"] == "completed"
    message = hostile_failed(core, people, instance_id, hostile, "Compare", "processor time")
    assert still_running or "processor time" in message


def test_building_values_from_shared_references_fails_only_its_own_instance(isolated, people, tmp_path):
    """The sandbox counts every shared reference each time it occurs; measuring costs time too, so whichever
    comes first stops it: the sandbox's size limit, or the worker's processor time."""
    core = isolated
    code = "x = [0]\nfor i in range(40):\n    x = [x, x]"
    deploy(core, tmp_path, "doubling", chain("doubling", script("Task_double", "Double up", code)))
    task_id, instance_id = begin(core, people["coordinator"], "doubling")
    request = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    message = hostile_failed(core, people, instance_id, request, "Double up")
    assert "size limit reached" in message or "processor time" in message


# -- 3. values turned into text outside the sandbox --------------------------------------------------------------

def test_a_due_in_that_gives_a_huge_value_fails_its_own_instance_before_it_becomes_text(isolated, people, tmp_path):
    core = isolated
    xml = chain("dueing", script("Task_fill", "Fill", "text = 'a' * 1000"), due_task("Task_due", "Due soon", "[text] * 5000"))
    deploy(core, tmp_path, "dueing", xml)
    task_id, instance_id = begin(core, people["coordinator"], "dueing")
    request = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    hostile_failed(core, people, instance_id, request, "Due soon", "size limit reached")


def test_a_timer_expression_that_gives_a_huge_value_fails_its_own_instance(isolated, people, tmp_path):
    core = isolated
    timer = ("intermediateCatchEvent", "Timer_wait", "Wait a while",
             '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">[text] * 5000'
             '</bpmn:timeDuration></bpmn:timerEventDefinition>', "")
    deploy(core, tmp_path, "timing", chain("timing", script("Task_fill", "Fill", "text = 'a' * 1000"), timer))
    task_id, instance_id = begin(core, people["coordinator"], "timing")
    request = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    hostile_failed(core, people, instance_id, request, "Wait a while", "size limit reached")


def test_memory_runs_out_in_the_worker_not_in_the_server(isolated, people, triage, tmp_path, hostile_pool):
    core = isolated
    code = "\n".join(f"v{i} = list(range(1000000))" for i in range(8))  # ~36 MB each, within the sandbox's counts
    deploy(core, tmp_path, "hoarding", chain("hoarding", script("Task_hoard", "Hoard", code)))
    task_id, instance_id = begin(core, people["coordinator"], "hoarding")
    peak = peak_rss_bytes()
    hostile = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    done = bystander_completes(core, people)
    assert done["instance"]["status"] == "completed"
    hostile_failed(core, people, instance_id, hostile, "Hoard", "memory")
    # The worker tried for well over WORKER_MEMORY_MB; the server's own peak did not move by anything like it.
    assert peak_rss_bytes() - peak < WORKER_MEMORY_MB // 2 * 2**20


def test_a_process_holding_more_data_than_a_step_may_hand_back_fails_in_the_worker(isolated, people, tmp_path):
    core = isolated
    code = "\n".join(f"v{i} = 'x' * 900000" for i in range(20))
    deploy(core, tmp_path, "bloating", chain("bloating", script("Task_bloat", "Bloat", code)))
    task_id, instance_id = begin(core, people["coordinator"], "bloating")
    request = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    request.join()
    # Whichever the worker meets first, its memory or the size of what it may hand back, the server reads nothing.
    assert isinstance(request.error, WorkflowFailed) and ("MB of data" in request.error.message or "memory" in request.error.message)
    assert instances.get_instance(core, people["manager"], instance_id)["status"] == "error"


# -- 4. a process that calls itself; a multi-instance of 100,000 -------------------------------------------------

def test_a_process_that_calls_itself_is_refused():
    [problem] = refused(chain("selfish", call("Call_self", "Again", "selfish")), element="Call_self",
                        words=("'again'", "'hostile selfish'", "without end"))
    assert "Remove the call" in problem.fix


def test_processes_that_call_each_other_in_a_circle_are_refused():
    first = chain("ping", call("Call_pong", "Ask pong", "pong"))
    second = chain("pong", call("Call_ping", "Ask ping", "ping"))
    problems = [p for p in problems_for(first, second) if "without end" in p.message]
    assert problems and {p.element for p in problems} <= {"Call_ping", "Call_pong"}
    assert "'Hostile ping'" in problems[0].message and "'Hostile pong'" in problems[0].message


def test_a_call_cycle_is_refused_at_deploy_and_nothing_is_deployed(core, tmp_path):
    path = tmp_path / "selfish.bpmn"
    path.write_text(chain("selfish", call("Call_self", "Again", "selfish")))
    with pytest.raises(InvalidDiagram) as err:
        processes.deploy_paths(core, [path], by="test")
    assert any(p.element == "Call_self" for p in err.value.problems)
    assert processes.list_processes(core) == []


SELF_CALL = HEAD.format(pid="selfish") + """
  <bpmn:process id="selfish" isExecutable="true">
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="Call_self" name="Again" calledElement="selfish">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Call_self" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Call_self" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_call_cycle_that_reached_the_engine_is_stopped_by_the_step_meter():
    """Defence in depth for versions deployed before the check: the engine counts automatic steps, so a process
    that starts itself without waiting for anyone stops after a known amount of work, on any machine."""
    bundle = parse_sources({"selfish.bpmn": SELF_CALL.encode()}).bundle("selfish")
    with pytest.raises(Exception) as err:
        WorkflowHost().start(bundle, {})
    message = describe_failure(err.value)
    assert "'Again'" in message and f"more than {MAX_CALL_DEPTH} deep" in message


def test_a_literal_cardinality_above_the_limit_is_refused():
    [problem] = refused(chain("swarm", many("Task_many", "Copy out", "100000")), element="Task_many",
                        words=("100,000", f"{MAX_INSTANCES:,}"))
    assert "'Copy out'" in problem.message
    assert not [p for p in problems_for(chain("swarm", many("Task_many", "Copy out", "5"))) if p.element == "Task_many"]


def test_a_cardinality_from_data_above_the_limit_fails_only_its_own_instance(isolated, people, tmp_path):
    core = isolated
    deploy(core, tmp_path, "swarming", chain("swarming", script("Task_count", "Count", "n = 100000"),
                                             many("Task_many", "Copy out", "n")))
    task_id, instance_id = begin(core, people["coordinator"], "swarming")
    request = Background(instances.complete_task, core, people["coordinator"], task_id, {})
    message = hostile_failed(core, people, instance_id, request, "Copy out", f"{MAX_INSTANCES:,}")
    assert "100,000 copies" in message


LOOP = ('<bpmn:standardLoopCharacteristics {attrs}>{condition}</bpmn:standardLoopCharacteristics>'
        '<bpmn:script>i = 1</bpmn:script>')


@pytest.mark.parametrize("attrs, condition, words", [
    ('loopMaximum="5000"', "", ("5,000", f"{MAX_INSTANCES:,}")),
    ("", "", ("loop",)),  # SpiffWorkflow's own parser refuses this one
    ("", '<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">True</bpmn:loopCondition>', ("no loop maximum",)),
])
def test_loops_without_a_bound_are_refused(attrs, condition, words):
    loop = ("scriptTask", "Task_loop", "Go round", LOOP.format(attrs=attrs, condition=condition), "")
    refused(chain("looping", loop), element="Task_loop", words=words)


def circle() -> str:
    """Begin -> 'Round' -> 'And round' -> back to 'Round', for ever."""
    return chain("circling", script("Task_a", "Round", "x = 1"), script("Task_b", "And round", "x = 2")).replace(
        '<bpmn:outgoing>Flow_4</bpmn:outgoing>', '<bpmn:outgoing>Flow_back</bpmn:outgoing>').replace(
        '<bpmn:sequenceFlow id="Flow_4" sourceRef="Task_b" targetRef="End_1" />',
        '<bpmn:sequenceFlow id="Flow_back" sourceRef="Task_b" targetRef="Task_a" />').replace(
        '<bpmn:incoming>Flow_4</bpmn:incoming>', '').replace(
        '<bpmn:incoming>Flow_2</bpmn:incoming>', '<bpmn:incoming>Flow_2</bpmn:incoming><bpmn:incoming>Flow_back</bpmn:incoming>')


def test_a_circle_of_scripts_with_no_way_out_is_refused():
    problems = [p for p in problems_for(circle()) if "for ever" in p.message]
    assert problems and problems[0].element in {"Task_a", "Task_b"}


def test_a_circle_that_reached_the_engine_is_stopped_in_its_worker(hostile_pool):
    """SpiffWorkflow nests each round of a circle deeper (it may even fail while looking ahead at the start), so
    it ends in the worker before the step meter's MAX_AUTOMATIC_STEPS: the step fails, the worker is replaced."""
    bundle = parse_sources({"circling.bpmn": circle().encode()}).bundle("circling")
    spec = WorkflowHost().spec_to_dict(bundle)
    with pytest.raises(StepFailed) as err:
        started = hostile_pool.run("circling", lambda: spec, None, {"kind": "start", "data": {}})
        [task] = started.ready
        hostile_pool.run("circling", lambda: spec, started.state, {"kind": "complete", "task_id": task.id, "data": {}})
    message = str(err.value)
    assert "too deep" in message or f"{MAX_AUTOMATIC_STEPS:,} automatic steps" in message, message


@pytest.mark.parametrize("element", [
    many("Task_many", "Copy out", "().__class__.__base__"),
    ("scriptTask", "Task_loop", "Go round", LOOP.format(
        attrs='loopMaximum="3"', condition='<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">__import__("os")'
                                           '</bpmn:loopCondition>'), ""),
    ("intermediateCatchEvent", "Event_when", "When ready", '<bpmn:conditionalEventDefinition><bpmn:condition '
     'xsi:type="bpmn:tFormalExpression">ready.__class__</bpmn:condition></bpmn:conditionalEventDefinition>', ""),
], ids=["cardinality", "loop condition", "conditional event"])
def test_every_expression_site_is_compiled_in_the_sandbox(element):
    problems = [p for p in problems_for(chain("compiled", element)) if p.element == element[1]]
    assert problems and all("refused" in p.message for p in problems), [str(p) for p in problems]


def test_the_workers_processor_limit_never_stops_a_script_before_its_own_limits(core):
    """A step may use 2 s of processor time, or the script time limit plus 1 s when that is longer, so a script is
    stopped by its own limits (its time, the sandbox's steps) and says so; tests set the script limit out of reach, so
    a runaway loop is stopped by the sandbox's steps on any machine (tests/security/test_malicious_diagrams.py)."""
    assert [step_cpu_seconds(s) for s in (0.5, 1.0, 1.5, 5.0)] == [2, 2, 3, 6]
    assert core.steps.pool.limits.cpu_seconds == step_cpu_seconds(core.settings.script_seconds) > 3600
