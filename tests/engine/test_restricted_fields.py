"""Forms mark child-protection fields restricted, and the validator refuses a diagram that would read one from
process data, where it never is (R81)."""
import json

from apflow.engine import validate
from apflow.engine.forms import Form
from tests.bpmn_builder import flow_diagram

CP_FORM = {"type": "object", "title": "Respond", "properties": {
    "decision": {"type": "string", "title": "The placement"},
    "referred_to": {"type": "string", "title": "Referred to", "x-apflow-restricted": True},
    "plan_summary": {"type": "string", "title": "Plan", "x-apflow-audience": ["family"]}}}


def _check(tmp_path, condition="decision == 'continue'", script="result = 'done'", other_form=None):
    (tmp_path / "cp.schema.json").write_text(json.dumps(CP_FORM))
    bpmn = flow_diagram(form="cp.schema.json", condition=condition, script=script)
    extra = {}
    if other_form is not None:
        (tmp_path / "other.schema.json").write_text(json.dumps(other_form))
        extra = {"second.bpmn": flow_diagram(pid="second", form="other.schema.json").encode()}
    return validate.check({"first.bpmn": bpmn.encode(), **extra}, tmp_path)


def test_R81_a_form_names_its_restricted_and_shared_fields():
    form = Form(CP_FORM)
    assert form.restricted == {"referred_to"}
    assert form.shared_with("family") == {"plan_summary"} and form.shared_with("provider") == frozenset()


def test_R81_a_diagram_that_routes_on_unrestricted_answers_passes(tmp_path):
    assert _check(tmp_path).ok


def test_R81_a_condition_reading_a_restricted_field_is_refused_naming_the_field_and_form(tmp_path):
    checked = _check(tmp_path, condition="referred_to == 'police'")
    [problem] = checked.problems
    assert problem.element == "Gateway_1" and "'referred_to'" in problem.message and "cp.schema.json" in problem.message


def test_R81_a_script_reading_a_restricted_field_is_refused(tmp_path):
    checked = _check(tmp_path, script="note = referred_to")
    assert [p.element for p in checked.problems] == ["Task_work"]


def test_R81_a_field_restricted_in_one_form_and_open_in_another_is_refused(tmp_path):
    other = {"type": "object", "properties": {"referred_to": {"type": "string"}}}
    checked = _check(tmp_path, other_form=other)
    assert any("restricted in cp.schema.json but not in other.schema.json" in p.message for p in checked.problems)

