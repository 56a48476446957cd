"""Task forms: JSON Schema + UI schema files named on user tasks, and server-side checking of answers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import re2
import referencing
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError
from referencing.exceptions import NoSuchResource

from .patterns import is_regex, pattern_problems, search
from .payloads import MAX_ITEMS
from .problems import Problem
from .properties import task_properties

SCHEMA_PROPERTY = "formJsonSchemaFilename"
# A field marked "x-apflow-restricted": true is child-protection detail: its answer goes to the child's
# child-protection file and never into process data (docs/authoring.md).
RESTRICTED = "x-apflow-restricted"
# "x-apflow-audience": ["provider", "family"] on a field (or on the whole schema) shares its answer with the
# provider delivering the placement and with the pupil's family; without it only the commissioning school sees it.
AUDIENCE = "x-apflow-audience"
AUDIENCES = frozenset({"provider", "family"})
UI_PROPERTY = "formUiSchemaFilename"
# Forms are data, not programs: what a form may ask of the server is bounded (docs/authoring.md, "Limits on forms").
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_NESTING = 32      # objects and lists inside one another in the form file
MAX_SCHEMA_NODES = 5000    # parts of the schema once every $ref is followed
MAX_SCHEMA_DEPTH = 32      # parts inside one another once every $ref is followed


@dataclass(frozen=True)
class FormRef:
    schema_file: str | None
    ui_file: str | None


def form_ref(task_spec) -> FormRef:
    props = task_properties(task_spec)
    return FormRef(props.get(SCHEMA_PROPERTY) or None, props.get(UI_PROPERTY) or None)


def read_form_files(forms_dir: Path, names: set[str]) -> tuple[dict[str, bytes], list[Problem]]:
    """The bytes of each named form file, and a problem for each one missing or unsafe."""
    found: dict[str, bytes] = {}
    problems: list[Problem] = []
    root = forms_dir.resolve()
    for name in sorted(names):
        path = (root / name).resolve()
        if root not in path.parents or not name.endswith(".json"):
            problems.append(Problem(name, None, "A form file name must be a .json file inside forms/.", "Name a file such as 'review.schema.json' that lives in forms/."))
            continue
        if not path.is_file():
            problems.append(Problem(name, None, f"The form file {name} does not exist in {forms_dir}.", "Create the file in forms/ or correct the name on the task."))
            continue
        data = path.read_bytes()
        if len(data) > MAX_FORM_BYTES:
            problems.append(Problem(name, None, "The form file is larger than 256 KiB.", "Split the form into smaller steps."))
            continue
        found[name] = data
    return found, problems


def check_form_source(name: str, data: bytes, ui: bool = False) -> list[Problem]:
    """Problems with one form file: JSON that parses and, for schemas, a valid JSON Schema describing an object
    that the server can check answers against in bounded time (schema_problems)."""
    if len(data) > MAX_FORM_BYTES:
        return [Problem(name, None, f"The form is larger than {MAX_FORM_BYTES // 1024} KiB.", "Split the form into smaller steps.")]
    try:
        document = json.loads(data)
    except RecursionError:
        return [Problem(name, None, "The file nests objects or lists too deeply to read.", "Flatten the form.")]
    except (ValueError, UnicodeDecodeError) as err:
        return [Problem(name, None, f"The file is not valid JSON: {err}.", "Correct the JSON syntax (a JSON linter shows the exact spot).")]
    if not isinstance(document, dict):
        return [Problem(name, None, "The file must hold a JSON object.", "Wrap the content in { ... }.")]
    if _nesting(document) > MAX_FORM_NESTING:
        return [Problem(name, None, f"The form nests objects or lists more than {MAX_FORM_NESTING} levels deep.", "Flatten the form.")]
    if ui:
        return []
    from . import formjs  # (imports this module)
    if formjs.is_formjs(document):  # a Camunda form: checked as the JSON Schema it converts to
        return check_form_source(name, json.dumps(formjs.convert(document).schema).encode("utf-8"))
    refused = schema_problems(document)
    if refused:
        return [Problem(name, None, message, fix) for message, fix in refused]
    try:
        _FormValidator.check_schema(document, format_checker=FORMAT_CHECKER)
    except SchemaError as err:
        return [Problem(name, None, f"The JSON Schema is invalid: {err.message}.", "Correct the schema keyword named in the message.")]
    # SpiffArena's forms often leave out "type": "object"; a schema with a properties map describes an object anyway.
    if document.get("type", "object") != "object" or not isinstance(document.get("properties"), dict):
        return [Problem(name, None, "A form schema must have \"type\": \"object\" and a \"properties\" map of fields.", "Describe each field under \"properties\".")]
    return []


class Form:
    """One task form: its schema, UI schema, and the check of submitted answers."""

    def __init__(self, schema: dict, ui_schema: dict | None = None):
        self.schema = schema
        self.ui_schema = ui_schema or {}
        # A version deployed before these checks existed may hold a form they refuse: it accepts no answers.
        self._refused = schema_problems(schema) if isinstance(schema, dict) else [("The form is not a JSON object.", "")]
        self._validator = answer_validator(schema)

    @property
    def fields(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    @property
    def restricted(self) -> frozenset[str]:
        """The fields whose answers are child-protection detail (kept out of process data)."""
        return restricted_fields(self.schema)

    def shared_with(self, audience: str) -> frozenset[str]:
        """The fields whose answers the commissioner shares with `audience` ("provider" or "family")."""
        everyone = audience in _audiences(self.schema)
        return frozenset(name for name, spec in self.schema.get("properties", {}).items()
                         if name not in self.restricted and (everyone or audience in _audiences(spec)))

    def errors(self, data) -> dict[str, list[str]]:
        """Per-field messages for answers that do not fit the form; {} when they do.

        Only fields the form declares are accepted, so a submission cannot overwrite other process data.
        """
        if not isinstance(data, dict):
            return {"": ["The answers must be a JSON object of field names to values."]}
        if self._refused:
            return {"": [f"This form cannot be checked safely, so it accepts no answers: {self._refused[0][0]} "
                         "A manager must correct the form and deploy the process again."]}
        errors: dict[str, list[str]] = {}
        for key in data:
            if key not in self.schema.get("properties", {}):
                errors.setdefault(key, []).append("This is not a field of this form.")
        for err in self._validator.iter_errors(data):
            if err.validator == "required":
                missing = [name for name in err.validator_value if name not in (err.instance or {})]
                for name in missing:
                    title = self.schema["properties"].get(name, {}).get("title", name)
                    _add(errors, name, f"{title} is required.")
                continue
            path = [str(p) for p in err.absolute_path]
            _add(errors, ".".join(path), _plain_message(err, self.schema))
        return errors

    def prefill(self, data: dict) -> dict:
        """The answers the form starts with: the process data it asks about, else a field's "default"."""
        properties = self.schema.get("properties", {})
        return {key: data[key] if key in data else properties[key]["default"] for key in self.fields
                if key in data or (isinstance(properties[key], dict) and "default" in properties[key])}

    def readable(self, answers: dict) -> list[dict]:
        """Answers in plain words, in the form's order, as its labels show them (the placement file):
        [{"key", "title", "value", "text"}]; a repeating group's "text" is a list of such lists, one per row."""
        return _readable(self.schema, self.ui_schema, answers)


# Words that stay in capitals (or their own spelling) when a value is turned into words.
ACRONYMS = {"la": "LA", "ppe": "PPE", "ehc": "EHC", "ehcp": "EHCP", "lado": "LADO", "senco": "SENCo", "camhs": "CAMHS",
            "dsl": "DSL", "sen": "SEN", "send": "SEND", "cic": "CIC", "rlp": "RLP", "kid": "KID", "sla": "SLA", "qa": "QA",
            "dbs": "DBS", "gcse": "GCSE", "nhs": "NHS", "ofsted": "Ofsted"}


def in_words(value) -> str:
    """A stored value as people read it: 'no_ehc_plan' -> 'No EHC plan', 'la' -> 'LA'."""
    words = [ACRONYMS.get(w.lower(), w) for w in str(value).split("_")]
    first = words[0] if words[0] in ACRONYMS.values() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def option_labels(prop: dict, ui: dict) -> list[tuple]:
    """[(value, label)] of a choice field: the UI schema's ui:enumNames, else the value in words."""
    values = prop.get("enum") or (prop.get("items") or {}).get("enum") or []
    labels = ui.get("ui:enumNames") or []
    return [(v, labels[i] if i < len(labels) else in_words(v)) for i, v in enumerate(values)]


def field_order(schema: dict, ui: dict) -> list[str]:
    props = list(schema.get("properties", {}))
    order = [k for k in ui.get("ui:order", []) if k in props]
    return order + [k for k in props if k not in order]


def _readable(schema: dict, ui: dict, answers: dict) -> list[dict]:
    result = []
    for key in field_order(schema, ui):
        value = answers.get(key)
        if key not in answers or value is None or value == "" or value == []:
            continue
        prop = schema["properties"][key] if isinstance(schema["properties"][key], dict) else {}
        sub_ui = ui.get(key) if isinstance(ui.get(key), dict) else {}
        result.append({"key": key, "title": prop.get("title", key.replace("_", " ").capitalize()), "value": value,
                       "text": _words(prop, sub_ui, value)})
    return result


def _words(prop: dict, ui: dict, value):
    labels = dict((repr(v), label) for v, label in option_labels(prop, ui))
    if sub_schema := (prop.get("items") if prop.get("type") == "array" and (prop.get("items") or {}).get("type") == "object" else None):
        item_ui = ui.get("items") if isinstance(ui.get("items"), dict) else {}
        return [_readable(sub_schema, item_ui, row) for row in value if isinstance(row, dict)]
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return [labels.get(repr(v), str(v)) for v in value]
    if ui.get("ui:widget") == "file":
        return "An uploaded file"
    return labels.get(repr(value), str(value))


def restricted_fields(schema: dict) -> frozenset[str]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return frozenset()
    return frozenset(name for name, spec in properties.items() if isinstance(spec, dict) and spec.get(RESTRICTED) is True)


def _audiences(spec) -> set[str]:
    value = spec.get(AUDIENCE) if isinstance(spec, dict) else None
    return set(value) if isinstance(value, list) else set()


def _add(errors: dict[str, list[str]], field_name: str, message: str) -> None:
    messages = errors.setdefault(field_name, [])
    if message not in messages:
        messages.append(message)


def _plain_message(err, schema) -> str:
    top = err.absolute_path[0] if err.absolute_path else None
    title = schema.get("properties", {}).get(top, {}).get("title", top) if top is not None else "The form"
    kind = err.validator
    if kind == "enum":
        return f"{title}: choose one of the offered options."
    if kind == "minLength":
        return f"{title}: write at least {err.validator_value} characters."
    if kind == "maxLength":
        return f"{title}: write at most {err.validator_value} characters."
    if kind == "minItems":
        return f"{title}: choose at least {err.validator_value}."
    if kind == "maxItems":
        return f"{title}: give at most {err.validator_value}."
    if kind == "uniqueItems":
        return f"{title}: give each entry only once."
    if kind == "pattern":
        return f"{title}: is not written in the expected form."
    if kind == "type":
        return f"{title}: must be {_type_words(err.validator_value)}."
    if kind == "format":
        return f"{title}: must be a valid {err.validator_value}."
    if kind in {"minimum", "exclusiveMinimum"}:
        return f"{title}: must be at least {err.validator_value}."
    if kind in {"maximum", "exclusiveMaximum"}:
        return f"{title}: must be at most {err.validator_value}."
    return f"{title}: {err.message}"


def _type_words(value) -> str:
    words = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "yes or no",
             "array": "a list", "object": "a group of fields", "null": "empty"}
    if isinstance(value, list):
        return " or ".join(words.get(v, v) for v in value)
    return words.get(value, value)


# -- what a form may ask of the server ------------------------------------------------------------
# jsonschema runs patterns on Python's backtracking `re`, compares uniqueItems pairwise, and fetches any URL or
# file a $ref names. Here patterns run on RE2 (linear time, no backtracking), uniqueness is one set lookup per
# item, nothing is ever fetched, and schema_problems refuses at validate/deploy what could still cost without
# bound: refs that leave the form or loop, patterns RE2 cannot run, and schemas that unfold too large.


_ONE = ("additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "dependentSchemas")
_DEFS = ("$defs", "definitions")  # applied only through a $ref
_REFS = ("$ref", "$dynamicRef")
_RESCOPE = ("$id", "$anchor", "$dynamicAnchor")  # would make a "#..." reference mean something other than a place in the form
_LOCAL_REF_FIX = ('Point references inside the form only, e.g. "$ref": "#/$defs/address", and copy anything it needs from '
                  "elsewhere into the form's \"$defs\".")


def _refuse_retrieval(uri: str):
    raise NoSuchResource(ref=uri)


# The registry a form's validator resolves references in: nothing outside the form is ever fetched or read.
NO_RETRIEVAL = referencing.Registry(retrieve=_refuse_retrieval)




def _canonical(value) -> str:
    """JSON text that is the same for values JSON Schema calls equal (1 and 1.0, objects in any key order)."""
    return json.dumps(_normal(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _normal(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"does not match the pattern {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    known, patterns = schema.get("properties", {}), list(schema.get("patternProperties", {}))
    extras = [key for key in instance if key not in known and not any(search(p, key) for p in patterns)]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif not additional and extras:
        verb = "was" if len(extras) == 1 else "were"
        yield ValidationError(f"Additional properties are not allowed ({', '.join(repr(key) for key in sorted(extras))} {verb} unexpected)")


def _unique_items(validator, unique, instance, schema):
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        text = _canonical(item)
        if text in seen:
            yield ValidationError("has an entry more than once")
            return
        seen.add(text)




FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checkers = {**Draft202012Validator.FORMAT_CHECKER.checkers, "regex": (is_regex, (re2.error, UnicodeEncodeError))}

_FormValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties, "uniqueItems": _unique_items,
}, format_checker=FORMAT_CHECKER)


def answer_validator(schema: dict):
    """The validator answers are checked with: patterns on RE2, uniqueItems in one pass, no $ref ever fetched."""
    return _FormValidator(schema, registry=NO_RETRIEVAL, format_checker=FORMAT_CHECKER)


def schema_problems(document: dict) -> list[tuple[str, str]]:
    """(message, fix) for each part of a form schema the server could not check answers against in bounded time,
    or that would reach outside the form."""
    if _nesting(document) > MAX_FORM_NESTING:
        return [(f"The form nests objects or lists more than {MAX_FORM_NESTING} levels deep.", "Flatten the form.")]
    problems: list[tuple[str, str]] = []
    seen: set[int] = set()
    uses_patterns = uses_unevaluated = False
    stack: list[tuple[object, tuple[str, ...]]] = [(document, ())]
    while stack:
        schema, path = stack.pop()
        if not isinstance(schema, dict) or id(schema) in seen:
            continue
        seen.add(id(schema))
        where = _where(path)
        uses_unevaluated = uses_unevaluated or "unevaluatedProperties" in schema
        for key in _RESCOPE:
            if key in schema:
                problems.append((f'{where[0].upper()}{where[1:]} sets "{key}", which would let a reference inside the form point elsewhere.',
                                 f'Remove "{key}"; refer to parts of the form with "$ref": "#/$defs/…".'))
        for key in _REFS:
            ref = schema.get(key)
            if ref is None:
                continue
            target = _resolve(document, ref)
            if not _is_local(ref):
                problems.append((f'The "{key}" of {where} points outside the form ({str(ref)[:200]}); forms never fetch other '
                                 "documents, web addresses or files.", _LOCAL_REF_FIX))
            elif target is _MISSING:
                problems.append((f'The "{key}" of {where} points to {ref}, which is not in the form.', _LOCAL_REF_FIX))
            else:
                stack.append((target, _tokens(ref)))
        if isinstance(schema.get("pattern"), str):
            problems += pattern_problems(schema["pattern"], f"the pattern of {where}")
        if isinstance(schema.get("patternProperties"), dict):
            uses_patterns = uses_patterns or bool(schema["patternProperties"])
            for pattern in schema["patternProperties"]:
                problems += pattern_problems(pattern, f"the property-name pattern {pattern[:100]!r} of {where}")
        limit = schema.get("maxItems")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > MAX_ITEMS:
            problems.append((f"{where[0].upper()}{where[1:]} allows {limit} entries; apflow accepts at most {MAX_ITEMS} in any list.",
                             f'Set "maxItems" to {MAX_ITEMS} or fewer.'))
        stack.extend(_subschemas(schema, path, with_defs=True))
    if uses_patterns and uses_unevaluated:  # jsonschema finds unevaluated properties with Python's backtracking `re`
        problems.append(('The form uses "unevaluatedProperties" together with "patternProperties", which apflow cannot check in '
                         "linear time.", 'Use "additionalProperties" instead of "unevaluatedProperties".'))
    return problems or _unfolded_problems(document)


def _unfolded_problems(document: dict) -> list[tuple[str, str]]:
    """The form with every $ref followed in place must be finite and small: no reference may lead back to where
    it starts, and the unfolded schema stays within MAX_SCHEMA_NODES parts and MAX_SCHEMA_DEPTH levels (else a
    few lines of $defs, each used twice by the next, ask for millions of checks per answer)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[object, tuple[str, ...]]] = [(document, ())]
    while stack:
        schema, path = stack[-1]
        key = id(schema)
        if key in size:
            stack.pop()
            continue
        entered.add(key)
        parts = list(_applied(document, schema, path))
        waiting = [(s, p) for s, p in parts if id(s) not in size]
        if any(id(s) in entered for s, _ in waiting):
            return [(f"A reference in {_where(path)} leads back to itself, so the form has no end.",
                     "Forms cannot be recursive: spell out each level of the form instead.")]
        if waiting:
            stack.extend(waiting)
            continue
        size[key] = 1 + sum(size[id(s)] for s, _ in parts)
        depth[key] = 1 + max((depth[id(s)] for s, _ in parts), default=0)
        entered.discard(key)
        stack.pop()
    if size[id(document)] > MAX_SCHEMA_NODES:
        return [(f"With its references followed, the form has {size[id(document)]} parts; apflow checks at most {MAX_SCHEMA_NODES}.",
                 "Use each shared part of \"$defs\" fewer times, or split the form into smaller steps.")]
    if depth[id(document)] > MAX_SCHEMA_DEPTH:
        return [(f"With its references followed, the form is {depth[id(document)]} levels deep; apflow checks at most {MAX_SCHEMA_DEPTH}.",
                 "Use fewer references that lead to further references.")]
    return []


def _applied(document: dict, schema, path: tuple[str, ...]):
    """(subschema, path) for each part the validator applies from here: the subschemas in place, and what refs point to."""
    if not isinstance(schema, dict):
        return
    yield from ((s, p) for s, p in _subschemas(schema, path, with_defs=False) if isinstance(s, (dict, bool)))
    for key in _REFS:
        if _is_local(schema.get(key)):
            target = _resolve(document, schema[key])
            if isinstance(target, (dict, bool)):
                yield target, _tokens(schema[key])


def _subschemas(schema: dict, path: tuple[str, ...], with_defs: bool):
    for key in _ONE:
        if key in schema:
            yield schema[key], (*path, key)
    for key in _MANY:
        if isinstance(schema.get(key), list):
            yield from ((sub, (*path, key, str(i))) for i, sub in enumerate(schema[key]))
    for key in _MAP + (_DEFS if with_defs else ()):
        if isinstance(schema.get(key), dict):
            yield from ((sub, (*path, key, name)) for name, sub in schema[key].items())




_MISSING = object()


def _is_local(ref) -> bool:
    return isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))


def _tokens(ref: str) -> tuple[str, ...]:
    return tuple(unquote(t).replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")) if ref != "#" else ()


def _resolve(document: dict, ref):
    """What a local JSON pointer ("#/$defs/x") names in the form, or _MISSING."""
    if not _is_local(ref):
        return _MISSING
    node = document
    for token in _tokens(ref):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _where(path: tuple[str, ...]) -> str:
    """A part of the form in the author's words: its field ("sites.address"), else its place in the file."""
    names, i = [], 0
    while i < len(path):
        if path[i] in _MAP + _DEFS + _MANY and i + 1 < len(path):
            if path[i] == "properties":
                names.append(path[i + 1])
            i += 2
        else:
            i += 1
    if names and not set(path) & set(_DEFS):
        return f"the field '{'.'.join(names)}'"
    return "the form" if not path else f"the part of the form at #/{'/'.join(path)}"


def _nesting(document) -> int:
    """How deep objects and lists sit inside one another (without recursion: the file may be hostile)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_FORM_NESTING:
                stack.extend((item, level + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest
