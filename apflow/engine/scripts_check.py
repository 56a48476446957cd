"""Names a diagram's code uses that could only fail when it runs: a call to a function nobody provides
(`get_env()`, `timedelta(days=1)`, `send_mail(...)`) or a module used as if it had been imported
(`datetime.now()`, `math.floor(x)`).

Process variables are plain names set by forms, start data or earlier scripts, so an unknown plain name is
allowed; but none of those can be called or hold a module. A name is known when it is a helper the sandbox
provides (sandbox.py, school_calendar.helpers), a builtin it allows, or assigned or defined anywhere in the
diagrams (a script's `x = ...`, `def f():`, a loop variable, a multi-instance item, a message variable).
"""
from __future__ import annotations

import ast
import difflib
import sys
from typing import Collection, Iterable

from apflow import school_calendar

from . import sandbox
from .diagrams import SpecBundle
from .problems import Problem

HELPERS = frozenset(school_calendar.helpers(lambda: None)) | {"as_duration"}
ALLOWED = (frozenset(sandbox.BUILTINS) | frozenset(sandbox.EXCEPTIONS)
           | {"str", "range", "sum", "round", "isinstance", "print", "True", "False", "None"})
# Modules a script might reach for; `datetime.now()` reads as a module even where no standard module has the name.
MODULES = frozenset(sys.stdlib_module_names) | {"dateutil", "requests", "pandas", "numpy", "np", "pd", "pytz", "arrow"}
HINTS = {
    "get_env": "Scripts cannot read the server's settings or environment; put the value in the diagram or in process data.",
    "timedelta": "Use the date helpers instead: days(n), weeks(n), hours(n), school_days(n).",
    "datetime": "Use the date helpers instead (days(n), end_of_term(), ...), which give ISO 8601 dates as text.",
    "now": "Use the date helpers instead (days(0) is now, as ISO 8601 text).",
}


def assigned_names(sources: Iterable[str]) -> set[str]:
    """Every name some code in the diagrams binds: assignment targets, defined functions and their parameters,
    loop and comprehension variables, `with ... as`, `except ... as`."""
    names: set[str] = set()
    for source in sources:
        tree = _parse(source, "exec")
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return names


def spec_variables(task_specs) -> set[str]:
    """Names the engine itself sets from the diagram: multi-instance items and collections, message and signal
    variables, data objects."""
    names: set[str] = set()
    for task_spec in task_specs:
        for attribute in ("data_input", "data_output", "input_item", "output_item"):
            value = getattr(task_spec, attribute, None)
            name = getattr(value, "bpmn_id", None) or (value if isinstance(value, str) else None)
            if name and str(name).isidentifier():
                names.add(str(name))
        event = getattr(task_spec, "event_definition", None)
        for attribute in ("variable", "result_var"):
            value = getattr(event, attribute, None) or getattr(task_spec, attribute, None)
            if isinstance(value, str) and value.isidentifier():
                names.add(value)
        spec = getattr(task_spec, "_wf_spec", None)
        names.update(getattr(spec, "data_objects", None) or {})
    return names


def _parse(source, mode):
    try:
        return ast.parse(str(source).strip(), mode=mode)
    except (SyntaxError, ValueError):
        try:
            return ast.parse(str(source).strip(), mode="exec")
        except (SyntaxError, ValueError):
            return None  # the sandbox check reports a syntax error


def check(filename: str, expressions: Iterable[tuple[str, str, str | None]], known: set[str],
          helper_names: Collection[str] | None = None) -> list[Problem]:
    """Problems for every call to an unknown function, and every module used, in these (element, what, source)."""
    problems: list[Problem] = []
    available = HELPERS if helper_names is None else frozenset(helper_names) | {"as_duration"}
    allowed = ALLOWED | available
    helpers = ", ".join(f"{h}()" for h in sorted(available - {"as_duration"}))
    for element, what, source in expressions:
        if not source or not str(source).strip():
            continue
        tree = _parse(source, "eval")
        if tree is None:
            continue
        called, modules = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                called.add(node.func.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and isinstance(node.value.ctx, ast.Load):
                modules.add(node.value.id)
        for name in sorted(called - allowed - known - sandbox.FORBIDDEN_CALLS):
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = HINTS.get(name) or (f"Did you mean {close[0]}()?" if close else "Define it in a script first, or use a helper.")
            problems.append(Problem(filename, element, f"The {what} calls '{name}()', which is neither a helper apflow provides nor "
                                    "defined anywhere in the diagram, so it would fail when it runs.",
                                    f"{hint} The helpers are: {helpers}; see docs/authoring.md."))
        for name in sorted((modules & MODULES) - allowed - known - called):
            problems.append(Problem(filename, element, f"The {what} uses '{name}' as a module ('{name}.…'), but scripts cannot "
                                    "import modules, so it would fail when it runs.",
                                    HINTS.get(name, "Use plain expressions on process data and the helpers listed in docs/authoring.md.")))
    return problems


CODE = ("script", "pre-script", "post-script", "condition", "loop", "completion", "cardinality", "payload", "correlation", "assignTo")


def check_parsed(parsed, expressions, helper_names: Collection[str] | None = None) -> list[Problem]:
    """check() over every process of a parsed set (each once, in its own file); expressions(bundle) yields its
    (element, what, source).

    Timers and due times are left to validate's own helper check, which already names a misspelt helper."""
    specs: dict[str, tuple[str, object]] = {}
    for pid in parsed.process_ids:
        for spec in parsed.bundle(pid).all_specs():
            specs.setdefault(spec.name, (parsed.process_files.get(spec.name) or parsed.process_files[pid], spec))
    task_specs = [ts for _, spec in specs.values() for ts in spec.task_specs.values()]
    sources = [getattr(ts, attribute, None) for ts in task_specs for attribute in ("script", "prescript", "postscript")]
    known = assigned_names(s for s in sources if s) | spec_variables(task_specs)
    problems = []
    for name, (filename, spec) in specs.items():
        code = [(element, what, source) for element, what, source in expressions(SpecBundle(name, spec, {})) if what.startswith(CODE)]
        problems += check(filename, code, known, helper_names)
    return problems
