"""Form answers are checked on the server against the task's JSON Schema."""
import json

from apflow.config import ROOT
from apflow.engine.forms import Form, check_form_source

SCHEMA = json.loads((ROOT / "forms" / "triage_referral.schema.json").read_text())


def test_valid_answers_have_no_errors():
    assert Form(SCHEMA).errors({"reasons": ["attendance"], "decision": "accept", "rationale": "Attendance 40%"}) == {}


def test_each_bad_field_gets_its_own_plain_message():
    errors = Form(SCHEMA).errors({"reasons": [], "decision": "maybe", "rationale": "short"})
    assert set(errors) == {"reasons", "decision", "rationale"}
    assert "at least 10 characters" in errors["rationale"][0]
    assert "choose one of the offered options" in errors["decision"][0]


def test_missing_required_fields_are_named():
    errors = Form(SCHEMA).errors({})
    assert errors["decision"] == ["Decision is required."]
    assert set(errors) == {"reasons", "decision", "rationale"}


def test_fields_the_form_does_not_declare_are_refused_so_process_data_cannot_be_overwritten():
    errors = Form(SCHEMA).errors({"reasons": ["cp"], "decision": "accept", "rationale": "Safeguarding concern", "status": "approved"})
    assert errors == {"status": ["This is not a field of this form."]}


def test_schema_files_in_forms_are_valid():
    for path in sorted((ROOT / "forms").glob("*.json")):
        assert check_form_source(path.name, path.read_bytes(), ui="uischema" in path.name) == [], path.name


def test_broken_schema_is_reported():
    [problem] = check_form_source("bad.schema.json", b'{"type": "object", "properties": {"a": {"type": "nonsense"}}}')
    assert "JSON Schema is invalid" in problem.message
    [problem] = check_form_source("bad.schema.json", b"{not json")
    assert "not valid JSON" in problem.message
