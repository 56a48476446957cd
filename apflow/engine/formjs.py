"""Camunda Forms (form-js) JSON turned into apflow's forms: a JSON Schema, a UI schema, and a report of what
could not be kept.

A form-js file is recognised by its shape ({"components": [...], "type": "default", "schemaVersion": N}), not by
its name. Each input component becomes one field; what apflow's forms cannot do (conditions, FEEL expressions,
options fetched from process data, custom components, buttons, HTML, iframes, ...) is left out and said in the
report, so the author knows what to check (docs/authoring.md, "Diagrams from other tools").
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .patterns import pattern_problems

# Components that only arrange the form: dropped without a word.
_LAYOUT = frozenset({"separator", "spacer"})
# Components that show or do something apflow's forms cannot: dropped, and said in the report.
_NOT_KEPT = {
    "button": "a button (apflow's forms have their own Send button)",
    "html": "an HTML block",
    "iframe": "an embedded web page (iframe)",
    "image": "an image",
    "table": "a table of process data",
    "expression": "a calculated value (FEEL expression)",
    "filepicker": "a file picker",
    "documentPreview": "a document preview",
}
_CHOICE = frozenset({"radio", "select", "checklist", "taglist"})
_SCALAR = frozenset({"textfield", "textarea", "number", "checkbox", "datetime", "radio", "select", "checklist", "taglist"})
TIME_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
DATETIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"


@dataclass
class Converted:
    """A form-js form as apflow's JSON Schema and UI schema; `report` is (what was not kept, how to fix it)."""
    schema: dict
    ui: dict
    report: list[tuple[str, str]] = field(default_factory=list)


def is_formjs(document) -> bool:
    """Whether a parsed JSON document is a Camunda form (form-js) rather than a JSON Schema."""
    return (isinstance(document, dict) and isinstance(document.get("components"), list)
            and "properties" not in document and (document.get("type") in (None, "default") or "schemaVersion" in document))


def convert(document: dict) -> Converted:
    """The form-js `document` as apflow's form; never raises on odd input (it is reported instead)."""
    result = Converted({"type": "object", "properties": {}, "required": []}, {"ui:order": []})
    _Converter(result).components(document.get("components") or [], result.schema, result.ui, "")
    if not result.schema["required"]:
        del result.schema["required"]
    if not result.schema["properties"]:
        result.report.append(("The form has no field apflow can show, so the task would take no answers.",
                              "Add at least one input field (text field, number, checkbox, select, ...)."))
    return result


def from_camunda_form_data(fields: list[dict]) -> Converted:
    """Camunda 7's generated task form (camunda:formData, read by interop as [{id, label, type, defaultValue,
    constraints: [(name, config)], values: [(id, name)]}]) converted as the form-js form it amounts to."""
    components, notes = [], []
    for field_ in fields:
        kind, name = field_.get("type") or "string", field_.get("label") or field_.get("id")
        component = {"key": field_.get("id"), "label": field_.get("label") or field_.get("id"), "validate": {}}
        if field_.get("defaultValue") not in (None, ""):
            component["defaultValue"] = field_["defaultValue"]
        if kind == "string":
            component["type"] = "textfield"
        elif kind == "long":
            component.update(type="number", decimalDigits=0)
            component["defaultValue"] = _number(component.get("defaultValue"))
        elif kind == "boolean":
            component["type"] = "checkbox"
            if "defaultValue" in component:
                component["defaultValue"] = str(component["defaultValue"]).lower() == "true"
        elif kind == "date":
            component.update(type="datetime", subtype="date", dateLabel=component["label"])
            component.pop("defaultValue", None)
            notes.append((f"The date field '{name}' takes dates written 2027-01-15, not dd/MM/yyyy as Camunda 7 does.",
                          "Read the date as an ISO date (YYYY-MM-DD) in scripts and conditions."))
        elif kind == "enum":
            component.update(type="select", values=[{"value": value, "label": label or value} for value, label in field_.get("values", [])])
        else:
            notes.append((f"The field '{name}' is of Camunda's custom type '{kind}'; it is kept as text.", "Use string, long, boolean, "
                          "date or enum."))
            component["type"] = "textfield"
        for constraint, config in field_.get("constraints", []):
            if constraint == "required":
                component["validate"]["required"] = True
            elif constraint in ("minlength", "maxlength", "min", "max") and _number(config) is not None:
                component["validate"][{"minlength": "minLength", "maxlength": "maxLength"}.get(constraint, constraint)] = _number(config)
            elif constraint == "readonly":
                component["readonly"] = True
            else:
                notes.append((f"The {constraint} check of '{name}' ({config or 'a Java class'}) is not kept.", "Check the value in a "
                              "later step, or use required, minlength, maxlength, min or max."))
        components.append(component)
    converted = convert({"components": components})
    converted.report[:0] = notes
    return converted


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def _feel(value) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("=")


def _template(value) -> bool:
    return isinstance(value, str) and "{{" in value


class _Converter:
    def __init__(self, result: Converted):
        self.result = result
        self.pending_text: list[str] = []  # static text waiting for the next field, where it is shown as its help

    def report(self, what: str, fix: str) -> None:
        self.result.report.append((what, fix))

    def components(self, components, schema: dict, ui: dict, where: str) -> None:
        for component in components:
            if isinstance(component, dict):
                self.component(component, schema, ui, where)
        if self.pending_text and schema is self.result.schema:
            text = "\n\n".join(self.pending_text)
            schema["description"] = f"{schema['description']}\n\n{text}" if schema.get("description") else text
            self.report("Text at the end of the form is kept as the form's description, which the task page does not show.",
                        "Move the text above a field, or into the task's documentation in the diagram.")
            self.pending_text = []

    def component(self, component: dict, schema: dict, ui: dict, where: str) -> None:
        kind = str(component.get("type") or "")
        name = self.name(component, kind)
        if kind in _LAYOUT:
            return
        if kind == "button" and component.get("action", "submit") == "submit":
            return  # the task page has its own Send button
        if kind == "text":
            text = component.get("text")
            if _feel(text):
                self.report(f"The text {name} is a FEEL expression, which apflow does not evaluate; it is left out.",
                            "Write the text out, or put it in the task's documentation.")
            elif isinstance(text, str) and text.strip():
                if _template(text):
                    self.report(f"The text {name} uses {{{{ }}}} placeholders, which are shown as written.",
                                "Write the text without placeholders.")
                self.pending_text.append(text.strip())
            return
        if kind == "group" or kind == "dynamiclist":
            self.conditional(component, name, None)
            if kind == "dynamiclist" and schema is self.result.schema:
                self.dynamic_list(component, schema, ui, name)
                return
            if component.get("path"):
                self.report(f"The fields of the group {name} are kept as fields of the form itself, not under "
                            f"'{component['path']}'.", "Read them by their own keys in scripts and conditions.")
            if kind == "dynamiclist":
                self.report(f"The list {name} sits inside another list, which apflow's forms cannot show; it is left out.",
                            "Keep repeating lists at the top of the form.")
                return
            self.components(component.get("components") or [], schema, ui, where)
            return
        if kind in _NOT_KEPT:
            self.report(f"The form's {name} is {_NOT_KEPT[kind]}, which apflow's forms cannot show; it is left out.",
                        "Remove it, or describe it in the task's documentation.")
            return
        if kind not in _SCALAR:
            self.report(f"The form's {name} is of a kind apflow does not know ('{kind or 'no type'}'); it is left out.",
                        "Use a standard Camunda Forms field instead.")
            return
        key = component.get("key")
        if not isinstance(key, str) or not key.strip():
            self.report(f"The field {name} has no key, so its answer would have no name; it is left out.",
                        "Give the field a key.")
            return
        if key in schema["properties"]:
            self.report(f"The field {name} uses the key '{key}' of an earlier field; only the first is kept.",
                        "Give each field its own key.")
            return
        if "." in key:
            self.report(f"The key '{key}' of {name} is kept as one field of that name, not as a field inside '{key.split('.')[0]}'.",
                        "Use a key without dots.")
        prop, sub_ui = self.field(component, kind, name)
        required = self.validation(component, kind, name, prop)
        if self.conditional(component, name, key) and required:
            required = False
            self.report(f"The field {name} was required only while shown; it is now optional.", "Check answers in a later step if needed.")
        if self.pending_text:
            prop["description"] = "\n\n".join([*self.pending_text, *([prop["description"]] if prop.get("description") else [])])
            self.pending_text = []
        if component.get("readonly") or component.get("disabled"):
            state = "read-only" if component.get("readonly") else "disabled"
            self.report(f"The field {name} is {state} in the Camunda form but can be edited in apflow.",
                        "Show the value in the task's documentation instead, or accept that it can be changed.")
        if component.get("properties"):
            self.report(f"The custom properties of {name} are not used by apflow.", "Nothing to do unless a custom form renderer relied on them.")
        schema["properties"][key] = prop
        if sub_ui:
            ui[key] = sub_ui
        ui.setdefault("ui:order", []).append(key)
        if required:
            schema.setdefault("required", []).append(key)

    def name(self, component: dict, kind: str) -> str:
        label = component.get("label") or component.get("dateLabel")
        if isinstance(label, str) and label.strip() and not _feel(label):
            return f"'{label.strip()}'"
        key = component.get("key") or component.get("path") or component.get("id")
        return f"'{key}'" if key else f"{kind or 'component'} without a label"

    def conditional(self, component: dict, name: str, key: str | None) -> bool:
        hide = (component.get("conditional") or {}).get("hide") if isinstance(component.get("conditional"), dict) else None
        if hide:
            self.report(f"The condition that hides {name} ({str(hide)[:120]}) is not kept: the field is always shown.",
                        "Ask the question in a separate task reached through a gateway, or accept that it is always shown.")
            return True
        return False

    def field(self, component: dict, kind: str, name: str) -> tuple[dict, dict]:
        prop: dict = {}
        ui: dict = {}
        label = component.get("label") if kind != "datetime" else (component.get("dateLabel") or component.get("label"))
        if _feel(label):
            self.report(f"The label of {name} is a FEEL expression ({label[:80]}), which apflow does not evaluate; the key is shown instead.",
                        "Write the label out.")
        elif isinstance(label, str) and label.strip():
            prop["title"] = label.strip()
        description = component.get("description")
        if _feel(description):
            self.report(f"The description of {name} is a FEEL expression, which apflow does not evaluate; it is left out.",
                        "Write the description out.")
        elif isinstance(description, str) and description.strip():
            prop["description"] = description.strip()
        if kind in ("textfield", "textarea"):
            prop["type"] = "string"
            if kind == "textarea":
                ui["ui:widget"] = "textarea"
        elif kind == "number":
            prop["type"] = "integer" if component.get("decimalDigits") == 0 else "number"
            if component.get("serializeToString"):
                self.report(f"The number {name} is kept as a number, not as text.", "Read it as a number in scripts.")
        elif kind == "checkbox":
            prop["type"] = "boolean"
        elif kind == "datetime":
            subtype = component.get("subtype") or "date"
            prop["type"] = "string"
            if subtype == "date":
                prop["format"] = "date"
            elif subtype == "time":
                prop["pattern"] = TIME_PATTERN
                ui["ui:widget"] = "time"
                if component.get("timeLabel") and "title" not in prop:
                    prop["title"] = str(component["timeLabel"])
            else:
                prop["pattern"] = DATETIME_PATTERN
                prop.setdefault("description", "A date and time, written like 2027-01-15T09:30.")
                self.report(f"The date and time field {name} is shown as one text box (written like 2027-01-15T09:30).",
                            "Split it into a date field and a time field for date and time pickers.")
        elif kind in _CHOICE:
            options = self.options(component, name)
            multiple = kind in ("checklist", "taglist")
            if options is None:
                prop.update({"type": "array", "items": {"type": "string"}} if multiple else {"type": "string"})
            else:
                values = [value for value, _ in options]
                item = {"enum": values}
                if all(isinstance(v, str) for v in values):
                    item["type"] = "string"
                elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                    item["type"] = "integer"  # so a value posted from the task page is read as a number
                elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                    item["type"] = "number"
                if multiple:
                    prop.update({"type": "array", "items": item, "uniqueItems": True})
                else:
                    prop.update(item)
                    if kind == "radio":
                        ui["ui:widget"] = "radio"
                ui["ui:enumNames"] = [label for _, label in options]
        default = component.get("defaultValue")
        if _feel(default):
            self.report(f"The default value of {name} is a FEEL expression, which apflow does not evaluate; the field starts empty.",
                        "Give a plain default value, or set it in a script before the task.")
        elif default is not None and default != "" and default != []:
            prop["default"] = default
        return prop, ui

    def options(self, component: dict, name: str) -> list[tuple] | None:
        values = component.get("values")
        if isinstance(values, list) and values:
            options = []
            for entry in values:
                if isinstance(entry, dict) and "value" in entry:
                    label = entry.get("label")
                    options.append((entry["value"], str(label) if label not in (None, "") else str(entry["value"])))
            if options:
                return options
        source = component.get("valuesKey") or component.get("valuesExpression")
        if source:
            self.report(f"The options of {name} come from process data ({str(source)[:80]}), which apflow's forms cannot read; "
                        "it is kept as a free-text answer.", "List the options in the form itself (static options).")
        else:
            self.report(f"The choice {name} lists no options; it is kept as a free-text answer.", "Add its options.")
        return None

    def validation(self, component: dict, kind: str, name: str, prop: dict) -> bool:
        rules = component.get("validate") if isinstance(component.get("validate"), dict) else {}
        for rule, value in rules.items():
            if _feel(value):
                self.report(f"The {rule} rule of {name} is a FEEL expression, which apflow does not evaluate; it is left out.",
                            "Give a plain value.")
                continue
            if rule == "required" or value in (None, ""):
                continue
            if rule in ("minLength", "maxLength") and isinstance(value, int) and prop.get("type") == "string":
                prop[rule] = value
            elif rule in ("min", "max") and isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "number":
                prop["minimum" if rule == "min" else "maximum"] = value
            elif rule == "pattern" and isinstance(value, str) and prop.get("type") == "string":
                refused = pattern_problems(value, f"the pattern of {name}")
                if refused:
                    self.report(f"{refused[0][0]} It is left out.", refused[0][1])
                else:
                    prop["pattern"] = value
            elif rule == "validationType":
                if value == "email":
                    prop["format"] = "email"
                elif value == "phone":
                    self.report(f"The phone-number check of {name} is not kept; any text is accepted.", "Add a pattern if the form needs one.")
                # "custom" only says that pattern holds the rule
            else:
                self.report(f"The {rule} rule of {name} does not apply to this kind of field in apflow; it is left out.",
                            "Remove the rule.")
        required = bool(rules.get("required")) and not _feel(rules.get("required"))
        if required and kind == "checkbox":
            prop["const"] = True  # a required checkbox must be ticked
        if required and prop.get("type") == "array":
            prop["minItems"] = 1  # a required checklist needs at least one ticked
        return required

    def dynamic_list(self, component: dict, schema: dict, ui: dict, name: str) -> None:
        key = component.get("path") or component.get("key")
        if not isinstance(key, str) or not key.strip():
            self.report(f"The list {name} has no path, so its answers would have no name; it is left out.", "Give the list a path.")
            return
        if key in schema["properties"]:
            self.report(f"The list {name} uses the key '{key}' of an earlier field; only the first is kept.", "Give each field its own key.")
            return
        item_schema = {"type": "object", "properties": {}, "required": []}
        item_ui: dict = {"ui:order": []}
        saved, self.pending_text = self.pending_text, []
        self.components(component.get("components") or [], item_schema, item_ui, key)
        self.pending_text = saved
        if not item_schema["required"]:
            del item_schema["required"]
        prop = {"type": "array", "items": item_schema}
        label = component.get("label")
        if isinstance(label, str) and label.strip() and not _feel(label):
            prop["title"] = label.strip()
        if self.pending_text:
            prop["description"] = "\n\n".join(self.pending_text)
            self.pending_text = []
        schema["properties"][key] = prop
        ui[key] = {"items": item_ui}
        ui.setdefault("ui:order", []).append(key)
