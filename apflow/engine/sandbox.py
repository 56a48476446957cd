"""The script engine for uploaded (untrusted) diagrams: every script, condition and timer expression
runs as RestrictedPython with extra AST rules, a time/step budget and caps on the size of what it builds.
"""
from __future__ import annotations

import ast
import builtins
import copy
import functools
import operator
import re
import time

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import IOPERATOR_TO_STR
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

HELP = "use the helper functions listed in docs/authoring.md"
MAX_SOURCE_CHARS = 100_000
MAX_INT_BITS = 32_768  # big-int division is quadratic and runs in C, where no time check can reach
MAX_STEPS = 5_000_000  # a deterministic twin of the time limit
MAX_DEPTH = 100        # nesting of saved values: JSON encoders and deepcopy recurse
TOTAL_FACTOR = 20      # one run may build at most TOTAL_FACTOR * max_size items and characters in all
MAX_INSTANCES = 1_000  # copies one multi-instance activity may make, and runs one standard loop may make

FORBIDDEN_CALLS = frozenset({
    'eval', 'exec', 'open', 'compile', 'getattr', 'setattr', 'delattr', 'hasattr', 'globals', 'locals',
    'vars', 'type', 'object', 'super', 'input', 'breakpoint', 'iter', 'dir', 'help', 'exit', 'quit',
    'memoryview', 'bytearray', 'classmethod', 'staticmethod', 'property', 'format', '__import__'})
_PADDING = "it can build huge strings; use f-strings or + instead"
FORBIDDEN_ATTRS = {
    'format': "use f-strings or + instead", 'format_map': "use f-strings or + instead",
    'ljust': _PADDING, 'rjust': _PADDING, 'center': _PADDING, 'zfill': _PADDING, 'expandtabs': _PADDING,
    'translate': _PADDING, 'maketrans': _PADDING, 'to_bytes': "it can build huge values",
    'from_bytes': "it can build huge numbers", 'fromhex': "it can build huge values",
    'mro': "it exposes Python internals"}
# name -> what the wrapper does with the result: count it as new data, count each item it yields, or nothing.
BUILTINS = {'list': 'value', 'dict': 'value', 'set': 'value', 'tuple': 'value', 'sorted': 'value',
            'zip': 'items', 'enumerate': 'items', 'reversed': 'items', 'len': None, 'min': None, 'max': None,
            'any': None, 'all': None, 'abs': None, 'int': 'value', 'float': None, 'bool': None}
EXCEPTIONS = {name: getattr(builtins, name) for name in (
    'Exception', 'ArithmeticError', 'AssertionError', 'AttributeError', 'IndexError', 'KeyError',
    'LookupError', 'NameError', 'OverflowError', 'RuntimeError', 'TypeError', 'ValueError',
    'ZeroDivisionError')}
SIZED = (str, bytes, list, tuple, dict, set, frozenset)
SEQUENCES = (str, bytes, list, tuple)
CONTAINERS = (list, tuple, dict, set, frozenset, BaseException, type({}.keys()), type({}.values()),
              type({}.items()))
JSON_KEYS = (str, int, float, bool, type(None))
_OPERATOR_NAMES = {'+': 'add', '-': 'sub', '*': 'mul', '/': 'truediv', '//': 'floordiv', '%': 'mod',
                   '**': 'pow', '<<': 'lshift', '>>': 'rshift', '|': 'or_', '^': 'xor', '&': 'and_',
                   '@': 'matmul'}
OPS = {sym: getattr(operator, name) for sym, name in _OPERATOR_NAMES.items()}
INPLACE_OPS = {sym: getattr(operator, 'i' + name.rstrip('_')) for sym, name in _OPERATOR_NAMES.items()}
MUTATORS = frozenset({'append', 'extend', 'insert', 'remove', 'pop', 'clear', 'sort', 'reverse', 'update',
                      'setdefault', 'popitem', 'add', 'discard', 'difference_update',
                      'intersection_update', 'symmetric_difference_update'})
COPIERS = frozenset({'copy', 'union', 'intersection', 'difference', 'symmetric_difference'})


class SandboxViolation(Exception):
    """A diagram script tried something the sandbox does not allow; str() explains it to the author."""


class SandboxLimitExceeded(SandboxViolation):
    """A diagram script ran too long or tried to build too large a value."""


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules plus ours, and a rewrite that lets the run meter time and size.

    Every call, comparison, operator, loop pass and function entry checks the budget, and every
    value put into a list/dict/set/tuple is counted, so repeated references ([s] * n, x = [x, x])
    cannot build values whose printing, sorting or comparing would run for hours inside C code.
    """

    def _call(self, name, *args, like):
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), list(args), []), like)

    def _ticked(self, expr, *counted):
        # `_tick_(...) or expr` is expr, evaluated after a budget check.
        tick = self._call('_tick_', *(ast.Name(n, ast.Load()) for n in counted if n), like=expr)
        return ast.copy_location(ast.BoolOp(ast.Or(), [tick, expr]), expr)

    def _counted(self, node):
        return self._call('_sized_', node, like=node)

    def _refuse(self, node, message):
        self.error(node, message)
        return node

    def visit_Import(self, node):
        return self._refuse(node, f"imports are not allowed in diagram scripts; {HELP}")

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        return self._refuse(node, "class definitions are not allowed in diagram scripts; use dicts instead")

    def visit_Yield(self, node):
        return self._refuse(node, "generators (yield) are not allowed in diagram scripts; return a list instead")

    visit_YieldFrom = visit_Yield

    def visit_Attribute(self, node):
        if node.attr in FORBIDDEN_ATTRS:
            self.error(node, f'".{node.attr}" is not allowed in diagram scripts; {FORBIDDEN_ATTRS[node.attr]}')
        if not isinstance(node.ctx, ast.Load):
            self.error(node, f'changing attributes (".{node.attr} = ...") is not allowed in diagram scripts; '
                             'keep values in variables or dicts instead')
        return super().visit_Attribute(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.error(node, f'"{node.func.id}()" is not available in diagram scripts; {HELP}')
        node = super().visit_Call(node)
        node.func = self._ticked(node.func)
        return node

    def visit_Compare(self, node):
        return self._ticked(super().visit_Compare(node))

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        symbol = IOPERATOR_TO_STR[type(node.op)][:-1]
        return self._call('_binop_', ast.Constant(symbol), node.left, node.right, like=node)

    def visit_AugAssign(self, node):
        target = node.target
        if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
            # RestrictedPython refuses `counts[k] += 1`; we allow it through a guarded helper.
            args = [self.visit(target.value), self.visit(target.slice),
                    ast.Constant(IOPERATOR_TO_STR[type(node.op)]), self.visit(node.value)]
            return ast.copy_location(ast.Expr(self._call('_augitem_', *args, like=node)), node)
        return super().visit_AugAssign(node)

    def visit_ExceptHandler(self, node):
        # A bare `except:` would also swallow KeyboardInterrupt and SystemExit meant for the server.
        if node.type is None:
            node.type = ast.copy_location(ast.Name('Exception', ast.Load()), node)
        return super().visit_ExceptHandler(node)

    def _tick_first(self, node, *counted):
        tick = self._call('_tick_', *(ast.Name(n, ast.Load()) for n in counted if n), like=node)
        node.body.insert(0, ast.copy_location(ast.Expr(tick), node))
        return node

    def visit_For(self, node):
        return self._tick_first(super().visit_For(node))

    def visit_While(self, node):
        return self._tick_first(super().visit_While(node))

    @staticmethod
    def _star_names(args):
        return [a.arg if a else None for a in (args.vararg, args.kwarg)]

    def visit_FunctionDef(self, node):
        return self._tick_first(super().visit_FunctionDef(node), *self._star_names(node.args))

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        node.body = self._ticked(node.body, *self._star_names(node.args))
        return node

    def visit_List(self, node):
        node = self.node_contents_visit(node)
        if not isinstance(getattr(node, 'ctx', ast.Load()), ast.Load) or any(
                isinstance(e, ast.Slice) for e in getattr(node, 'elts', ())):
            return node
        return self._counted(node)

    visit_Tuple = visit_Set = visit_Dict = visit_List

    def visit_ListComp(self, node):
        node = getattr(super(), f'visit_{type(node).__name__}')(node)
        node.elt = self._counted(node.elt)
        return node

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        node = super().visit_DictComp(node)
        node.key, node.value = self._counted(node.key), self._counted(node.value)
        return node

    def visit_FormattedValue(self, node):
        node = super().visit_FormattedValue(node)
        spec = node.format_spec or ast.Constant('')
        node.value = self._call('_format_', node.value, ast.Constant(node.conversion), spec, like=node.value)
        node.conversion, node.format_spec = -1, None
        return node

    def visit_Module(self, node):
        return ast.fix_missing_locations(super().visit_Module(node))

    def visit_Expression(self, node):
        return ast.fix_missing_locations(super().visit_Expression(node))


@functools.lru_cache(maxsize=1024)
def _compile(source: str, mode: str):
    """(code or None, problems) for source compiled exactly as the runtime runs it."""
    if len(source) > MAX_SOURCE_CHARS:
        return None, (f"the script is longer than {MAX_SOURCE_CHARS:,} characters; split it into smaller tasks",)
    try:
        tree = ast.parse(source, '<string>', mode)
        compiler = compile_restricted_exec if mode == 'exec' else compile_restricted_eval
        result = compiler(tree, filename='<string>', policy=_Policy)
    except SyntaxError as err:
        where = f"Line {err.lineno}: " if err.lineno else ""
        return None, (f"{where}Python syntax error: {err.msg}",)
    except (ValueError, TypeError, RecursionError, MemoryError) as err:
        return None, (f"the script is nested too deeply or could not be read ({err.__class__.__name__}); "
                      "simplify it",)
    return result.code, tuple(result.errors)


def check(source: str, mode: str) -> list[str]:
    """mode 'exec' (scripts) or 'eval' (conditions, timer expressions). Compile exactly as the runtime would;
    return plain-English problems ([] = ok). Never executes anything."""
    if mode not in ('exec', 'eval'):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if not isinstance(source, str):
        return ["the script must be text"]
    return list(_compile(source, mode)[1])


def _measure(value, limit, tick=None):
    """(rough length as JSON/text, plain JSON data?, nesting depth), counting shared references each
    time they occur; it stops once past limit, and calls tick() now and then on long walks."""
    size, plain, depth, level, visited = 0, True, 0, [value], 0
    while level and size <= limit:
        depth, below = depth + 1, []
        for v in level:
            kind = type(v)
            if kind is str or kind is bytes:
                size += len(v)
                plain = plain and kind is str
            elif kind is int:
                size += v.bit_length() // 3 + 1
            elif v is None or kind is bool or kind is float:
                size += 4
            elif isinstance(v, CONTAINERS):
                items = v.args if isinstance(v, BaseException) else v
                size += 2 * len(items) + 2
                if size > limit:
                    break
                if isinstance(v, dict):
                    plain = plain and kind is dict and all(type(k) in JSON_KEYS for k in v)
                    below.extend(v.values())
                else:
                    plain = plain and kind in (list, tuple)
                below.extend(items)
                visited += 1
                if tick is not None and not visited % 4096:
                    tick()
            else:
                size, plain = size + 64, False
        level = below
    return size, plain, depth


class _Printer:
    """Stands in for print(): output is discarded, writing to files is refused."""

    def __init__(self, run):
        self.run = run

    def _call_print(self, *objects, **kwargs):
        self.run.tick()
        if kwargs.get('file') is not None:
            self.run.fail(SandboxViolation("print(file=...) is not allowed in diagram scripts"))

    def __call__(self):
        return ''


class _Writer:
    """What `target[key] = value` writes through, so what goes in is counted and lists stay bounded."""

    def __init__(self, run, target):
        self.run, self.target = run, target

    def __setitem__(self, key, value):
        if isinstance(key, slice):
            value = list(self.run.getiter(value))
        else:
            self.run.charge(key, "the key")
        self.target[key] = self.run.charge(value, "the item")
        self.run.need(len(self.target), f"the {type(self.target).__name__}")

    def __delitem__(self, key):
        del self.target[key]


class _Run:
    """Budget and guards for one execution; a fresh one per call keeps threads apart."""

    def __init__(self, env, read_only):
        self.max_size, self.max_seconds, self.max_steps = env.max_size, env.max_seconds, env.max_steps
        self.read_only = read_only
        self.monotonic = env.monotonic
        self.deadline = self.monotonic() + env.max_seconds
        self.steps = self.built = 0
        self.budget = TOTAL_FACTOR * env.max_size
        self.failure = None
        self.real = {}  # id(wrapper) -> wrapped builtin, for isinstance() and attribute checks

    def fail(self, exc):
        # Remembered, so a script that catches the error still fails when it ends.
        if self.failure is None:
            self.failure = exc
        raise exc

    def tick(self, *counted):
        if self.failure is not None:
            raise type(self.failure)(*self.failure.args)
        self.steps += 1
        if self.steps > self.max_steps:
            self.fail(SandboxLimitExceeded(f"step limit reached: the script did more than {self.max_steps:,} "
                                           "steps and was stopped; check for loops that never end"))
        if self.monotonic() > self.deadline:
            self.fail(SandboxLimitExceeded(f"time limit reached: the script ran for more than {self.max_seconds:g} s "
                                           "and was stopped; check for loops that never end"))
        for value in counted:
            self.charge(value, "the arguments")

    def need(self, size, what):
        if size > self.max_size:
            self.fail(SandboxLimitExceeded(f"size limit reached: {what} would hold more than {self.max_size:,} "
                                           "items or characters; work with smaller values"))

    def need_bits(self, bits, what):
        if bits > MAX_INT_BITS:
            self.fail(SandboxLimitExceeded(f"size limit reached: {what} would give a number of more than "
                                           f"{MAX_INT_BITS:,} bits; work with smaller numbers"))

    def charge(self, value, what="a value", times=1):
        """Check a value about to be built or stored (times copies of it) and count it towards the total."""
        if isinstance(value, int):
            self.need_bits(value.bit_length(), what)
            return value
        if value is None or isinstance(value, float):
            return value
        if isinstance(value, SIZED):
            self.need(len(value) * times, what)
        left = self.budget - self.built
        self.built += _measure(value, left // max(times, 1) + 1, self.tick)[0] * times
        if self.built > self.budget:
            self.fail(SandboxLimitExceeded(f"size limit reached: the script built more than {self.budget:,} items "
                                           f"and characters in all (last: {what}); work with smaller values"))
        return value

    def binop(self, op, a, b, inplace=False):
        self.tick()
        what = f'"{op}"'
        function = (INPLACE_OPS if inplace else OPS)[op]
        if op == '%' and isinstance(a, (str, bytes)):
            self.fail(SandboxViolation('"%" formatting is not allowed in diagram scripts; use f-strings instead'))
        if isinstance(a, int) and isinstance(b, int):
            # Every operand is checked before the operation: division and remainder of huge numbers run
            # in C for minutes, where no budget check can reach.
            self.need_bits(max(a.bit_length(), b.bit_length()), what)
            if op == '*':
                self.need_bits(a.bit_length() + b.bit_length(), what)
            elif op == '**' and b > 0 and abs(a) > 1:
                self.need_bits(a.bit_length() * b, what)
            elif op == '<<' and a and b > 0:
                self.need_bits(a.bit_length() + b, what)
            return self.charge(function(a, b), what)
        if op == '*' and isinstance(a, SEQUENCES + (int,)) and isinstance(b, SEQUENCES + (int,)):
            seq, n = (a, b) if isinstance(b, int) else (b, a)
            self.charge(seq, what, times=max(n, 0))
            return function(a, b)
        if op == '+' and isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
            self.need(len(a) + len(b), what)
        result = function(a, b)
        self.charge(b if inplace and result is a else result, what)  # in place: only the added part is new
        return result

    def inplacevar(self, op, a, b):
        return self.binop(op[:-1], a, b, inplace=True)

    def augitem(self, target, key, op, value):
        self.write(target)[key] = self.inplacevar(op, self.getitem(target, key), value)

    def getattr(self, obj, name):
        self.tick()
        if not isinstance(name, str) or name.startswith('_') or name in FORBIDDEN_ATTRS:
            self.fail(SandboxViolation(f'reading ".{name}" is not allowed in diagram scripts'))
        obj = self.real.get(id(obj), obj)
        if isinstance(obj, BaseException) and name != 'args':
            # add_note() and friends would attach unbounded data to an error the server later prints.
            self.fail(SandboxViolation(f'reading ".{name}" of an error is not allowed in diagram scripts; '
                                       'use str(error) or error.args'))
        if isinstance(obj, type):
            # Unbound methods (str.join(sep, ...), dict.fromkeys) would skip the per-value checks below.
            self.fail(SandboxViolation(f'reading ".{name}" of a type is not allowed in diagram scripts; '
                                       'call the method on a value instead, e.g. text.upper()'))
        value = getattr(obj, name)
        if isinstance(obj, SIZED):
            return self._method(obj, name, value) if callable(value) else value
        # A container held by another object (an exception's .args) counts as if built here.
        return self.charge(value, f'".{name}"') if isinstance(value, CONTAINERS) else value

    def _method(self, obj, name, method):
        text, mutable = isinstance(obj, (str, bytes)), isinstance(obj, (list, dict, set))

        def call(*args, **kwargs):
            self.tick()
            what = f'".{name}()"'
            if mutable and name in MUTATORS:
                if self.read_only:
                    self.fail(SandboxViolation(f"a condition or expression may not change data ({what})"))
                for value in (*args, *kwargs.values()):
                    self.charge(value, what)
            elif text and name == 'join' and len(args) == 1:
                args = (list(self.getiter(args[0])),)
                parts = sum(len(p) for p in args[0] if isinstance(p, (str, bytes)))
                self.need(parts + len(obj) * max(len(args[0]) - 1, 0), what)
            elif text and name == 'replace' and len(args) >= 2:
                old, new = args[0], args[1]
                count = args[2] if len(args) > 2 else kwargs.get('count', -1)
                hits = obj.count(old) if old else len(obj) + 1
                hits = min(hits, count) if isinstance(count, int) and count >= 0 else hits
                self.need(len(obj) + hits * max(len(new) - len(old), 0), what)
            result = method(*args, **kwargs)
            if mutable:
                self.need(len(obj), what)
            return self.charge(result, what) if text or name in COPIERS else result
        return call

    def getitem(self, obj, key):
        self.tick()
        value = obj[key]
        return self.charge(value, "the slice") if isinstance(key, slice) else value

    def getiter(self, obj):
        iterator = iter(obj)

        def ticking():
            for item in iterator:
                self.tick()
                yield item
        return ticking()

    def write(self, obj):
        if self.read_only:
            self.fail(SandboxViolation("a condition or expression may not change data"))
        if type(obj) in (dict, list):
            return _Writer(self, obj)
        self.fail(SandboxViolation(f"items of a {type(obj).__name__} cannot be changed in diagram scripts; "
                                   "only dicts and lists can"))

    def apply(self, func, *args, **kwargs):
        self.charge(args, "the * arguments")
        self.charge(kwargs, "the ** arguments")
        return func(*args, **kwargs)

    def format(self, value, conversion, spec):
        self.tick()
        for digits in re.findall(r'\d+', spec):
            if len(digits) > 9 or int(digits) > self.max_size:
                self.fail(SandboxLimitExceeded(f'size limit reached: the format ":{spec[:40]}" asks for a width or '
                                               f'precision over {self.max_size:,}; use a smaller one'))
        if not isinstance(value, (str, int, float)) and value is not None:
            self.need(_measure(value, self.max_size)[0], "the f-string")
        convert = {114: repr, 97: ascii, 115: str}.get(conversion)
        return self.charge(format(convert(value) if convert else value, spec), "the f-string")

    def str(self, *args, **kwargs):
        self.tick()
        if len(args) == 1 and not kwargs:
            self.need(_measure(args[0], self.max_size)[0], "str()")
        return self.charge(str(*args, **kwargs), "str()")

    def range(self, *args):
        self.tick()
        numbers = range(*args)
        try:
            self.need(len(numbers), "range()")
        except OverflowError:
            self.need(self.max_size + 1, "range()")
        return numbers

    def sum(self, iterable, start=0):
        self.tick()
        items = list(self.getiter(iterable))
        if isinstance(start, (int, float)) and all(isinstance(i, (int, float)) for i in items):
            return self.charge(sum(items, start), "sum()")
        for item in items:
            start = self.binop('+', start, item)
        return start

    def round(self, number, ndigits=None):
        self.tick()
        if isinstance(ndigits, int) and ndigits < 0:
            self.need_bits(-4 * ndigits, "round()")  # round(5, -n) computes 10 ** n
        return round(number, ndigits)

    def isinstance(self, obj, kinds):
        if isinstance(kinds, tuple):
            kinds = tuple(self.real.get(id(k), k) for k in kinds)
        return isinstance(obj, self.real.get(id(kinds), kinds))

    def wrap(self, func, name, result=None, helper=False):
        # Every callable a script can reach checks the budget, even when C code (sorted, max) calls it.
        def wrapper(*args, **kwargs):
            self.tick()
            if helper:
                # A helper is code outside the sandbox that may turn what it is given into text.
                for value in (*args, *kwargs.values()):
                    if not isinstance(value, (bool, int, float, type(None))) and not (type(value) is str and len(value) <= self.max_size):
                        self.need(_measure(value, self.max_size, self.tick)[0], f"what is given to {name}()")
            value = func(*args, **kwargs)
            if result == 'value':
                return self.charge(value, f"{name}()")
            if result == 'items':
                return (self.charge(item, f"{name}()") for item in self.getiter(value))
            return value
        wrapper.__name__ = name
        return wrapper

    def unavailable(self, name):
        def stub(*args, **kwargs):
            self.fail(SandboxViolation(f'"{name}()" is not available in diagram scripts; {HELP}'))
        return stub

    def namespace(self, helpers):
        """Helpers, builtins and the guard functions compiled code calls (names a script cannot rebind)."""
        safe = {name: self.unavailable(name) for name in FORBIDDEN_CALLS}
        safe.update(EXCEPTIONS)
        for name, result in BUILTINS.items():
            safe[name] = self.wrap(getattr(builtins, name), name, result)
        safe.update(str=self.str, range=self.range, sum=self.sum, round=self.round, isinstance=self.isinstance)
        # Keyed by id: `safe` keeps these very objects alive as long as the run is.
        self.real = {id(safe[name]): getattr(builtins, name) for name in (*BUILTINS, 'str', 'range')}
        printer = _Printer(self)
        ns = {name: self.wrap(func, name, helper=True) for name, func in helpers.items()}
        ns.update({
            '__builtins__': safe, '_tick_': self.tick, '_binop_': self.binop, '_inplacevar_': self.inplacevar,
            '_augitem_': self.augitem, '_getattr_': self.getattr, '_getitem_': self.getitem,
            '_getiter_': self.getiter, '_write_': self.write, '_apply_': self.apply, '_format_': self.format,
            '_sized_': self.charge, '_iter_unpack_sequence_': guarded_iter_unpack_sequence,
            '_unpack_sequence_': guarded_unpack_sequence, '_print_': lambda _getattr_=None: printer,
            '_print': printer})
        return ns


def _public(data):
    """The entries a script may see: names starting with _ belong to the engine and the guards."""
    return {k: v for k, v in data.items() if isinstance(k, str) and not k.startswith('_')}


def _tidy(err, limit=2000):
    """Leave an error escaping a script small and plain: SpiffWorkflow adds args[0] to its message
    (and fails unless it is a str), and the server logs the whole chain."""
    if not (len(err.args) == 1 and isinstance(err.args[0], str) and len(err.args[0]) <= limit):
        size, _, depth = _measure(err, 2 * limit)
        err.args = (str(err)[:limit] if size <= 2 * limit and depth <= MAX_DEPTH else "(message too long)",)
    err.__cause__ = err.__context__ = None


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs diagram code with task data as its variables and the lead's helpers as extra globals."""

    max_steps = MAX_STEPS
    # The wall clock behind max_seconds. Tests may replace it on an instance (as they may lower max_steps)
    # to trip the time limit after a known amount of work, whatever the machine's speed.
    monotonic = staticmethod(time.monotonic)

    def __init__(self, helpers: dict | None = None, max_seconds: float = 1.0, max_size: int = 1_000_000):
        super().__init__({})
        self.helpers = dict(helpers or {})
        for name, func in self.helpers.items():
            if not name.isidentifier() or name.startswith('_') or not callable(func):
                raise ValueError(f"helper {name!r} must be a callable with a plain name")
        self.max_seconds, self.max_size = float(max_seconds), int(max_size)

    def evaluate(self, expression, context, external_context=None):
        """The value of expression, with task data (read only) and the helpers as variables."""
        code = self._code(expression, 'eval')
        run = _Run(self, read_only=True)
        value = self._run(run, eval, code, self._namespace(run, context, external_context or {}))
        if not isinstance(value, (bool, int, float, type(None))) and not (type(value) is str and len(value) <= self.max_size):
            # The host turns values into text and compares them outside the sandbox (due times, timers, data):
            # what leaves must be as small as what a script may save.
            size, _, depth = _measure(value, self.max_size, run.tick)
            if size > self.max_size or depth > MAX_DEPTH:
                raise SandboxLimitExceeded(f"size limit reached: the expression gave a value too large or too deeply "
                                           f"nested to use (over {self.max_size:,} characters or {MAX_DEPTH} levels)")
        return value

    def execute(self, script, context, external_context=None):
        """Run script on task data; new and changed JSON-able variables are written back into context."""
        external_context = external_context or {}
        clash = sorted((set(self.helpers) | set(external_context)) & set(context))
        if clash:
            raise SandboxViolation(f"task data field(s) {', '.join(clash)} have the same name as a helper "
                                   "function; rename the form field(s) or variable(s)")
        code = self._code(script, 'exec')
        run = _Run(self, read_only=False)
        # Scripts work on a copy, so a failed run leaves the task data exactly as it was.
        before = copy.deepcopy(_public(context))
        ns = self._namespace(run, before, copy.deepcopy(external_context))
        self._run(run, exec, code, ns)
        updates = {}
        for name, value in ns.items():
            if name.startswith('_') or name in self.helpers or name in external_context:
                continue
            size, plain, depth = _measure(value, self.max_size)
            if size > self.max_size or depth > MAX_DEPTH:
                raise SandboxLimitExceeded(f'size limit reached: the variable "{name}" is too large or too deeply '
                                           f'nested to save (over {self.max_size:,} characters or {MAX_DEPTH} levels)'
                                           '; keep less data in it')
            # Functions, generators and other non-JSON values are dropped; values the script left alone stay.
            if plain or (name in before and value is before[name]):
                updates[name] = value
        for name in before:
            if name not in updates:
                context.pop(name, None)
        context.update(updates)
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not supported")

    @staticmethod
    def _code(source, mode):
        if not isinstance(source, str):
            raise SandboxViolation("a diagram script or expression must be text")
        code, problems = _compile(source, mode)
        if problems:
            raise SandboxViolation("; ".join(problems))
        return code

    def _namespace(self, run, data, external_context):
        return {**_public(data), **_public(external_context), **run.namespace(self.helpers)}

    @staticmethod
    def _run(run, runner, code, ns):
        try:
            result = runner(code, ns)
        except SandboxViolation:
            raise
        except Exception as err:
            replacement = run.failure
            if replacement is None and isinstance(err, RecursionError):
                replacement = SandboxLimitExceeded("recursion limit reached: functions call themselves too deeply; "
                                                   "use a loop instead")
            elif replacement is None and isinstance(err, MemoryError):
                replacement = SandboxLimitExceeded("memory limit reached: the script ran out of memory; "
                                                   "work with smaller values")
            if replacement is None:
                _tidy(err)
                raise
            # Keep the script's frames so SpiffWorkflow can still report the offending line.
            raise type(replacement)(*replacement.args).with_traceback(err.__traceback__) from None
        if run.failure is not None:
            raise type(run.failure)(*run.failure.args)
        return result


class SandboxedScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose environment is a SandboxedEnvironment; validate() uses check(..., 'eval')."""

    def __init__(self, helpers=None, max_seconds=1.0, max_size=1_000_000):
        super().__init__(environment=SandboxedEnvironment(helpers, max_seconds, max_size))
        # Called with the task before any of its diagram code runs: a worker process shows it, so a step
        # stopped from outside can still name the element it was stopped in.
        self.observer = None

    def evaluate(self, task, expression, external_context=None):
        if self.observer is not None:
            self.observer(task)
        value = super().evaluate(task, expression, external_context)
        if expression is getattr(task.task_spec, 'cardinality', None) and isinstance(value, int) and value > MAX_INSTANCES:
            raise WorkflowTaskException(
                f"it asked for {value:,} copies of the activity; at most {MAX_INSTANCES:,} are allowed", task=task,
                exception=SandboxLimitExceeded(f"size limit reached: at most {MAX_INSTANCES:,} copies of one activity"))
        return value

    def execute(self, task, script, external_context=None):
        if self.observer is not None:
            self.observer(task)
        return super().execute(task, script, external_context)

    def validate(self, expression):
        ast.parse(expression, mode='eval')  # a plain SyntaxError first: the DMN engine relies on it
        problems = check(expression, 'eval')
        if problems:
            raise SandboxViolation("; ".join(problems))

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        # apflow's built-in operations only (apflow.engine.service_tasks): recorded as effects of the step.
        from .service_tasks import run

        if self.observer is not None:
            self.observer(task)
        return run(task, operation_name, operation_params or {})
