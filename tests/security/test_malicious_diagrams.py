"""Hostile or broken diagrams: each is refused at validate/deploy, or fails safely at run time
with a clear message and no effect on other instances."""
from pathlib import Path

import pytest

from apflow.config import ROOT
from apflow.engine.validate import check
from apflow.errors import WorkflowFailed
from apflow.services import instances, processes
from apflow.services.records import KNOWN_KINDS
from tests.bpmn_builder import flow_diagram

FORMS = ROOT / "forms"


def problems_for(xml: str | bytes, name: str = "attack.bpmn"):
    data = xml.encode() if isinstance(xml, str) else xml
    return check({name: data}, FORMS, record_kinds=KNOWN_KINDS).problems


def refused(xml, *words):
    problems = problems_for(xml)
    assert problems, "the diagram should have been refused"
    text = " ".join(f"{p.message} {p.fix}" for p in problems).lower()
    for word in words:
        assert word.lower() in text, text
    assert all(p.fix for p in problems)
    return problems


XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><bpmn:process id="p" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process></bpmn:definitions>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><bpmn:process id="p" isExecutable="true"><bpmn:documentation>&lol3;</bpmn:documentation></bpmn:process></bpmn:definitions>"""


def test_xxe_is_refused_before_any_entity_is_resolved():
    problems = refused(XXE, "DOCTYPE")
    assert all("root:" not in p.message for p in problems)


def test_billion_laughs_is_refused():
    refused(BILLION_LAUGHS, "entities")


def test_import_os_in_a_script_is_refused():
    [problem] = refused(flow_diagram(script="import os\nos.system('id')"), "import")
    assert problem.element == "Task_work"


def test_subclasses_walk_is_refused():
    refused(flow_diagram(script="x = ().__class__.__base__.__subclasses__()"), "_")


def test_format_string_attribute_walk_is_refused():
    refused(flow_diagram(script="leak = '{0.__globals__}'.format(len)"), "format")


def test_dunder_in_a_gateway_condition_is_refused():
    [problem] = refused(flow_diagram(condition="result.__class__ == str"))
    assert problem.element == "Gateway_1"


def test_bad_timer_expression_is_refused():
    [problem] = refused(flow_diagram(timer="P2X"), "ISO 8601")
    assert problem.element == "Timer_late"


def test_huge_file_is_refused_unread():
    big = flow_diagram(extra="<!-- " + "x" * (3 * 1024 * 1024) + " -->")
    refused(big, "bytes")


def test_unknown_element_is_refused():
    xml = flow_diagram(extra='<bpmn:teleportTask id="Task_teleport" />')
    refused(xml)


def test_non_executable_process_is_refused():
    refused(flow_diagram(executable=False), "executable")


def test_missing_start_event_is_refused():
    refused(flow_diagram(start=False), "start")


def test_gateway_without_default_flow_is_refused():
    [problem] = refused(flow_diagram(default=False), "default flow")
    assert problem.element == "Gateway_1"


def test_not_xml_at_all_is_refused():
    refused(b"\x00\x01 definitely not a diagram", "XML")


def test_lane_that_names_no_role_is_refused():
    refused(flow_diagram(lane="Caretakers"), "role")


def test_missing_form_is_refused():
    refused(flow_diagram(form="nowhere.schema.json"), "does not exist")


def test_form_path_cannot_escape_the_forms_folder():
    refused(flow_diagram(form="../pyproject.toml"), "inside forms/")


@pytest.mark.parametrize("script, words", [
    ("while True:\n    pass", "step limit reached"),
    ("x = 'a' * (10 ** 10)", "size limit reached"),
    ("x = [0] * 10**9", "size limit reached"),
])
def test_runaway_scripts_fail_safely_at_run_time_without_touching_other_instances(core, people, triage, tmp_path, script, words):
    diagram = tmp_path / "runaway.bpmn"
    diagram.write_text(flow_diagram(pid="runaway", script=script))
    assert processes.check_paths(core, [diagram])[0].problems == []
    processes.deploy_paths(core, [diagram], by="test")
    bystander = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    started = instances.start_instance(core, people["coordinator"], "runaway", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with pytest.raises(WorkflowFailed) as err:
        instances.complete_task(core, people["coordinator"], task["id"], {"outcome": "go ahead"})
    assert words in err.value.message.lower()
    assert instances.get_instance(core, people["manager"], started["id"])["status"] == "error"
    [other] = instances.list_ready_tasks(core, people["coordinator"], bystander["id"])
    done = instances.complete_task(core, people["coordinator"], other["id"], {"decision": "decline", "rationale": "Needs met in school"})
    assert done["instance"]["status"] == "completed"


def test_malicious_upload_through_deploy_changes_nothing(core, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text(flow_diagram(pid="bad", script="import os"))
    good = tmp_path / "good.bpmn"
    good.write_text(flow_diagram(pid="good"))
    from apflow.engine.problems import InvalidDiagram

    with pytest.raises(InvalidDiagram):
        processes.deploy_paths(core, [good, bad], by="test")
    assert processes.list_processes(core) == []


def test_written_file_from_a_script_does_not_appear(tmp_path):
    target = Path(tmp_path) / "pwned"
    refused(flow_diagram(script=f"open('{target}', 'w').write('x')"))
    assert not target.exists()
