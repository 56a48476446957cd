"""Camunda Forms (form-js) to apflow's JSON Schema + UI schema (apflow.engine.formjs): every component kind, and the
report of what could not be kept."""
import json

import pytest

from apflow.engine import formjs
from apflow.engine.forms import Form, check_form_source


def _form(*components, **extra):
    return {"components": list(components), "type": "default", "id": "f", "schemaVersion": 12, **extra}


def _one(component):
    converted = formjs.convert(_form(component))
    return converted.schema["properties"], converted.ui, [what for what, _ in converted.report]


def test_issue17_formjs_is_recognised_by_its_shape_not_its_name():
    assert formjs.is_formjs(_form())
    assert formjs.is_formjs({"components": []})
    assert not formjs.is_formjs({"type": "object", "properties": {}, "components": []})
    assert not formjs.is_formjs({"type": "object", "properties": {"a": {"type": "string"}}})
    assert not formjs.is_formjs([{"components": []}])


@pytest.mark.parametrize("component, expected, ui", [
    ({"type": "textfield", "key": "name", "label": "Name", "validate": {"minLength": 2, "maxLength": 40}},
     {"type": "string", "title": "Name", "minLength": 2, "maxLength": 40}, None),
    ({"type": "textarea", "key": "notes", "label": "Notes", "description": "Say more"},
     {"type": "string", "title": "Notes", "description": "Say more"}, {"ui:widget": "textarea"}),
    ({"type": "number", "key": "n", "label": "N", "validate": {"min": 1, "max": 9}},
     {"type": "number", "title": "N", "minimum": 1, "maximum": 9}, None),
    ({"type": "number", "key": "n", "label": "N", "decimalDigits": 0}, {"type": "integer", "title": "N"}, None),
    ({"type": "checkbox", "key": "ok", "label": "OK", "defaultValue": True}, {"type": "boolean", "title": "OK", "default": True}, None),
    ({"type": "radio", "key": "r", "label": "R", "values": [{"label": "Yes", "value": "y"}, {"label": "No", "value": "n"}]},
     {"type": "string", "title": "R", "enum": ["y", "n"]}, {"ui:widget": "radio", "ui:enumNames": ["Yes", "No"]}),
    ({"type": "select", "key": "s", "label": "S", "values": [{"label": "One", "value": 1}, {"label": "Two", "value": 2}]},
     {"type": "integer", "title": "S", "enum": [1, 2]}, {"ui:enumNames": ["One", "Two"]}),
    ({"type": "checklist", "key": "c", "label": "C", "values": [{"label": "A", "value": "a"}], "validate": {"required": True}},
     {"type": "array", "title": "C", "items": {"type": "string", "enum": ["a"]}, "uniqueItems": True, "minItems": 1}, {"ui:enumNames": ["A"]}),
    ({"type": "checklist", "key": "c", "label": "C", "values": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]},
     {"type": "array", "title": "C", "items": {"type": "string", "enum": ["a", "b"]}, "uniqueItems": True}, {"ui:enumNames": ["A", "B"]}),
    ({"type": "taglist", "key": "t", "label": "T", "values": [{"label": "A", "value": "a"}]},
     {"type": "array", "title": "T", "items": {"type": "string", "enum": ["a"]}, "uniqueItems": True}, {"ui:enumNames": ["A"]}),
    ({"type": "datetime", "key": "d", "subtype": "date", "dateLabel": "Day"}, {"type": "string", "title": "Day", "format": "date"}, None),
    ({"type": "datetime", "key": "tm", "subtype": "time", "timeLabel": "At"},
     {"type": "string", "title": "At", "pattern": formjs.TIME_PATTERN}, {"ui:widget": "time"}),
    ({"type": "textfield", "key": "e", "label": "E", "validate": {"validationType": "email"}}, {"type": "string", "title": "E", "format": "email"}, None),
    ({"type": "textfield", "key": "p", "label": "P", "validate": {"pattern": "^[A-Z]{2}$"}}, {"type": "string", "title": "P", "pattern": "^[A-Z]{2}$"}, None),
])
def test_issue17_formjs_each_input_component_becomes_a_field(component, expected, ui):
    properties, ui_schema, report = _one(component)
    assert properties == {component["key"]: expected}
    assert ui_schema.get(component["key"]) == ui
    assert report == []


def test_issue17_formjs_required_label_order_and_static_text():
    converted = formjs.convert(_form(
        {"type": "text", "text": "## About the pupil"},
        {"type": "textfield", "key": "b", "label": "B", "validate": {"required": True}},
        {"type": "checkbox", "key": "a", "label": "Agree", "validate": {"required": True}},
        {"type": "spacer"}, {"type": "separator"}, {"type": "button", "action": "submit", "label": "Submit"},
    ))
    assert converted.schema["required"] == ["b", "a"]
    assert converted.ui["ui:order"] == ["b", "a"]
    assert converted.schema["properties"]["b"]["description"] == "## About the pupil"
    assert converted.schema["properties"]["a"]["const"] is True  # a required checkbox must be ticked
    assert converted.report == []
    assert Form(converted.schema, converted.ui).errors({"b": "x", "a": False}) == {"a": ["Agree: True was expected"]}


def test_issue17_formjs_groups_flatten_and_dynamic_lists_repeat():
    converted = formjs.convert(_form(
        {"type": "group", "label": "Contact", "path": "contact", "components": [{"type": "textfield", "key": "phone", "label": "Phone"}]},
        {"type": "dynamiclist", "label": "Targets", "path": "targets", "components": [
            {"type": "textfield", "key": "target", "label": "Target", "validate": {"required": True}},
            {"type": "checkbox", "key": "met", "label": "Met"}]},
    ))
    assert converted.schema["properties"]["phone"] == {"type": "string", "title": "Phone"}
    targets = converted.schema["properties"]["targets"]
    assert targets["type"] == "array" and targets["title"] == "Targets"
    assert targets["items"] == {"type": "object", "properties": {"target": {"type": "string", "title": "Target"},
                                                                  "met": {"type": "boolean", "title": "Met"}}, "required": ["target"]}
    assert converted.ui["targets"] == {"items": {"ui:order": ["target", "met"]}}
    [(what, fix)] = converted.report
    assert "group 'Contact'" in what and "not under 'contact'" in what
    form = Form(converted.schema, converted.ui)
    assert form.errors({"phone": "1", "targets": [{"target": "Attend", "met": True}]}) == {}
    assert form.errors({"targets": [{"met": True}]}) == {"target": ["target is required."]}


def test_issue17_formjs_report_lists_everything_not_kept():
    converted = formjs.convert(_form(
        {"type": "textfield", "key": "why", "label": "Why", "conditional": {"hide": "=ok"}, "validate": {"required": True}},
        {"type": "textfield", "key": "calc", "label": "=upper(name)", "defaultValue": "=today()"},
        {"type": "select", "key": "dyn", "label": "Dynamic", "valuesKey": "options"},
        {"type": "html", "content": "<b>x</b>", "label": "Block"},
        {"type": "iframe", "url": "https://example.org", "label": "Site"},
        {"type": "button", "action": "reset", "label": "Reset"},
        {"type": "expression", "key": "total", "expression": "=a+b"},
        {"type": "my-custom-slider", "key": "s"},
        {"type": "textfield", "label": "No key"},
        {"type": "textfield", "key": "why", "label": "Again"},
        {"type": "textfield", "key": "ro", "label": "Fixed", "readonly": True},
        {"type": "textfield", "key": "bad", "label": "Bad", "validate": {"pattern": "(a)\\1"}},
        {"type": "textfield", "key": "tel", "label": "Tel", "validate": {"validationType": "phone"}},
        {"type": "datetime", "key": "when", "subtype": "datetime", "dateLabel": "When"},
        {"type": "text", "text": "Thanks {{name}}"},
    ))
    report = " | ".join(what for what, _ in converted.report)
    for expected in ("hides 'Why'", "was required only while shown", "label of 'calc' is a FEEL expression", "default value of",
                     "options of 'Dynamic' come from process data", "HTML block", "iframe", "button", "calculated value",
                     "'my-custom-slider'", "has no key", "uses the key 'why'", "read-only", "RE2", "phone-number",
                     "one text box", "placeholders", "Text at the end of the form"):
        assert expected in report, expected
    assert all(fix for _, fix in converted.report)
    assert "why" not in converted.schema.get("required", [])
    assert converted.schema["properties"]["dyn"] == {"type": "string", "title": "Dynamic"}
    assert "pattern" not in converted.schema["properties"]["bad"]
    assert set(converted.schema["properties"]) == {"why", "calc", "dyn", "ro", "bad", "tel", "when"}


def test_issue17_formjs_file_passes_the_form_check_instead_of_being_refused_as_json_schema():
    data = json.dumps(_form({"type": "textfield", "key": "a", "label": "A"})).encode()
    assert check_form_source("review.form", data) == []
    empty = formjs.convert(_form({"type": "text", "text": "hello"}))
    assert any("no field apflow can show" in what for what, _ in empty.report)


def test_issue17_spiffarena_schema_without_type_object_is_accepted():
    schema = {"title": "Request", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    assert check_form_source("request-schema.json", json.dumps(schema).encode()) == []
    assert Form(schema).errors({}) == {"name": ["name is required."]}
    assert check_form_source("list.json", json.dumps({"type": "array", "properties": {}}).encode())  # another type is still refused


def test_issue17_form_defaults_prefill_the_answers():
    form = Form({"type": "object", "properties": {"next": {"type": "string", "default": "continue"}, "note": {"type": "string"}}})
    assert form.prefill({}) == {"next": "continue"}
    assert form.prefill({"next": "extend", "note": "x"}) == {"next": "extend", "note": "x"}
