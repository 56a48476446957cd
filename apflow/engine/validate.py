"""Check diagrams and forms before they can run: the checks behind `apflow validate`, deploy and the editor.

Everything the engine would evaluate is compiled here with the same sandbox the runtime uses,
so a diagram that passes cannot be rejected later for a construct the sandbox refuses.
"""
from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, StandardLoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.specs.defaults import ManualTask, UserTask

from apflow import school_calendar
from apflow.roles import BUILTIN, ROLES, Catalogue

from . import interop, sandbox, scripts_check, service_tasks
from .diagrams import ParsedDiagrams, SpecBundle, normalise_timer_expression, parse_sources, read_sources, record_kinds, task_properties  # noqa: F401 - parse_sources re-exported
from .forms import SCHEMA_PROPERTY, UI_PROPERTY, check_form_source, restricted_fields
from .problems import WARNING, Problem
from .runtime import ASSIGN_TO_PROPERTY, DUE_IN_PROPERTY, ESCALATE_TO_PROPERTY
from .service_tasks import ServiceSettings
from .xml import DEFAULT_MAX_BYTES

FORMLESS_PROPERTY = "formless"
_LOOKS_LIKE_ISO = re.compile(r"^(P|PT|R\d*)\d", re.IGNORECASE)
ROLE_LIST = ", ".join(f"'{title}'" for title in ROLES.values())


@dataclass
class Checked:
    """The outcome of validation: parsed diagrams (when they parsed), forms they use, and problems."""
    parsed: ParsedDiagrams | None
    forms: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing stops a deploy: warnings are worth reading but do not count."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def collect(paths: list[Path]) -> tuple[dict[str, bytes], dict[str, bytes], list[Problem]]:
    """BPMN and form JSON files named by paths (files or folders), keyed by file name."""
    bpmn: dict[str, bytes] = {}
    forms: dict[str, bytes] = {}
    problems: list[Problem] = []
    found: dict[str, Path] = {}  # file name -> the path it was read from
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if (p.suffix == ".bpmn" or p.suffix in interop.FORM_FILES)
                           and p.name not in interop.NOT_FORMS and p.is_file())  # not run.json, SpiffArena's process_model.json
        elif path.is_file():
            files = [path]
        else:
            problems.append(Problem(str(path), None, "No such file or folder.", "Check the path."))
            continue
        for file in files:
            if _same_name(file, found, problems):
                continue
            if file.suffix == ".bpmn":
                bpmn[file.name] = file.read_bytes()
            elif file.suffix in interop.FORM_FILES:  # .json, and Camunda's .form
                forms[file.name] = file.read_bytes()
            else:
                problems.append(Problem(str(file), None, "Only .bpmn diagrams and .json forms can be checked.", "Pass .bpmn or .json files, or a folder holding them."))
    return bpmn, forms, problems


def _same_name(file: Path, found: dict[str, Path], problems: list[Problem]) -> bool:
    """Diagrams and forms are known by file name (a task names its form, a deploy stores its file): two different
    files with one name in different folders would leave one silently unused, so say so instead."""
    first = found.setdefault(file.name, file)
    if first == file or first.resolve() == file.resolve():
        return first != file
    if first.read_bytes() == file.read_bytes():
        return True  # the same file twice (a copy): nothing is lost
    problems.append(Problem(str(file), None, f"Two different files are called '{file.name}': {first} and {file}. Files are known by "
                            "their name, so only one of them could be used.",
                            f"Rename one of them (and what names it), or check only one of {first.parent} and {file.parent}."))
    return True


def check(bpmn_sources: dict[str, bytes], forms_dir: Path, extra_forms: dict[str, bytes] | None = None,
          max_bytes: int = DEFAULT_MAX_BYTES, form_overrides: dict[str, bytes] | None = None,
          record_kinds: Collection[str] = (), roles: Catalogue = BUILTIN, services: ServiceSettings = ServiceSettings(),
          form_places: interop.Places | None = None, stored_forms: dict[str, bytes] | None = None,
          helpers: Collection[str] | None = None) -> Checked:
    """Every problem with these diagrams and the forms they name (resolved in form_overrides, then forms_dir).

    roles: the roles lanes and escalateTo may name (apflow.roles.Catalogue: the built-in ones, and the custom roles
    the host application's organisations defined, which services/processes.py loads).

    helpers: the names of the functions the host gives diagram code (None: the school calendar's); a call to any
    other function nobody defines is refused.

    form_overrides holds forms edited in the browser, which take the place of the file of the same name.
    Forms are looked up in form_overrides, then extra_forms and form_places (files given, or found next to the
    diagram: interop.forms_near), then forms_dir; Camunda forms are converted (engine/interop.py, engine/formjs.py),
    or taken from stored_forms (the deployed version's) when their file is not at hand.
    record_kinds are the kinds of domain record the host application can write (a task's `records` property
    may name only these); the engine itself knows none.
    """
    problems: list[Problem] = []
    for name, data in sorted((extra_forms or {}).items()):
        problems += check_form_source(name, data, ui=_is_ui_schema(name, data))
    if not bpmn_sources:
        return Checked(None, {}, problems)
    parsed, unread = read_sources(bpmn_sources, max_bytes)  # every file's problems at once; the rest is checked too
    problems += unread
    form_names: dict[str, tuple[str, bool]] = {}
    for process_id in parsed.process_ids:
        filename = parsed.process_files[process_id]
        bundle = parsed.bundle(process_id)
        problems += _check_bundle(bundle, filename, form_names, frozenset(record_kinds), roles)
        for task_spec in bundle.task_specs():  # service tasks: apflow's operations only (engine/service_tasks.py)
            problems += service_tasks.check(task_spec, filename, services, record_kinds, roles.resolve)
            problems += interop.check_task(task_spec, filename, roles.resolve, roles.listed())  # candidate groups, users, foreign forms
        problems += _check_endless_flows(bundle, filename)
    problems += _check_calls(parsed)
    problems += scripts_check.check_parsed(parsed, _expressions, helpers)  # calls and modules that exist nowhere
    overridden = {name: data for name, data in (form_overrides or {}).items() if name in form_names}
    places = dict(form_places or {})
    for name, data in (extra_forms or {}).items():
        interop.add_place(places, name, "the files given", data)
    form_sources, missing = interop.find_forms(form_names, [(parsed.process_files[p], parsed.bundle(p)) for p in parsed.process_ids],
                                               forms_dir, places, set(overridden), stored_forms)
    form_sources.update(overridden)
    problems += missing
    for name, data in form_sources.items():
        problems += check_form_source(name, data, ui=form_names[name][1])
    problems += _check_restricted(parsed, form_sources, form_names)
    # an activity reported while reading was checked further as a plain task in its place: its own report stands alone
    stood_in = {(p.file, p.element) for p in unread if p.is_error and p.element}
    problems = [p for p in problems if p in unread or (p.file, p.element) not in stood_in]
    return Checked(None if any(p.is_error for p in unread) else parsed, form_sources, _unique(problems))


def _check_restricted(parsed: ParsedDiagrams, form_sources: dict[str, bytes], form_names: dict[str, tuple[str, bool]]) -> list[Problem]:
    """A field marked restricted (child-protection detail) never reaches process data, so nothing may read it there:
    no script, condition, timer, dueIn or assignTo may name it, and no other form may hold it unrestricted (its
    answer would then sit in process data under the same name)."""
    restricted: dict[str, str] = {}   # field -> the form that restricts it
    open_fields: dict[str, str] = {}  # field -> a form that holds it unrestricted
    for name, data in sorted(form_sources.items()):
        if form_names.get(name, ("", True))[1]:
            continue
        try:
            schema = json.loads(data)
        except ValueError:
            continue
        marked = restricted_fields(schema)
        for field_name in marked:
            restricted.setdefault(field_name, name)
        for field_name in (schema.get("properties") or {}) if isinstance(schema, dict) else ():
            if field_name not in marked:
                open_fields.setdefault(field_name, name)
    problems = [Problem(restricted[f], None, f"The field '{f}' is restricted in {restricted[f]} but not in {open_fields[f]}, so its answer "
                        "would reach process data from there.", f"Mark '{f}' \"x-apflow-restricted\": true in {open_fields[f]} too, or rename one.")
                for f in sorted(set(restricted) & set(open_fields))]
    if not restricted:
        return problems
    for process_id in parsed.process_ids:
        filename = parsed.process_files[process_id]
        for element, what, source in _expressions(parsed.bundle(process_id)):
            for used in sorted(_names(source) & set(restricted)):
                problems.append(Problem(filename, element, f"The {what} reads '{used}', which {restricted[used]} marks restricted: "
                                        "child-protection answers are kept in the child's file, never in process data, so it is never there.",
                                        "Decide on a value that is not restricted (e.g. one the DSL's record step returns), or unmark the field."))
    return problems


def _expressions(bundle: SpecBundle):
    """(element, what, source) for everything in a process that reads process data."""
    for task_spec in bundle.task_specs():
        element = getattr(task_spec, "bpmn_id", None)
        if element is None:
            continue
        label = f"'{task_spec.bpmn_name or element}'"
        for attribute in ("script", "prescript", "postscript"):
            yield element, f"{attribute.replace('pre', 'pre-').replace('post', 'post-')} of {label}", getattr(task_spec, attribute, None)
        if isinstance(task_spec, MultiChoice):
            for condition, target in task_spec.cond_task_specs:
                yield element, f"condition towards '{target}'", condition.args[0] if condition is not None else None
        event = getattr(task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition):
            yield element, f"timer of {label}", normalise_timer_expression(event.expression or "")
        properties = task_properties(task_spec)
        if DUE_IN_PROPERTY in properties:
            yield element, f"dueIn of {label}", normalise_timer_expression(properties[DUE_IN_PROPERTY])
        if properties.get(ASSIGN_TO_PROPERTY):
            yield element, f"assignTo of {label}", str(properties[ASSIGN_TO_PROPERTY])
        yield from service_tasks.expressions(task_spec, element, label)
        for attribute in ("cardinality", "condition", "data_input", "data_output"):
            value = getattr(task_spec, attribute, None)
            if isinstance(value, str):
                yield element, f"{attribute.replace('_', ' ')} of {label}", value


def _names(source) -> set[str]:
    if not source:
        return set()
    try:
        tree = ast.parse(str(source).strip())
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _is_ui_schema(name: str, data: bytes) -> bool:
    return "uischema" in name.lower() or name.lower().endswith(".ui.json")


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            result.append(problem)
    return result


def _code_problems(filename: str, element: str, what: str, source: str | None, mode: str) -> list[Problem]:
    if source is None or not str(source).strip():
        return []
    return [Problem(filename, element, f"The {what} is refused: {message}",
                    "Rewrite it using plain expressions on process data and the documented helper functions.")
            for message in sandbox.check(str(source), mode)]


def _check_bundle(bundle: SpecBundle, filename: str, form_names: dict[str, tuple[str, bool]], known_records: frozenset[str],
                  roles: Catalogue = BUILTIN) -> list[Problem]:
    problems: list[Problem] = []
    for task_spec in bundle.task_specs():
        element = getattr(task_spec, "bpmn_id", None)
        if element is None:
            continue  # engine-internal joins and splits
        label = f"'{task_spec.bpmn_name or element}'"
        problems += _code_problems(filename, element, f"script of {label}", getattr(task_spec, "script", None), "exec")
        problems += _code_problems(filename, element, f"pre-script of {label}", getattr(task_spec, "prescript", None), "exec")
        problems += _code_problems(filename, element, f"post-script of {label}", getattr(task_spec, "postscript", None), "exec")
        if isinstance(task_spec, MultiChoice):
            for condition, target in task_spec.cond_task_specs:
                expression = condition.args[0] if condition is not None else None
                problems += _code_problems(filename, element, f"condition towards '{target}'", expression, "eval")
            if isinstance(task_spec, ExclusiveChoice) and task_spec.default_task_spec is None:
                problems.append(Problem(filename, element,
                                        f"The gateway {label} has no default flow, so a case that matches none of its conditions would stop the placement.",
                                        "Mark one outgoing flow as the default flow."))
        problems += _check_activity_code(filename, element, task_spec)
        event = getattr(task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition):
            problems += _check_timer(filename, element, label, event)
        properties = task_properties(task_spec)
        problems += _check_records(filename, element, label, properties, known_records)
        if DUE_IN_PROPERTY in properties:
            problems += _check_iso_or_code(filename, element, f"dueIn of {label}", properties[DUE_IN_PROPERTY], "duration")
        for role in str(properties.get(ESCALATE_TO_PROPERTY, "")).split(","):
            if role.strip() and roles.resolve(role) is None:
                problems.append(Problem(filename, element, f"The escalateTo of {label} names '{role.strip()}', which is no role.",
                                        f"Define the role on the Roles page (or `apflow roles add \"{role.strip()}\" --carries ...`), "
                                        f"or name roles, in the order to escalate to, from: {roles.listed()}."))
        if isinstance(task_spec, (UserTask, ManualTask)):
            problems += _check_human_task(task_spec, filename, element, label, properties, form_names, roles)
        elif type(task_spec).__name__ == "StartEvent":  # a start form: start data is checked against it
            for key, ui in ((SCHEMA_PROPERTY, False), (UI_PROPERTY, True)):
                if properties.get(key):
                    form_names.setdefault(properties[key], (element, ui))
    return problems


def _check_timer(filename, element, label, event) -> list[Problem]:
    if isinstance(event, CycleTimerEventDefinition):
        kind = "cycle"
    elif isinstance(event, TimeDateEventDefinition):
        kind = "date"
    else:
        kind = "duration"
    expression = event.expression or ""
    if expression.startswith("as_duration(") and expression.endswith(")"):
        expression = expression[len("as_duration("):-1]  # added by the engine, not written by the author
    return _check_iso_or_code(filename, element, f"timer of {label}", expression, kind)


KNOWN_CALLS = frozenset(school_calendar.helpers(lambda: None)) | frozenset(sandbox.BUILTINS) | {"str", "range", "as_duration"}


def _unknown_calls(filename, element, what, text) -> list[Problem]:
    """A timer or dueIn may call only the calendar helpers and the sandbox's builtins; a misspelt helper is named
    here rather than failing when the timer is first set."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return []
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    problems = []
    for name in sorted(called - KNOWN_CALLS):
        close = difflib.get_close_matches(name, sorted(KNOWN_CALLS), n=1)
        problems.append(Problem(filename, element, f"The {what} calls '{name}', which is not a helper apflow knows.",
                                (f"Did you mean {close[0]}()? " if close else "") + "The helpers are: "
                                + ", ".join(f"{h}()" for h in sorted(school_calendar.helpers(lambda: None)))))
    return problems


def _check_iso_or_code(filename, element, what, expression, kind) -> list[Problem]:
    text = normalise_timer_expression(expression or "")
    if not text:
        return [Problem(filename, element, f"The {what} is empty.", "Give an ISO 8601 value such as P5D, or a helper such as school_days(5).")]
    problems = _code_problems(filename, element, what, text, "eval") or _unknown_calls(filename, element, what, text)
    if problems:
        return problems
    if _LOOKS_LIKE_ISO.match(text):
        return [Problem(filename, element, f"The {what} '{text}' looks like an ISO 8601 value but is not a valid one.",
                        "Write a duration like P5D, PT4H or P1DT12H, a date like 2027-01-15T09:00:00Z, or a cycle like R3/P1W.")]
    if text[0] in "'\"":
        value = text[1:-1]
        try:
            if kind == "cycle":
                TimerEventDefinition.parse_iso_recurring_interval(value)
            elif kind == "duration":
                TimerEventDefinition.parse_iso_duration(value)
            else:
                TimerEventDefinition.parse_time_or_duration(value)
        except Exception:
            examples = {"cycle": "R3/P1W", "duration": "P5D or PT4H", "date": "2027-01-15T09:00:00Z"}
            return [Problem(filename, element, f"The {what} '{value}' is not a valid ISO 8601 {kind}.",
                            f"Write it like {examples[kind]}.")]
    return []


def _check_human_task(task_spec, filename, element, label, properties, form_names, roles: Catalogue = BUILTIN) -> list[Problem]:
    problems: list[Problem] = []
    if not task_spec.lane:
        problems.append(Problem(filename, element, f"The task {label} is not in a lane, so nobody would see it in their inbox.",
                                f"Put it in a lane named after a role: {roles.listed()}."))
    elif roles.resolve(task_spec.lane) is None and not interop.has_candidate_groups(task_spec):  # (interop says why)
        problems.append(Problem(filename, element, f"The lane '{task_spec.lane}' of task {label} names no role.",
                                f"Define the role on the Roles page (or `apflow roles add \"{task_spec.lane.strip()}\" --carries ...`), "
                                f"or rename the lane to one of: {roles.listed()}."))
    if isinstance(task_spec, ManualTask):
        return problems
    schema = properties.get(SCHEMA_PROPERTY)
    ui = properties.get(UI_PROPERTY)
    formless = str(properties.get(FORMLESS_PROPERTY, "")).lower() == "true"
    if schema:
        form_names.setdefault(schema, (element, False))
    elif not formless:
        problems.append(Problem(filename, element, f"The user task {label} has no form, so people will see its instructions "
                                "(its documentation) and a Done button, and give no answers.",
                                f"If it should ask for answers, add the property {SCHEMA_PROPERTY} naming a JSON Schema form; if not, "
                                f"add the property {FORMLESS_PROPERTY}=true (or make it a manual task) to say so.", severity=WARNING))
    if ui:
        form_names.setdefault(ui, (element, True))
    return problems


def _check_records(filename, element, label, properties, known: frozenset[str]) -> list[Problem]:
    """A `records` property must name only kinds the application has handlers for (see docs/authoring.md)."""
    named = record_kinds(properties)
    if not named:
        return []
    return [Problem(filename, element, f"The task {label} asks to record '{kind}', which apflow does not know.",
                    f"Use one of: {', '.join(sorted(known))}.") for kind in named if kind not in known]


# -- what would run without end or without bound (issue 14) ------------------------------------------------

MAX_INSTANCES = sandbox.MAX_INSTANCES
_WAITS = (UserTask, ManualTask, CatchingEvent)  # where a step stops and waits for a person, a timer or a message


def _label(task_spec) -> str:
    """The name people see on an element; a loop or multi-instance wraps the task that carries it."""
    inner = getattr(task_spec, "task_spec", None)
    inner_spec = task_spec._wf_spec.task_specs.get(inner) if isinstance(inner, str) else None
    name = task_spec.bpmn_name or getattr(inner_spec, "bpmn_name", None) or task_spec.bpmn_id
    return f"'{name}'"


def _literal_int(source):
    try:
        value = ast.literal_eval(str(source).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_activity_code(filename: str, element: str, task_spec) -> list[Problem]:
    """Loops, multi-instance activities and the expressions of conditional, message and signal events: each
    compiles in the sandbox like scripts and conditions do, and none may repeat without a bound."""
    label = _label(task_spec)
    problems: list[Problem] = []
    if isinstance(task_spec, StandardLoopTask):
        problems += _code_problems(filename, element, f"loop condition of {label}", task_spec.condition, "eval")
        maximum, condition = task_spec.maximum, (task_spec.condition or "").strip()
        if maximum is not None and maximum > MAX_INSTANCES:
            problems.append(Problem(filename, element, f"The loop of {label} may run {maximum:,} times; at most {MAX_INSTANCES:,} are allowed.",
                                    f"Set its loop maximum to {MAX_INSTANCES:,} or fewer."))
        elif maximum is None and (not condition or _literal_int(condition) not in (None, 0) or condition == "True"):
            problems.append(Problem(filename, element, f"The loop of {label} has no loop maximum and no condition that can end it, "
                                    "so it would repeat for ever.", f"Give it a loop maximum of at most {MAX_INSTANCES:,}, "
                                    "and a loop condition on process data."))
    if isinstance(task_spec, MultiInstanceTask):
        problems += _code_problems(filename, element, f"loop cardinality of {label}", task_spec.cardinality, "eval")
        problems += _code_problems(filename, element, f"completion condition of {label}", task_spec.condition, "eval")
        count = _literal_int(task_spec.cardinality) if task_spec.cardinality else None
        if count is not None and count > MAX_INSTANCES:
            problems.append(Problem(filename, element, f"The multi-instance {label} asks for {count:,} copies; at most {MAX_INSTANCES:,} are allowed.",
                                    f"Use a loop cardinality of {MAX_INSTANCES:,} or fewer, or split the work."))
    event = getattr(task_spec, "event_definition", None)
    if isinstance(event, ConditionalEventDefinition):
        problems += _code_problems(filename, element, f"condition of {label}", event.expression, "eval")
    elif event is not None and not isinstance(event, TimerEventDefinition):
        problems += _code_problems(filename, element, f"payload expression of {label}", getattr(event, "expression", None), "eval")
    for prop in getattr(event, "correlation_properties", None) or ():
        problems += _code_problems(filename, element, f"correlation property '{prop.name}' of {label}", prop.retrieval_expression, "eval")
    return problems


def _called(spec) -> list[tuple[object, str]]:
    """(call activity or subprocess, the process it starts) for every activity of a process that starts another."""
    return [(ts, ts.spec) for ts in spec.task_specs.values() if isinstance(ts, SubWorkflowTask) and isinstance(ts.spec, str)]


def _check_calls(parsed: ParsedDiagrams) -> list[Problem]:
    """A process that calls itself, directly or through others, would start copies of itself for ever within
    one step. Every process the diagrams hold (with those they call, as deployed) is one node of the graph."""
    specs: dict[str, object] = {}
    files: dict[str, str] = {}
    for process_id in parsed.process_ids:
        bundle = parsed.bundle(process_id)
        for spec in bundle.all_specs():
            specs.setdefault(spec.name, spec)
            files.setdefault(spec.name, parsed.process_files.get(spec.name) or parsed.process_files[process_id])
    edges = {name: _called(spec) for name, spec in specs.items()}
    problems, reported = [], set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name, path):
        state[name] = 1
        for activity, target in edges.get(name, ()):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                key = (name, activity.bpmn_id)
                if key not in reported:
                    reported.add(key)
                    chain = " → ".join(f"'{parsed.process_names.get(p, p)}'" for p in cycle)
                    problems.append(Problem(files.get(name, "?"), activity.bpmn_id,
                                            f"The call activity {_label(activity)} starts '{parsed.process_names.get(target, target)}', "
                                            f"which leads back to it ({chain}): the processes would start each other again and "
                                            "again within one step, without end.",
                                            "Remove the call that closes the circle; to repeat a stage, loop back with a gateway "
                                            "and a sequence flow instead."))
            elif state.get(target) is None and target in edges:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(edges):
        if state.get(name) is None:
            visit(name, [name])
    return problems


def _check_endless_flows(bundle: SpecBundle, filename: str) -> list[Problem]:
    """A circle of sequence flows with no way out that nobody waits in (only scripts, gateways and other
    automatic steps) would run for ever the moment it is reached."""
    problems = []
    for spec in bundle.all_specs():
        nodes = list(spec.task_specs.values())
        index, low, stack, on_stack, components = {}, {}, [], set(), []

        def connect(node):  # Tarjan's strongly connected components, iterative
            work = [(node, iter(node.outputs))]
            index[node.name] = low[node.name] = len(index)
            stack.append(node)
            on_stack.add(node.name)
            while work:
                current, outputs = work[-1]
                for nxt in outputs:
                    if nxt.name not in index:
                        index[nxt.name] = low[nxt.name] = len(index)
                        stack.append(nxt)
                        on_stack.add(nxt.name)
                        work.append((nxt, iter(nxt.outputs)))
                        break
                    if nxt.name in on_stack:
                        low[current.name] = min(low[current.name], index[nxt.name])
                else:
                    work.pop()
                    if work:
                        low[work[-1][0].name] = min(low[work[-1][0].name], low[current.name])
                    if low[current.name] == index[current.name]:
                        component = []
                        while True:
                            member = stack.pop()
                            on_stack.discard(member.name)
                            component.append(member)
                            if member is current:
                                break
                        components.append(component)

        for node in nodes:
            if node.name not in index:
                connect(node)
        for component in components:
            names = {n.name for n in component}
            looping = len(component) > 1 or any(o.name in names for o in component[0].outputs)
            if not looping or any(isinstance(n, _WAITS) for n in component):
                continue
            if any(o.name not in names for n in component for o in n.outputs):
                continue  # a way out exists; a condition decides when it is taken
            first = min((n for n in component if getattr(n, "bpmn_id", None)), key=lambda n: n.bpmn_id, default=None)
            if first is None:
                continue
            problems.append(Problem(filename, first.bpmn_id,
                                    f"{_label(first)} is on a circle of sequence flows that has no way out and waits for nobody, "
                                    "so it would run for ever as soon as it is reached.",
                                    "Add a gateway with a condition and a flow that leaves the circle, or end the circle at a user task or timer."))
    return problems
