"""Task forms: JSON Schema + UI schema files named on user tasks, and server-side checking of answers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .diagrams import task_properties
from .problems import Problem

SCHEMA_PROPERTY = "formJsonSchemaFilename"
# A field marked "x-apflow-restricted": true is child-protection detail: its answer goes to the child's
# child-protection file and never into process data (docs/process-authors.md).
RESTRICTED = "x-apflow-restricted"
# "x-apflow-audience": ["provider", "family"] on a field (or on the whole schema) shares its answer with the
# provider delivering the placement and with the pupil's family; without it only the commissioning school sees it.
AUDIENCE = "x-apflow-audience"
AUDIENCES = frozenset({"provider", "family"})
UI_PROPERTY = "formUiSchemaFilename"
MAX_FORM_BYTES = 256 * 1024


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
    """Problems with one form file: JSON that parses and, for schemas, a valid JSON Schema describing an object."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        return [Problem(name, None, f"The file is not valid JSON: {err}.", "Correct the JSON syntax (a JSON linter shows the exact spot).")]
    if not isinstance(document, dict):
        return [Problem(name, None, "The file must hold a JSON object.", "Wrap the content in { ... }.")]
    if ui:
        return []
    try:
        Draft202012Validator.check_schema(document)
    except SchemaError as err:
        return [Problem(name, None, f"The JSON Schema is invalid: {err.message}.", "Correct the schema keyword named in the message.")]
    if document.get("type") != "object" or not isinstance(document.get("properties"), dict):
        return [Problem(name, None, "A form schema must have \"type\": \"object\" and a \"properties\" map of fields.", "Describe each field under \"properties\".")]
    return []


class Form:
    """One task form: its schema, UI schema, and the check of submitted answers."""

    def __init__(self, schema: dict, ui_schema: dict | None = None):
        self.schema = schema
        self.ui_schema = ui_schema or {}
        self._validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

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
        return {key: data[key] for key in self.fields if key in data}

    def readable(self, answers: dict) -> list[dict]:
        """Answers in plain words, in the form's order, as its labels show them (the placement file):
        [{"key", "title", "value", "text"}]; a repeating group's "text" is a list of such lists, one per row."""
        return _readable(self.schema, self.ui_schema, answers)


def option_labels(prop: dict, ui: dict) -> list[tuple]:
    """[(value, label)] of a choice field: the UI schema's ui:enumNames, else the value in words."""
    values = prop.get("enum") or (prop.get("items") or {}).get("enum") or []
    labels = ui.get("ui:enumNames") or []
    return [(v, labels[i] if i < len(labels) else str(v).replace("_", " ").capitalize()) for i, v in enumerate(values)]


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
