"""The diagram-script sandbox: attacks are refused without side effects, runaway scripts are stopped,
ordinary scripts work and save only JSON data, and the engine drives real SpiffWorkflow diagrams."""
from __future__ import annotations

import datetime
import threading
import time
from datetime import timedelta, timezone
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from apflow.engine.sandbox import MAX_STEPS, SandboxedEnvironment, SandboxedScriptEngine, SandboxLimitExceeded, SandboxViolation, check

HELPERS = {
    "add_days": lambda iso, days: (datetime.date.fromisoformat(iso) + timedelta(days=days)).isoformat(),
    "today": lambda: datetime.date(2026, 1, 12),
}


# No test here depends on how fast the machine is. The limits the tests meet are work limits (steps, sizes,
# depths), the same on any machine; the time limit is a backstop set out of reach, except in the tests of the
# time limit itself, which run on a TickingClock or on a loop that nothing but the real clock can end.
BACKSTOP = 3600.0  # seconds: the time limit where a test does not rely on it
STEPS = 100_000    # the step limit of the `env` fixture: a runaway loop ends in a fraction of a second
HANG_GUARD = 120   # seconds: only turns a hang into a failure
NO_STEP_LIMIT = 10**9  # steps: no machine does this many in the 0.05 s the real-clock tests allow; a hang guard


class TickingClock:
    """Stands in for time.monotonic: every reading finds per_reading seconds gone, plus whatever spend()
    added, so the time limit trips after a known number of budget checks whatever the machine's speed."""

    def __init__(self, per_reading=0.0):
        self.now, self.per_reading, self.readings = 1000.0, per_reading, 0

    def __call__(self):
        self.readings += 1
        self.now += self.per_reading
        return self.now

    def spend(self, seconds):
        self.now += seconds


def limited(max_seconds=BACKSTOP, max_steps=STEPS, clock=None, helpers=HELPERS):
    sandbox = SandboxedEnvironment(helpers=helpers, max_seconds=max_seconds)
    sandbox.max_steps = max_steps
    if clock is not None:
        sandbox.monotonic = clock
    return sandbox


@pytest.fixture
def env():
    return limited()


def run(env, script, context=None):
    context = {} if context is None else context
    env.execute(script, context)
    return context


# -- refused before anything runs ------------------------------------------------------------

FORBIDDEN_NAMES = ["eval", "exec", "open", "compile", "getattr", "setattr", "globals", "locals", "vars",
                   "type", "object", "super", "input", "breakpoint", "iter", "__import__"]


@pytest.mark.parametrize("source, mode, words", [
    ("import os\nos.system('id')", "exec", "imports are not allowed"),
    ("from os import path", "exec", "imports are not allowed"),
    ("x = ().__class__.__base__.__subclasses__()", "exec", '"__class__"'),
    ("leak = '{0.__globals__}'.format(len)", "exec", '".format" is not allowed'),
    ("leak = '{x.__class__}'.format(x=1)", "exec", "use f-strings or + instead"),
    ("leak = '{x}'.format_map({'x': 1})", "exec", '".format_map"'),
    ("f'{days.__class__}'", "eval", '"__class__"'),
    ("x = f'{days.real.__class__.__mro__}'", "exec", '"__mro__"'),
    ("x = str.mro()", "exec", '".mro"'),
    ("x = '_'.join(dir())", "exec", '"dir()"'),
    ("x = _secret", "exec", '"_secret"'),
    ("days.real = 1", "exec", "changing attributes"),
    ("class Evil:\n    pass", "exec", "class definitions"),
    ("def g():\n    yield 1", "exec", "generators (yield)"),
    ("x = 'x'.ljust(10**10)", "exec", '".ljust"'),
    ("x = 'x'.rjust(10**10)", "exec", '".rjust"'),
    ("x = 'x'.center(10**10)", "exec", '".center"'),
    ("x = '1'.zfill(10**10)", "exec", '".zfill"'),
    ("x = '\\t'.expandtabs(10**9)", "exec", '".expandtabs"'),
    ("x = (1).to_bytes(10**9, 'big')", "exec", '".to_bytes"'),
    ("for i in iter(int, 1):\n    pass", "exec", '"iter()" is not available'),
    ("days > 5 and __import__('os')", "eval", "__import__"),
    ("x = 1 +", "exec", "syntax error"),
] + [(f"x = {name}('1')", "exec", f'"{name}()"') for name in FORBIDDEN_NAMES])
def test_check_refuses_in_plain_english(source, mode, words):
    problems = check(source, mode)
    assert problems
    assert words in " ".join(problems)


def test_check_accepts_ordinary_code_and_never_runs_it():
    assert check("total = sum(p['days'] for p in pupils)\nlabel = f'{total:>4} days'", "exec") == []
    assert check("days > 5 and reason in ('attendance', 'behaviour')", "eval") == []
    # Would never finish if check executed anything.
    assert check("while True:\n    pass", "exec") == []


def test_check_rejects_an_unknown_mode():
    with pytest.raises(ValueError):
        check("1", "single")


@pytest.mark.parametrize("name", [n for n in FORBIDDEN_NAMES if not n.startswith("_")])
def test_forbidden_builtins_are_absent_even_when_reached_indirectly(env, tmp_path, name):
    target = tmp_path / "pwned"
    with pytest.raises(SandboxViolation, match="not available|reserved name"):
        run(env, f"f = {name}\nf({str(target)!r}, 'w')")
    assert not target.exists()


def test_print_runs_but_cannot_write_to_a_file(env):
    assert run(env, "print('hello', 1)\nx = 1") == {"x": 1}
    with pytest.raises(SandboxViolation, match="print\\(file=...\\) is not allowed"):
        run(env, "print('x', file=[])")


@pytest.mark.parametrize("script", [
    "open({path!r}, 'w').write('x')",
    "f = open\nf({path!r}, 'w').write('x')",
    "try:\n    f = open\n    f({path!r}, 'w').write('x')\nexcept Exception:\n    pass\ndone = True",
    "import os\nos.system('touch {path}')",
    "x = __builtins__['open']({path!r}, 'w')",
])
def test_attempts_to_write_a_file_leave_no_file_and_no_data(env, tmp_path, script):
    target = tmp_path / "pwned"
    context = {"days": 3}
    with pytest.raises(SandboxViolation):
        env.execute(script.format(path=str(target)), context)
    assert not target.exists()
    assert context == {"days": 3}


def test_f_strings_work_but_cannot_reach_internals(env):
    data = run(env, "label = f'{name!r:>8}|{days:03d}|{ratio:.1f}|{[1, 2]}'",
               {"name": "Ann", "days": 7, "ratio": 0.25})
    assert data["label"] == "   'Ann'|007|0.2|[1, 2]"
    assert check("x = f'{name.__class__.__init__.__globals__}'", "exec")


@pytest.mark.parametrize("script", [
    "x = str.join(',', ['a'])",          # unbound methods skip per-value checks
    "e = ValueError('x')\ne.add_note('y' * 1000)",
    "x = 'a%s' % 'b'",
    "t = (1, 2)\nt[0] = 3",
])
def test_runtime_refusals(env, script):
    with pytest.raises(SandboxViolation):
        run(env, script)


# -- time ------------------------------------------------------------------------------------

@pytest.mark.parametrize("script", [
    "while True:\n    pass",
    "n = 0\nwhile n >= 0:\n    n += 1",
    "def f(n):\n    return f(n + 1)\nf(0)",
    "def f(n):\n    return 0 if n == 0 else f(n - 1) + f(n - 1)\nx = f(60)",
    "f = lambda n: 0 if n == 0 else f(n - 1) + f(n - 1)\nx = f(60)",
    "x = [1 for a in range(10**6) for b in range(10**6)]",
    "x = sorted(range(10**6), key=lambda v: [w for w in range(10**6)])",
    "for i in range(10**10):\n    pass",
    "x = sum(range(10**12))",
    "try:\n    while True:\n        pass\nexcept Exception:\n    pass\nescaped = True",
    "try:\n    while True:\n        pass\nexcept:\n    pass\nescaped = True",
    "def f():\n    try:\n        while True:\n            pass\n    finally:\n        return 1\nescaped = f()",
])
def test_runaway_scripts_stop_with_a_limit_error(env, script):
    context = {"before": 1}
    with pytest.raises(SandboxLimitExceeded, match="limit reached"):
        env.execute(script, context)
    assert context == {"before": 1}


def test_limit_messages_say_what_happened(env):
    with pytest.raises(SandboxLimitExceeded, match="step limit reached.*loops that never end"):
        run(env, "while True:\n    pass")
    clocked = limited(max_seconds=1, max_steps=MAX_STEPS, clock=TickingClock(per_reading=1 / 1024))
    with pytest.raises(SandboxLimitExceeded, match="time limit reached: the script ran for more than 1 s.*loops that never end"):
        run(clocked, "while True:\n    pass")
    with pytest.raises(SandboxLimitExceeded, match="recursion limit"):
        run(env, "def f(n):\n    return f(n + 1)\nf(0)")


def test_step_budget_stops_a_loop_before_the_clock_does():
    env = limited(max_steps=10_000, clock=TickingClock())  # a clock that never moves: only steps can stop it
    with pytest.raises(SandboxLimitExceeded, match="step limit reached: the script did more than 10,000 steps"):
        run(env, "while True:\n    pass")


def test_the_time_limit_trips_at_the_first_check_past_max_seconds_of_each_run():
    clock = TickingClock(per_reading=1 / 64)  # exact in binary: no rounding decides the count below
    env = limited(max_seconds=1, max_steps=MAX_STEPS, clock=clock)
    with pytest.raises(SandboxLimitExceeded, match="time limit reached"):
        run(env, "n = 0\nwhile True:\n    n += 1")
    assert clock.readings == 1 + 65  # the start, then 64 checks within the second and the one past it
    assert run(env, "x = 1") == {"x": 1}  # the next run has a second of its own


def test_the_time_limit_stops_a_script_whose_every_step_is_slow():
    # slow() stands for a long stretch of work inside one step (C code, a helper that waits): a handful of
    # steps take seconds, far below any step limit, so only the clock can stop the script.
    clock = TickingClock()
    env = limited(max_seconds=1, max_steps=MAX_STEPS, clock=clock, helpers={"slow": lambda: clock.spend(0.25)})
    with pytest.raises(SandboxLimitExceeded, match="time limit reached"):
        run(env, "while True:\n    slow()")
    assert clock.now == 1000 + 5 * 0.25  # stopped at the first check after the second ran out


def test_the_real_clock_stops_a_loop_that_no_step_limit_would():
    production = SandboxedEnvironment()
    assert (production.max_seconds, production.max_steps, production.monotonic) == (1.0, MAX_STEPS, time.monotonic)
    # Nothing but the wall clock can end this loop, so it ends with the time limit on a machine of any speed.
    env = limited(max_seconds=0.05, max_steps=NO_STEP_LIMIT)
    with pytest.raises(SandboxLimitExceeded, match="time limit reached"):
        run(env, "while True:\n    pass")


@pytest.mark.parametrize("limit", ["time", "step"])
def test_limits_work_outside_the_main_thread(limit):
    env = limited(max_seconds=0.05, max_steps=NO_STEP_LIMIT) if limit == "time" else limited(clock=TickingClock())
    caught = []

    def worker():
        try:
            run(env, "while True:\n    pass")
        except SandboxLimitExceeded as err:
            caught.append(err)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=HANG_GUARD)
    assert not thread.is_alive()
    assert [str(err).split(":")[0] for err in caught] == [f"{limit} limit reached"]


# -- size ------------------------------------------------------------------------------------

@pytest.mark.parametrize("script", [
    "x = 'a' * 10**10",
    "x = [0] * 10**9",
    "x = 10**10**10",
    "x = 2 << 10**9",
    "x = list(range(10**10))",
    "x = int('1' * 100000, 2)",
    "x = round(5, -10**9)",
    "s = 'x' * 1000\nfor i in range(40):\n    s = s + s",
    "s = 'x' * 1000\nfor i in range(40):\n    s += s",
    "a = [0]\nfor i in range(40):\n    a.extend(a)",
    "a = [0]\nfor i in range(40):\n    a[:0] = a",
    "a = [0]\nfor i in range(40):\n    a = [*a, *a]",
    "x = ','.join(['x' * 1000] * 10000)",
    "x = ('a' * 1000).replace('', 'b' * 1000)",
    "x = f'{1:>10000000000}'",
    "w = 10**9\nx = f'{1:>{w}}'",
    "a = [[0] * 1000] * 1000\nx = str(a)",
    "a = [[0] * 1000] * 1000\nx = f'{a}'",
    "e = ValueError()\nfor i in range(60):\n    e = ValueError(e, e)\nx = str(e)",
    "parts = [('x' * 900000).upper() for i in range(100)]",
    # Shared references: tiny in memory, but sorting, comparing or printing them would take hours in C.
    "x = [0]\nfor i in range(60):\n    x = [x, x]",
    "def f(*a):\n    return a\nx = 0\nfor i in range(60):\n    x = f(x, x)",
    "s = 'a' * 10**6\nx = sorted([s for i in range(10**6)])",
    "s = 'a' * 10**6\nx = sorted([s] * 10**6)",
    "x = list(zip(*[list(range(10**6))] * 1000))",
    "x = sum([[1]] * 10**6, [])",
])
def test_memory_bombs_fail_fast_with_a_limit_error(script):
    env = limited(max_steps=MAX_STEPS)  # the clock out of reach: the size guard, the same on any machine, stops them
    with pytest.raises(SandboxLimitExceeded, match="size limit reached"):
        run(env, script)


def test_values_too_large_to_save_are_refused(env):
    with pytest.raises(SandboxLimitExceeded, match='"table" is too large'):
        run(env, "table = [[0] * 1000] * 1000")


def test_big_but_allowed_values_still_work(env):
    data = run(env, "x = 'a' * 10**5\ny = [0] * 10**5\nz = 2 ** 1000\nn = len(list(range(10**5)))")
    assert len(data["x"]) == 10**5 and len(data["y"]) == 10**5 and data["n"] == 10**5


# -- ordinary scripts --------------------------------------------------------------------------

ORDINARY = """
total = 0
for p in pupils:
    total += p['days']
names = sorted([p['name'].upper() for p in pupils if p['days'] > 1], key=lambda n: n)
first, *others = names
by_name = {p['name']: p['days'] for p in pupils}
counts = {'long': 0}
for p in pupils:
    if p['days'] >= 5:
        counts['long'] += 1
summary = f"{len(pupils)} pupils, {total} days"
pair = (min(by_name.values()), max(by_name.values()))
flags = [any([]), all([]), isinstance(total, int), isinstance(summary, (str, list)), 'a' in 'abc']
maths = [abs(-2), round(2.567, 2), int('7'), float('1.5'), bool(0), 7 // 2, 7 % 3, 2 ** 10, 1 << 4]
listed = [list(reversed([1, 2])), list(enumerate('ab')), dict(zip('ab', [1, 2])), tuple([1]), len({1, 2})]
text = '-'.join('a,b'.split(',')) + ' x '.strip() + 'aXa'.replace('X', '.')
due = add_days('2026-01-12', 5)
def double(n):
    return n * 2
triple = lambda n: n * 3
doubled = double(total) + triple(1)
try:
    missing = by_name['nobody']
except KeyError:
    missing = None
pupils.append({'name': 'Cy', 'days': 1})
del scratch
acc = [1]
same = acc
acc += [2]
merged = {'a': 1}
merged |= {'b': 2}
lists = {'k': [1]}
lists['k'] += [2]
try:
    x = 1 / 0
except:
    x = 'caught'
"""


def test_ordinary_script_works_and_saves_only_json_values(env):
    context = {"pupils": [{"name": "Ann", "days": 5}, {"name": "Bo", "days": 2}], "scratch": 1,
               "_internal": object()}
    internal = context["_internal"]
    env.execute(ORDINARY, context)
    assert context["total"] == 7
    assert context["names"] == ["ANN", "BO"] and context["first"] == "ANN" and context["others"] == ["BO"]
    assert context["by_name"] == {"Ann": 5, "Bo": 2}
    assert context["counts"] == {"long": 1}
    assert context["summary"] == "2 pupils, 7 days"
    assert context["pair"] == (2, 5)
    assert context["flags"] == [False, True, True, True, True]
    assert context["maths"] == [2, 2.57, 7, 1.5, False, 3, 1, 1024, 16]
    assert context["listed"] == [[2, 1], [(0, "a"), (1, "b")], {"a": 1, "b": 2}, (1,), 2]
    assert context["text"] == "a-bxa.a"
    assert context["due"] == "2026-01-17"
    assert context["doubled"] == 17
    assert context["missing"] is None
    assert context["pupils"][-1] == {"name": "Cy", "days": 1}
    assert "scratch" not in context                      # deleted by the script
    assert context["same"] == context["acc"] == [1, 2]   # += extends in place, as in Python
    assert context["merged"] == {"a": 1, "b": 2} and context["lists"] == {"k": [1, 2]}
    assert context["x"] == "caught"
    assert context["_internal"] is internal              # private keys are not the script's business
    for dropped in ("double", "triple", "add_days", "today"):
        assert dropped not in context


def test_non_json_leftovers_are_dropped(env):
    data = run(env, "f = lambda: 1\ng = (x for x in [1])\ne = enumerate([1])\ns = {1, 2}\nd = today()\n"
                    "fn = len\nnested = [1, lambda: 2]\nkept = [1, {'a': (2, None)}]")
    assert data == {"kept": [1, {"a": (2, None)}]}


def test_values_the_script_leaves_alone_are_kept_even_if_not_json(env):
    context = {"started": datetime.date(2026, 1, 1), "days": 1}
    env.execute("days = days + 1", context)
    assert context == {"started": datetime.date(2026, 1, 1), "days": 2}
    env.execute("started = lambda: 1", context)
    assert "started" not in context


def test_a_failing_script_leaves_the_data_untouched(env):
    context = {"pupils": [1], "days": 1}
    with pytest.raises(ValueError, match="stop here"):
        env.execute("pupils.append(2)\ndays = 99\nraise ValueError('stop here')", context)
    assert context == {"pupils": [1], "days": 1}


def test_helpers_are_callable_but_never_saved_and_cannot_be_shadowed(env):
    data = run(env, "due = add_days('2026-01-30', 3)\nalias = add_days")
    assert data == {"due": "2026-02-02"}
    with pytest.raises(SandboxViolation, match="same name as a helper"):
        run(env, "x = 1", {"today": "Monday"})


def test_helper_names_must_be_plain():
    with pytest.raises(ValueError):
        SandboxedEnvironment(helpers={"_hidden": len})


# -- expressions ------------------------------------------------------------------------------

def test_gateway_condition_and_timer_expression_evaluate(env):
    data = {"days": 7, "reason": "attendance"}
    assert env.evaluate("days > 5 and reason in ('attendance', 'behaviour')", data) is True
    assert env.evaluate("days > 10", data) is False
    assert env.evaluate("'P2D'", data) == "P2D"
    assert env.evaluate("f'P{days}D'", data) == "P7D"
    assert env.evaluate("add_days('2026-01-12', days)", data) == "2026-01-19"
    assert env.evaluate("dmninputexpr == 3", data, external_context={"dmninputexpr": 3}) is True


def test_expressions_cannot_change_data(env):
    data = {"pupils": [1], "flags": {}}
    for expression in ("pupils.append(2)", "flags.update(a=1)", "[0 for flags['a'] in [1]]"):
        with pytest.raises(SandboxViolation, match="may not change data"):
            env.evaluate(expression, data)
    assert data == {"pupils": [1], "flags": {}}


def test_engine_validate_uses_the_sandbox_rules():
    engine = SandboxedScriptEngine()
    engine.validate("days > 5")
    with pytest.raises(SyntaxError):
        engine.validate("> 5")                          # the DMN engine relies on a plain SyntaxError
    with pytest.raises(SandboxViolation, match="__class__"):
        engine.validate("days.__class__")


# -- through SpiffWorkflow ------------------------------------------------------------------------

def diagram(script: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="sandboxed" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Task_work" name="Work">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_short">
      <bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_long</bpmn:outgoing><bpmn:outgoing>Flow_short</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:intermediateCatchEvent id="Timer_wait">
      <bpmn:incoming>Flow_long</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'P2D'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="EndEvent_long"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="EndEvent_short"><bpmn:incoming>Flow_short</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_work" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_work" targetRef="Gateway_1" />
    <bpmn:sequenceFlow id="Flow_long" sourceRef="Gateway_1" targetRef="Timer_wait">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">days &gt; 5</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_short" sourceRef="Gateway_1" targetRef="EndEvent_short" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Timer_wait" targetRef="EndEvent_long" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def workflow(script: str) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(diagram(script))
    engine = SandboxedScriptEngine(helpers=HELPERS, max_seconds=1.0)
    # Every budget check finds 1/1024 s gone: the time limit trips after 1,024 checks on any machine.
    engine.environment.monotonic = TickingClock(per_reading=1 / 1024)
    return BpmnWorkflow(parser.get_spec("sandboxed"), parser.get_subprocess_specs("sandboxed"), script_engine=engine)


def sandbox_error(err: BaseException) -> BaseException | None:
    while err is not None and not isinstance(err, SandboxViolation):
        err = err.__cause__ or err.__context__
    return err


@pytest.mark.parametrize("script, words", [
    ("import os\nos.system('id')", "imports are not allowed"),
    ("x = ().__class__.__base__.__subclasses__()", "__class__"),
    ("x = 'a' * 10**10", "size limit reached"),
    ("days = 1\nwhile True:\n    pass", "time limit reached"),
])
def test_malicious_script_task_fails_with_the_sandbox_message(script, words):
    wf = workflow(script)
    with pytest.raises(WorkflowTaskException) as raised:
        wf.do_engine_steps()
    assert words in str(raised.value)
    assert words in str(sandbox_error(raised.value))
    assert not wf.completed


def test_runtime_errors_point_at_the_offending_line():
    with pytest.raises(WorkflowTaskException) as raised:
        workflow("days = 1\nwhile True:\n    pass").do_engine_steps()
    assert raised.value.line_number == 2


def test_script_errors_with_odd_arguments_still_reach_spiffworkflow_cleanly():
    with pytest.raises(WorkflowTaskException, match="ValueError:5"):
        workflow("raise ValueError(5)").do_engine_steps()


def test_file_write_through_a_diagram_leaves_no_file(tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(WorkflowTaskException):
        workflow(f"f = open\nf({str(target)!r}, 'w').write('x')").do_engine_steps()
    assert not target.exists()


def test_benign_script_gateway_and_timer_run_end_to_end():
    short = workflow("days = len(add_days('2026-01-12', 1)) - 9")
    short.do_engine_steps()
    assert short.completed
    assert short.data["days"] == 1

    long = workflow("days = 7\nhelper = today")
    before = spiff_timer.datetime.now(timezone.utc)
    long.do_engine_steps()
    after = spiff_timer.datetime.now(timezone.utc)
    assert not long.completed
    [waiting] = long.get_tasks(state=TaskState.WAITING)
    assert waiting.task_spec.bpmn_id == "Timer_wait"
    assert waiting.data == {"days": 7}
    due = datetime.datetime.fromisoformat(waiting._get_internal_data("event_value"))
    assert before + timedelta(days=2) <= due <= after + timedelta(days=2)  # however long the steps took


def test_service_tasks_are_refused():
    with pytest.raises(SandboxViolation, match="service tasks are not supported"):
        SandboxedEnvironment().call_service({}, operation_name="x")


def test_values_nested_too_deeply_to_save_are_refused(env):
    with pytest.raises(SandboxLimitExceeded, match="too deeply nested"):
        run(env, "x = []\nfor i in range(500):\n    x = [x]")


def test_bare_except_does_not_swallow_interrupts():
    def interrupt():
        raise KeyboardInterrupt
    sandbox = limited(helpers={"interrupt": interrupt})
    with pytest.raises(KeyboardInterrupt):
        run(sandbox, "try:\n    interrupt()\nexcept:\n    pass")
