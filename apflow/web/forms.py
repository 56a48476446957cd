"""The one form renderer: a task's JSON Schema + UI schema as accessible HTML fields, and posted
fields back to JSON answers for the server-side check."""
from __future__ import annotations

from dataclasses import dataclass, field

from apflow.engine.forms import field_order, option_labels

FILE_WIDGET = "file"
RESTRICTED_HELP = "Kept in the child-protection file: only the pupil's DSLs and people they grant can read it."


@dataclass
class Field:
    name: str            # the HTML name and id stem
    key: str             # the JSON key within its object
    title: str
    kind: str            # text, textarea, number, date, time, email, select, radio, checkboxes, checkbox, group, list, file
    required: bool
    help: str = ""
    options: list = field(default_factory=list)   # [(value, label)]
    value: object = None
    errors: list = field(default_factory=list)
    rows: list = field(default_factory=list)       # group: list of lists of Field; list: the entries
    schema: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"f-{self.name}".replace(".", "-")


def _kind(prop: dict, ui: dict) -> str:
    widget = ui.get("ui:widget")
    kind = prop.get("type")
    if widget == FILE_WIDGET:
        return "file"
    if kind == "array":
        items = prop.get("items", {})
        if items.get("type") == "object":
            return "group"
        return "checkboxes" if "enum" in items else "list"
    if kind == "boolean":
        return "checkbox"
    if "enum" in prop:
        return "radio" if widget == "radio" or len(prop["enum"]) <= 4 else "select"
    if kind in {"integer", "number"}:
        return "number"
    if prop.get("format") == "date":
        return "date"
    if widget == "time":
        return "time"
    if prop.get("format") == "email":
        return "email"
    if widget == "textarea" or prop.get("maxLength", 0) > 500:  # names and short answers stay one line
        return "textarea"
    return "text"


def _help(prop: dict, ui: dict) -> str:
    text = ui.get("ui:help", prop.get("description", ""))
    if prop.get("x-apflow-restricted") is True:
        return f"{text} {RESTRICTED_HELP}".strip()
    return text


def build(schema: dict, ui: dict, values: dict, errors: dict, prefix: str = "") -> list[Field]:
    """Fields for a (sub)schema with their current values and per-field errors."""
    result = []
    required = set(schema.get("required", []))
    for key in field_order(schema, ui):
        prop = schema["properties"][key]
        sub_ui = ui.get(key, {}) if isinstance(ui.get(key), dict) else {}
        name = f"{prefix}{key}"
        kind = _kind(prop, sub_ui)
        item = Field(name=name, key=key, title=prop.get("title", key.replace("_", " ").capitalize()), kind=kind,
                     required=key in required, help=_help(prop, sub_ui),
                     options=option_labels(prop, sub_ui), value=values.get(key), errors=errors.get(name, []), schema=prop)
        if kind == "group":
            rows = values.get(key) if isinstance(values.get(key), list) else []
            if not rows and item.required:
                rows = [{}]
            item_schema = prop.get("items", {})
            item_ui = sub_ui.get("items", {}) if isinstance(sub_ui.get("items"), dict) else {}
            item.rows = [build(item_schema, item_ui, row if isinstance(row, dict) else {}, errors, f"{name}.{i}.") for i, row in enumerate(rows)]
            item.errors = errors.get(name, []) + [m for i in range(len(rows)) for m in errors.get(f"{name}.{i}", [])]
        elif kind == "list":  # a list of free entries (e.g. targets): one input each, with Add and Remove
            entries = values.get(key) if isinstance(values.get(key), list) else []
            item.rows = [e if e is not None else "" for e in entries] or ([""] if item.required else [])
            item.errors = errors.get(name, []) + [m for i in range(len(entries)) for m in errors.get(f"{name}.{i}", [])]
        result.append(item)
    return result


def parse(schema: dict, ui: dict, form, prefix: str = "", documents: dict | None = None) -> dict:
    """JSON answers from posted fields; empty optional fields are left out; numbers stay text if unreadable
    so the schema check can say so. `documents` maps file fields to uploaded document ids."""
    answers: dict = {}
    documents = documents or {}
    for key in field_order(schema, ui):
        prop = schema["properties"][key]
        sub_ui = ui.get(key, {}) if isinstance(ui.get(key), dict) else {}
        name = f"{prefix}{key}"
        kind = _kind(prop, sub_ui)
        if kind == "checkboxes":
            answers[key] = form.getlist(name)
        elif kind == "checkbox":
            answers[key] = form.get(name) == "true"
        elif kind == "group":
            count = form.get(f"{name}.count", "0")
            count = min(int(count), 100) if count.isdigit() else 0
            removed = form.get("remove_row", "")
            rows = []
            for i in range(count):
                if removed == f"{name}.{i}":
                    continue
                row = parse(prop.get("items", {}), sub_ui.get("items", {}) if isinstance(sub_ui.get("items"), dict) else {},
                            form, f"{name}.{i}.", documents)
                rows.append(row)
            if form.get("add_row") == name:
                rows.append({})
            answers[key] = rows
        elif kind == "list":
            count = form.get(f"{name}.count", "0")
            count = min(int(count), 100) if count.isdigit() else 0
            removed = form.get("remove_row", "")
            entries = [_scalar(prop.get("items", {}), (form.get(f"{name}.{i}") or "").strip())
                       for i in range(count) if removed != f"{name}.{i}"]
            entries = [e for e in entries if e != ""]
            if form.get("add_row") == name:
                entries.append("")
            answers[key] = entries
        elif kind == "file":
            if name in documents:
                answers[key] = documents[name]
            elif (form.get(f"{name}.existing") or "").isdigit():
                answers[key] = int(form.get(f"{name}.existing"))
        else:
            raw = (form.get(name) or "").strip()
            if raw != "":
                answers[key] = _scalar(prop, raw)
    return answers


def _scalar(prop: dict, raw: str):
    """A typed-in value as the schema wants it; unreadable numbers stay text so the check can say so."""
    if raw == "" or prop.get("type") not in ("integer", "number"):
        return raw
    if prop.get("type") == "integer":
        return int(raw) if raw.lstrip("-").isdigit() else raw
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        return raw


def file_fields(schema: dict, ui: dict, prefix: str = "") -> list[str]:
    """Names of file-upload fields (top level and in repeating groups are not supported for files)."""
    return [f"{prefix}{k}" for k in field_order(schema, ui)
            if _kind(schema["properties"][k], ui.get(k, {}) if isinstance(ui.get(k), dict) else {}) == "file"]
