"""The pre-pass that reads other tools' assignment and form conventions (apflow.engine.interop), finding forms next
to the diagram and on the command line, and `apflow validate` / `apflow deploy` with them."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from apflow.cli import main
from apflow.engine import validate
from apflow.engine.diagrams import parse_sources, task_properties
from apflow.engine.interop import forms_near, read_names

CORPUS = Path(__file__).parent / "corpus"
C7 = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
TEXT_FORM = {"components": [{"type": "textfield", "key": "answer", "label": "Answer"}], "type": "default", "id": "answer-form",
             "schemaVersion": 12}


def diagram(task_attrs: str = "", task_inner: str = "", lane: str | None = "Case team", process_inner: str = "", pid: str = "foreign") -> bytes:
    lanes = f"""<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{lane}">
        <bpmn:flowNodeRef>Start</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>""" if lane else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {C7} {ZEEBE} id="Defs_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" name="Foreign" isExecutable="true">
    {process_inner}
    {lanes}
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_1" name="Answer" {task_attrs}>{task_inner}<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End_1"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_1" targetRef="Task_1" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_1" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>""".replace("<bpmn:flowNodeRef>Start</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>Start_1</bpmn:flowNodeRef>").encode()


FORM_KEY = 'camunda:formKey="camunda-forms:deployment:answer.form"'


def task(source: bytes):
    parsed = parse_sources({"x.bpmn": source})
    return parsed.bundle(parsed.process_ids[0]).spec.task_specs["Task_1"]


def check(source: bytes, tmp_path, forms=None, places=None):
    forms_dir = tmp_path / "forms_dir"
    forms_dir.mkdir(exist_ok=True)
    return validate.check({"x.bpmn": source}, forms_dir, forms, form_places=places)


def messages(result, severity=None):
    return [p.message for p in result.problems if severity is None or p.severity == severity]


@pytest.mark.parametrize("text, names, expression, field", [
    ("a, b ,c", ("a", "b", "c"), None, None),
    ("AP Coordinator", ("AP Coordinator",), None, None),
    ('=["DSL", "Deputy DSL"]', ("DSL", "Deputy DSL"), None, None),
    ('="sam"', ("sam",), None, None),
    ("${initiator}", (), "${initiator}", "initiator"),
    ("=reviewer", (), "=reviewer", "reviewer"),
    ("#{task.owner}", (), "#{task.owner}", None),
    ("=if x then \"a\" else \"b\"", (), "=if x then \"a\" else \"b\"", None),
    ("", (), None, None),
])
def test_issue17_candidate_names_are_read_as_lists_or_expressions(text, names, expression, field):
    found = read_names(text)
    assert (found.names, found.expression, found.field) == (names, expression, field)


def test_issue17_camunda7_candidate_group_takes_the_place_of_the_lane_and_the_source_is_kept(tmp_path):
    source = diagram(f'camunda:candidateGroups="headteacher, manager" {FORM_KEY}')
    parsed = parse_sources({"x.bpmn": source})
    spec = parsed.bundle("foreign").spec.task_specs["Task_1"]
    assert spec.lane == "headteacher"
    assert task_properties(spec)["candidateGroups"] == "headteacher, manager"
    assert parsed.sources["x.bpmn"] == source  # the stored source is what the author wrote
    result = check(source, tmp_path, {"answer.form": json.dumps(TEXT_FORM).encode()})
    assert result.ok and messages(result, "warning") == [
        "'Answer' names several candidate groups (headteacher, manager); an apflow task belongs to one role, so 'headteacher' "
        "works it and 'manager' do not see it."]


def test_issue17_zeebe_candidate_groups_in_a_process_without_lanes(tmp_path):
    source = diagram(task_inner='<bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="=[&quot;DSL&quot;, '
                     '&quot;Deputy DSL&quot;]" /><zeebe:formDefinition formId="answer-form" /></bpmn:extensionElements>', lane=None)
    assert task(source).lane == "DSL"
    result = check(source, tmp_path, {"answer.form": json.dumps(TEXT_FORM).encode()})
    assert result.ok and result.problems == []  # a deputy DSL covers the DSL, so the second group loses nobody


def test_issue17_unknown_candidate_group_says_how_to_define_the_role(tmp_path):
    result = check(diagram(f'camunda:candidateGroups="accounting" {FORM_KEY}'), tmp_path, {"answer.form": json.dumps(TEXT_FORM).encode()})
    [problem] = result.problems
    assert problem.element == "Task_1" and problem.message == ("The candidate group 'accounting' of 'Answer' names no role, so nobody "
                                                               "would see the task.")
    assert problem.fix.startswith("Define the role on the Roles page") and "'AP Coordinator'" in problem.fix


@pytest.mark.parametrize("attrs, expected", [
    ('camunda:candidateGroups="${group}"', "candidate groups of 'Answer' are an expression (${group})"),
    ('camunda:candidateGroups="coordinator" camunda:assignee="${task.owner()}"', "assignee of 'Answer' is an expression"),
    ('camunda:candidateGroups="coordinator" camunda:candidateUsers="=if a then b else c"', "candidate users of 'Answer' is an expression"),
])
def test_issue17_assignment_expressions_apflow_cannot_evaluate_are_refused(attrs, expected, tmp_path):
    result = check(diagram(f"{attrs} {FORM_KEY}"), tmp_path, {"answer.form": json.dumps(TEXT_FORM).encode()})
    assert any(expected in m for m in messages(result, "error")), messages(result)


def test_issue17_assignee_and_candidate_users_name_the_person(tmp_path):
    one = task(diagram(f'camunda:candidateGroups="coordinator" camunda:candidateUsers="sam" {FORM_KEY}'))
    assert task_properties(one)["assignee"] == "sam"
    both = task(diagram(f'camunda:candidateGroups="coordinator" camunda:assignee="kim" camunda:candidateUsers="sam, lee" {FORM_KEY}'))
    assert task_properties(both)["assignee"] == "kim"
    field = task(diagram(f'camunda:candidateGroups="coordinator" camunda:assignee="${{reviewer}}" {FORM_KEY}'))
    assert task_properties(field)["assignTo"] == "reviewer"
    zeebe = task(diagram(task_inner='<bpmn:extensionElements><zeebe:assignmentDefinition assignee="=reviewer" candidateGroups="coordinator"/>'
                         '</bpmn:extensionElements>'))
    assert task_properties(zeebe)["assignTo"] == "reviewer"
    several = check(diagram(f'camunda:candidateGroups="coordinator" camunda:candidateUsers="sam, lee" {FORM_KEY}'), tmp_path,
                    {"answer.form": json.dumps(TEXT_FORM).encode()})
    assert several.ok and "names several candidate users (sam, lee)" in messages(several, "warning")[0]
    assert "assignee" not in task_properties(task(diagram(f'camunda:candidateGroups="coordinator" camunda:candidateUsers="sam, lee" {FORM_KEY}')))


@pytest.mark.parametrize("key, expected", [
    ("embedded:app:forms/review.html", "is an HTML form"),
    ("app:forms/review.html", "is an HTML form"),
    ("https://forms.example.org/review", "is on another web site"),
    ("camunda-forms:bpmn:userTaskForm_9", "names the embedded form 'userTaskForm_9'"),
    ("${formName}", "is named by an expression"),
])
def test_issue17_forms_apflow_cannot_show_are_refused_with_a_reason(key, expected, tmp_path):
    result = check(diagram(f'camunda:formKey="{key}"', lane="AP Coordinator"), tmp_path)
    assert any(expected in m for m in messages(result, "error")), messages(result)
    assert not any("has no form" in m for m in messages(result))  # one problem, not two


def test_issue17_form_keys_name_files(tmp_path):
    plain = task(diagram('camunda:formKey="answer"', lane="AP Coordinator"))
    assert task_properties(plain)["formSource"] == "file:answer.form"
    assert task_properties(plain)["formJsonSchemaFilename"] == "answer.form.schema.json"
    own = task(diagram('camunda:formKey="chase_triage.schema.json"', lane="AP Coordinator"))
    assert task_properties(own)["formJsonSchemaFilename"] == "chase_triage.schema.json" and "formSource" not in task_properties(own)
    app_path = task(diagram('camunda:formKey="camunda-forms:app:forms/answer.form"', lane="AP Coordinator"))
    assert task_properties(app_path)["formSource"] == "file:answer.form"


PROPERTIES = """<bpmn:extensionElements>{own}<{ns}:properties><{ns}:property name="dueIn" value="P3D" />
    <{ns}:property name="formless" value="true" /><{ns}:property name="alert" value="From {ns}" /></{ns}:properties>
    </bpmn:extensionElements>"""


@pytest.mark.parametrize("ns", ["camunda", "zeebe"])
def test_issue17_camunda_and_zeebe_properties_are_task_properties(ns, tmp_path):
    source = diagram(task_inner=PROPERTIES.format(ns=ns, own=""), lane="AP Coordinator")
    props = task_properties(task(source))
    assert props["dueIn"] == "P3D" and props["formless"] == "true" and props["alert"] == f"From {ns}"
    assert not [m for m in messages(check(source, tmp_path)) if "form" in m.lower()]  # formless: no "has no form" warning
    # where the author also wrote the spiffworkflow property, that one counts
    own = ('<spiffworkflow:properties xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
           '<spiffworkflow:property name="dueIn" value="P1D" /></spiffworkflow:properties>')
    assert task_properties(task(diagram(task_inner=PROPERTIES.format(ns=ns, own=own), lane="AP Coordinator")))["dueIn"] == "P1D"


def test_issue17_camunda_form_field_properties_stay_the_fields(tmp_path):
    form = """<bpmn:extensionElements><camunda:formData><camunda:formField id="answer" label="Answer" type="string">
      <camunda:properties><camunda:property name="dueIn" value="P9D" /></camunda:properties></camunda:formField>
      </camunda:formData></bpmn:extensionElements>"""
    assert "dueIn" not in task_properties(task(diagram(task_inner=form, lane="AP Coordinator")))


def test_issue17_embedded_zeebe_form_is_converted(tmp_path):
    embedded = f'<bpmn:extensionElements><zeebe:userTaskForm id="userTaskForm_1">{json.dumps(TEXT_FORM)}</zeebe:userTaskForm></bpmn:extensionElements>'
    source = diagram(task_inner='<bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:userTaskForm_1"/></bpmn:extensionElements>',
                     lane="AP Coordinator", process_inner=embedded)
    result = check(source, tmp_path)
    assert result.ok, result.problems
    assert json.loads(result.forms["x.userTaskForm_1.form.schema.json"])["properties"] == {"answer": {"type": "string", "title": "Answer"}}


def test_issue17_form_found_next_to_the_diagram_in_a_sub_folder(tmp_path):
    model = tmp_path / "process_models" / "group" / "model"
    (model / "forms").mkdir(parents=True)
    (model / "x.bpmn").write_bytes(diagram(FORM_KEY, lane="AP Coordinator"))
    (model / "forms" / "answer.form").write_text(json.dumps(TEXT_FORM))
    (model / "process_model.json").write_text("{}")
    places = forms_near([model / "x.bpmn"])
    assert set(places) == {"answer.form"}
    assert check((model / "x.bpmn").read_bytes(), tmp_path, places=places).ok


def test_issue17_same_form_name_in_two_places_is_a_problem_not_a_guess(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "answer.form").write_text(json.dumps(TEXT_FORM))
    (tmp_path / "b").mkdir()
    other = {**TEXT_FORM, "components": [{"type": "number", "key": "n", "label": "N"}]}
    (tmp_path / "b" / "answer.form").write_text(json.dumps(other))
    (tmp_path / "x.bpmn").write_bytes(diagram(FORM_KEY, lane="AP Coordinator"))
    result = check((tmp_path / "x.bpmn").read_bytes(), tmp_path, places=forms_near([tmp_path / "x.bpmn"]))
    [problem] = result.problems
    assert problem.message.startswith("Two different form files are named answer.form: ")
    assert str(tmp_path / "a" / "answer.form") in problem.message and str(tmp_path / "b" / "answer.form") in problem.message
    (tmp_path / "b" / "answer.form").write_text(json.dumps(TEXT_FORM))  # the same form twice is no problem
    assert check((tmp_path / "x.bpmn").read_bytes(), tmp_path, places=forms_near([tmp_path / "x.bpmn"])).ok


def test_issue17_linked_form_id_missing_or_twice(tmp_path):
    source = diagram(task_inner='<bpmn:extensionElements><zeebe:formDefinition formId="answer-form"/></bpmn:extensionElements>', lane="AP Coordinator")
    assert "No Camunda form with the id 'answer-form'" in messages(check(source, tmp_path))[0]
    twice = {"one.form": json.dumps(TEXT_FORM).encode(), "two.form": json.dumps({**TEXT_FORM, "components": []}).encode()}
    assert "Two different Camunda forms have the id 'answer-form'" in messages(check(source, tmp_path, twice))[0]


@pytest.fixture
def run(tmp_path):
    env = {"APFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "APFLOW_INSTANCE_DIR": str(tmp_path / "instance"),
           "APFLOW_FORMS_DIR": str(tmp_path / "empty_forms")}
    (tmp_path / "empty_forms").mkdir()

    def invoke(*args):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_issue17_cli_validate_uses_a_form_file_named_on_the_command_line(run, tmp_path):
    (tmp_path / "diagrams").mkdir()
    (tmp_path / "elsewhere").mkdir()
    bpmn = tmp_path / "diagrams" / "x.bpmn"
    bpmn.write_bytes(diagram(lane="AP Coordinator", task_inner='<bpmn:extensionElements><spiffworkflow:properties '
                             'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"><spiffworkflow:property '
                             'name="formJsonSchemaFilename" value="answer.json"/></spiffworkflow:properties></bpmn:extensionElements>'))
    form = tmp_path / "elsewhere" / "answer.json"
    form.write_text(json.dumps({"properties": {"answer": {"type": "string"}}}))
    missing = run("validate", str(bpmn))
    assert missing.exit_code == 1 and "answer.json" in missing.output
    result = run("validate", str(bpmn), str(form))
    assert result.exit_code == 0 and result.output.strip() == "ok", result.output


def test_issue17_cli_validate_and_deploy_a_corpus_diagram_with_its_forms_next_to_it(run):
    result = run("validate", str(CORPUS / "camunda7_formkey_formjs" / "review.bpmn"))
    assert result.exit_code == 0 and result.output.count("warning: review.bpmn: Task_review: Converting the Camunda form review.form") == 2
    deployed = run("deploy", str(CORPUS / "camunda7_formkey_formjs" / "review.bpmn"))
    assert deployed.exit_code == 0 and "c7_formkey_review: deployed as version 1" in deployed.output
    assert "warning: review.bpmn: Task_review: Converting the Camunda form review.form" in deployed.output
    assert run("validate", str(CORPUS / "spiffarena_forms")).output.strip() == "ok"


def test_issue17_camunda_start_form_and_candidate_starter_groups(tmp_path):
    source = diagram(FORM_KEY + ' camunda:candidateGroups="coordinator"', lane=None).replace(
        b'<bpmn:startEvent id="Start_1">', b'<bpmn:startEvent id="Start_1" camunda:formKey="camunda-forms:deployment:answer.form">').replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:candidateStarterGroups="headteacher"')
    parsed = parse_sources({"x.bpmn": source})
    start = parsed.bundle("foreign").spec.task_specs["Start_1"]
    assert start.lane == "headteacher"
    assert task_properties(start)["formJsonSchemaFilename"] == "answer.form.schema.json"
    result = check(source, tmp_path, {"answer.form": json.dumps(TEXT_FORM).encode()})
    assert result.ok, result.problems
    assert set(result.forms) == {"answer.form.schema.json", "answer.form.uischema.json"}


def test_issue17_camunda7_generated_form_fields_become_the_tasks_form(tmp_path):
    form_data = """<bpmn:extensionElements><camunda:formData>
      <camunda:formField id="amount" label="Amount" type="long" defaultValue="30">
        <camunda:validation><camunda:constraint name="required" /><camunda:constraint name="min" config="1" /></camunda:validation>
      </camunda:formField>
      <camunda:formField id="approved" label="Approved" type="boolean" defaultValue="false" />
      <camunda:formField id="start" label="Start date" type="date" />
      <camunda:formField id="route" label="Route" type="enum">
        <camunda:value id="part_time" name="Part-time" /><camunda:value id="full_time" name="Full-time" />
      </camunda:formField>
      <camunda:formField id="note" label="Note" type="string">
        <camunda:validation><camunda:constraint name="maxlength" config="100" /><camunda:constraint name="validator" config="org.Acme" /></camunda:validation>
      </camunda:formField>
    </camunda:formData></bpmn:extensionElements>"""
    result = check(diagram('camunda:candidateGroups="coordinator"', task_inner=form_data), tmp_path)
    assert result.ok, result.problems
    schema = json.loads(result.forms["x.Task_1.form.schema.json"])
    assert schema["required"] == ["amount"]
    assert schema["properties"] == {
        "amount": {"title": "Amount", "type": "integer", "minimum": 1, "default": 30},
        "approved": {"title": "Approved", "type": "boolean", "default": False},
        "start": {"title": "Start date", "type": "string", "format": "date"},
        "route": {"title": "Route", "enum": ["part_time", "full_time"], "type": "string"},
        "note": {"title": "Note", "type": "string", "maxLength": 100}}
    assert json.loads(result.forms["x.Task_1.form.uischema.json"])["route"] == {"ui:enumNames": ["Part-time", "Full-time"]}
    warnings = messages(result, "warning")
    assert any("not dd/MM/yyyy" in m for m in warnings) and any("validator check of 'Note' (org.Acme)" in m for m in warnings)


def test_issue17_a_camunda_form_nested_without_end_is_refused_not_a_traceback(tmp_path):
    deep = {"type": "textfield", "key": "x", "label": "X"}
    for _ in range(200):
        deep = {"type": "group", "components": [deep]}
    result = check(diagram(FORM_KEY, lane="AP Coordinator"), tmp_path, {"answer.form": json.dumps({"components": [deep]}).encode()})
    assert any("levels deep" in m for m in messages(result, "error")), messages(result)
