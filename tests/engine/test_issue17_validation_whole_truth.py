"""Validation is the whole truth (issue 17, point 4, and plain tasks, formless user tasks and XML encodings from
point 3): every problem at once, each with its element, plain words and a fix, never a Python repr or exception
text; what would fail at run time is found at validation; warnings do not block; any XML encoding works."""
from __future__ import annotations

import re

import pytest
from SpiffWorkflow.spiff.specs.defaults import ManualTask

from apflow.config import ROOT
from apflow.engine import validate
from apflow.engine.problems import WARNING, Problem
from apflow.engine.xml import utf8_source

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">{extra}"""

REPR_OR_TRACEBACK = re.compile(r"0x[0-9a-f]+|<[A-Za-z_.]+ |Traceback|Exception|Error:")


def diagram(body: str, extra: str = "", pid: str = "p", lane: str | None = "AP Coordinator", executable: bool = True,
            start: bool = True) -> str:
    """start -> (body: whatever has id T, reached by f1 and left by f2) -> end, in one lane."""
    lanes = (f'<bpmn:laneSet id="LS_{pid}"><bpmn:lane id="Lane_{pid}" name="{lane}"><bpmn:flowNodeRef>S</bpmn:flowNodeRef>'
             '<bpmn:flowNodeRef>T</bpmn:flowNodeRef><bpmn:flowNodeRef>E</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>') if lane else ""
    begin = ('<bpmn:startEvent id="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
             '<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="T"/>') if start else ""
    return HEAD.format(pid=pid, extra=extra) + f"""
  <bpmn:process id="{pid}" name="Process {pid}" isExecutable="{'true' if executable else 'false'}">{lanes}{begin}
    {body}
    <bpmn:endEvent id="E"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"/>
  </bpmn:process>
</bpmn:definitions>"""


def node(tag: str, inner: str = "", attrs: str = "", doc: str = "") -> str:
    doc = f"<bpmn:documentation>{doc}</bpmn:documentation>" if doc else ""
    return f'<bpmn:{tag} id="T" name="Step" {attrs}>{doc}<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>{inner}</bpmn:{tag}>'


def script(code: str) -> str:
    return node("scriptTask", f"<bpmn:script>{code}</bpmn:script>")


def manual() -> str:
    return node("manualTask")


BRANCH = ('<bpmn:endEvent id="E3"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
          '<bpmn:sequenceFlow id="f3" sourceRef="T" targetRef="E3"/>')

# name -> (source, the element the problem must name, or None for a problem with the whole file)
FAULTS: dict[str, tuple[bytes, str | None]] = {
    "not well-formed": (b"<bpmn:definitions><bpmn:process>", None),
    "doctype": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>', None),
    "undeclared latin-1 bytes": (diagram(manual()).replace('name="Step"', 'name="R\u00e9union"').replace(
        ' encoding="UTF-8"', "").encode("latin-1"), None),
    "unknown encoding": (diagram(manual()).replace("UTF-8", "klingon-8").encode(), None),
    "not executable": (diagram(manual(), executable=False), "p"),
    "no start event": (diagram(manual(), start=False).replace('<bpmn:incoming>f1</bpmn:incoming>', ""), "p"),
    "script task with no script": (diagram(node("scriptTask")), "T"),
    "call activity naming no process": (diagram(node("callActivity")), "T"),
    "call activity to a process nowhere": (diagram(node("callActivity", attrs='calledElement="nowhere"')), "T"),
    "business rule task with no decision": (diagram(node("businessRuleTask")), "T"),
    "business rule task with a decision": (diagram(node("businessRuleTask", "<bpmn:extensionElements><spiffworkflow:calledDecisionId>"
                                                        "fees</spiffworkflow:calledDecisionId></bpmn:extensionElements>")), "T"),
    "complex gateway": (diagram(node("complexGateway")), "T"),
    "task with two outgoing flows": (diagram(node("manualTask").replace("</bpmn:outgoing>", "</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>", 1) + BRANCH), "T"),
    "flow to nowhere": (diagram(manual() + '<bpmn:sequenceFlow id="f9" sourceRef="T" targetRef="Ghost"/>'), "f9"),
    "timer with no time": (diagram(node("intermediateCatchEvent", '<bpmn:timerEventDefinition id="TD"/>')), "T"),
    "message that is not defined": (diagram(node("intermediateCatchEvent", '<bpmn:messageEventDefinition id="MD" messageRef="Nope"/>')), "T"),
    "message nobody sends": (diagram(node("intermediateCatchEvent", '<bpmn:messageEventDefinition id="MD" messageRef="M"/>'),
                                     extra='<bpmn:message id="M" name="provider_replied"/>'), "T"),
    "signal with no name": (diagram(node("intermediateCatchEvent", '<bpmn:signalEventDefinition id="SD"/>').replace(' name="Step"', "")), "T"),
    "error that is not defined": (diagram(manual() + '<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:errorEventDefinition errorRef="Nope"/>'
                                          '</bpmn:boundaryEvent>'), "B"),
    "boundary event on nothing": (diagram(manual() + '<bpmn:boundaryEvent id="B" attachedToRef="Ghost"><bpmn:timerEventDefinition>'
                                          '<bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'), "B"),
    "subprocess with no start": (diagram(node("subProcess", '<bpmn:endEvent id="SE"/>')), "T"),
    "subprocess with no end": (diagram(node("subProcess", '<bpmn:startEvent id="SS"/>')), "T"),
    "gateway flow with no condition": (diagram(node("exclusiveGateway", attrs='default="f2"').replace(
        "</bpmn:outgoing>", "</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>", 1) + BRANCH), "f3"),
    "inclusive gateway with no default": (diagram(node("inclusiveGateway").replace(
        "</bpmn:outgoing>", "</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>", 1) + BRANCH.replace(
        'targetRef="E3"/>', 'targetRef="E3"><bpmn:conditionExpression>a == 1</bpmn:conditionExpression></bpmn:sequenceFlow>')).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"><bpmn:conditionExpression>a == 2</bpmn:conditionExpression></bpmn:sequenceFlow>'), "T"),
    "attribute BPMN does not define": (diagram(node("manualTask", attrs='colour="red"')), "T"),
    "element BPMN does not define": (diagram(manual() + '<bpmn:widget id="W"/>'), "W"),
    "id that is not an id": (diagram(manual() + '<bpmn:manualTask id="two words"/>'), "two words"),
    "reserved id": (diagram(manual()).replace('id="E"', 'id="End"').replace('targetRef="E"', 'targetRef="End"'), "End"),
    "script calls get_env()": (diagram(script("key = get_env('SECRET')")), "T"),
    "script calls timedelta()": (diagram(script("due = timedelta(days=1)")), "T"),
    "script uses datetime as a module": (diagram(script("today = datetime.now()")), "T"),
    "pre-script calls a misspelt helper": (diagram(node("manualTask", "<bpmn:extensionElements><spiffworkflow:preScript>due = school_dayz(3)"
                                                   "</spiffworkflow:preScript></bpmn:extensionElements>")), "T"),
    "condition calls an unknown function": (diagram(node("exclusiveGateway", attrs='default="f2"').replace(
        "</bpmn:outgoing>", "</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>", 1) + BRANCH.replace(
        'targetRef="E3"/>', 'targetRef="E3"><bpmn:conditionExpression>is_urgent(level)</bpmn:conditionExpression></bpmn:sequenceFlow>')), "T"),
    "link event": (diagram(manual() + '<bpmn:intermediateThrowEvent id="L1"><bpmn:linkEventDefinition name="jump"/>'
                           '</bpmn:intermediateThrowEvent>'), "L1"),
    "event-based gateway leading to a task": (diagram(node("eventBasedGateway")), "E"),
    "start event leading nowhere": (diagram(manual()).replace('<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>', '</bpmn:startEvent>')
                                    .replace('<bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="T"/>', ""), "S"),
    "step with no outgoing flow": (diagram(manual() + '<bpmn:manualTask id="D" name="Dead end"><bpmn:incoming>f4</bpmn:incoming></bpmn:manualTask>'
                                   '<bpmn:sequenceFlow id="f4" sourceRef="S" targetRef="D"/>').replace(
        '<bpmn:outgoing>f1</bpmn:outgoing>', '<bpmn:outgoing>f1</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>'), "D"),
    "plain task outside any lane": (diagram(node("task"), lane=None), "T"),
    "plain task in a lane that names no role": (diagram(node("task"), lane="Tea Lady"), "T"),
}


def check(files: dict[str, bytes | str]) -> validate.Checked:
    return validate.check({name: data.encode() if isinstance(data, str) else data for name, data in files.items()}, ROOT / "forms")


def assert_plain(problem: Problem) -> None:
    for text in (problem.message, problem.fix):
        assert text.strip(), problem
        assert not REPR_OR_TRACEBACK.search(text), f"not plain words: {text!r}"


def test_issue17_there_are_at_least_fifteen_different_faults():
    assert len(FAULTS) >= 15


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_issue17_every_fault_is_reported_with_its_element_plain_words_and_a_fix(fault):
    source, element = FAULTS[fault]
    checked = check({"broken.bpmn": source})
    assert not checked.ok, f"{fault}: passed validation"
    for problem in checked.problems:
        assert_plain(problem)
        assert problem.file == "broken.bpmn"
    if element is not None:
        assert element in {p.element for p in checked.errors}, (fault, [str(p) for p in checked.problems])


def test_issue17_a_set_of_faulty_files_reports_every_file_at_once():
    chosen = ["not well-formed", "unknown encoding", "script task with no script", "complex gateway", "attribute BPMN does not define",
              "message nobody sends", "script calls get_env()", "call activity to a process nowhere"]
    files = {f"fault_{n}.bpmn": FAULTS[name][0].replace(b'"p"' if isinstance(FAULTS[name][0], bytes) else '"p"',
                                                        f'"p{n}"'.encode() if isinstance(FAULTS[name][0], bytes) else f'"p{n}"')
             for n, name in enumerate(chosen)}
    checked = check(files)
    assert {p.file for p in checked.errors} == set(files)
    assert all(not REPR_OR_TRACEBACK.search(p.message + p.fix) for p in checked.problems)


def test_issue17_several_broken_elements_in_one_file_come_in_one_answer():
    body = (node("scriptTask").replace('id="T"', 'id="T"')
            + '<bpmn:callActivity id="C1" name="Plan"/><bpmn:complexGateway id="G1"/>'
            + '<bpmn:sequenceFlow id="f8" sourceRef="C1" targetRef="Ghost"/>'
            + '<bpmn:intermediateCatchEvent id="M1"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>')
    checked = check({"many.bpmn": diagram(body)})
    assert {"T", "C1", "G1", "f8", "M1"} <= {p.element for p in checked.errors}, [str(p) for p in checked.problems]


def test_issue17_the_business_rule_task_message_says_no_decision_table_not_dmn_id_none():
    [problem] = check({"b.bpmn": diagram(node("businessRuleTask"))}).errors
    assert "names no decision table" in problem.message and "None" not in problem.message
    assert "script task" in problem.fix


def test_issue17_process_variables_and_functions_defined_in_the_diagram_are_allowed():
    code = "def fee(days):\n    return days * 40\ntotal = fee(len(sessions))\nlabel = reason.lower()\nwhen = school_days(5)"
    assert check({"ok.bpmn": diagram(script(code))}).ok


def test_issue17_the_runtime_helpers_of_the_host_are_known_to_validation():
    source = {"h.bpmn": diagram(script("x = crunch()")).encode()}
    assert not validate.check(source, ROOT / "forms").ok
    assert validate.check(source, ROOT / "forms", helpers={"crunch"}).ok


def test_issue17_a_plain_task_is_a_manual_task_in_its_lanes_inbox():
    checked = check({"plain.bpmn": diagram(node("task", doc="Phone the family."))})
    assert checked.ok, [str(p) for p in checked.problems]
    spec = checked.parsed.bundle("p").spec.task_specs["T"]
    assert isinstance(spec, ManualTask) and spec.lane == "AP Coordinator" and spec.documentation == "Phone the family."


def test_issue17_a_user_task_without_a_form_is_a_warning_that_does_not_block():
    checked = check({"formless.bpmn": diagram(node("userTask"))})
    [warning] = checked.problems
    assert checked.ok and warning.severity == WARNING and warning.element == "T" and checked.warnings == [warning]
    assert warning.as_dict()["severity"] == "warning" and str(warning).startswith("warning: ")
    assert "Done" in warning.message and "formless" in warning.fix


LATIN = diagram(node("manualTask").replace('name="Step"', 'name="R\u00e9union de r\u00e9vision"'))


@pytest.mark.parametrize("encoding,declared,bom", [("iso-8859-1", "ISO-8859-1", b""), ("cp1252", "windows-1252", b""),
                                                    ("utf-16-le", "UTF-16", b"\xff\xfe"), ("utf-16-be", None, b"\xfe\xff"),
                                                    ("utf-8", "UTF-8", b"\xef\xbb\xbf")])
def test_issue17_any_encoding_xml_allows_validates_and_keeps_the_names(encoding, declared, bom):
    text = LATIN.replace('encoding="UTF-8"', f'encoding="{declared}"') if declared else LATIN.replace(' encoding="UTF-8"', "")
    checked = check({"latin.bpmn": bom + text.encode(encoding)})
    assert checked.ok, [str(p) for p in checked.problems]
    assert checked.parsed.bundle("p").spec.task_specs["T"].bpmn_name == "R\u00e9union de r\u00e9vision"
    stored = checked.parsed.sources["latin.bpmn"].decode("utf-8")  # what deploy stores: a faithful UTF-8 transcoding
    assert "R\u00e9union de r\u00e9vision" in stored and stored.startswith("<?xml") and "ISO-8859-1" not in stored


def test_issue17_utf8_sources_are_kept_byte_for_byte():
    data = LATIN.encode("utf-8")
    assert utf8_source(data, "x.bpmn") is data


def test_issue17_undeclared_non_utf8_bytes_get_a_plain_problem():
    [problem] = check({"bad.bpmn": FAULTS["undeclared latin-1 bytes"][0]}).problems
    assert "not UTF-8" in problem.message and "line" in problem.message and 'encoding="ISO-8859-1"' in problem.fix


def test_issue17_two_files_with_one_name_in_different_folders_are_both_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.bpmn").write_text(diagram(manual(), pid="first"))
    (tmp_path / "b" / "x.bpmn").write_text(diagram(manual(), pid="second"))
    for paths in ([tmp_path / "a" / "x.bpmn", tmp_path / "b" / "x.bpmn"], [tmp_path]):
        bpmn, _, problems = validate.collect(paths)
        [problem] = problems
        assert str(tmp_path / "a" / "x.bpmn") in problem.message and str(tmp_path / "b" / "x.bpmn") in problem.message
        assert "Rename" in problem.fix and list(bpmn) == ["x.bpmn"]


def test_issue17_the_same_file_copied_into_two_folders_is_no_problem(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.bpmn").write_text(diagram(manual()))
    bpmn, _, problems = validate.collect([tmp_path])
    assert problems == [] and list(bpmn) == ["x.bpmn"]


def test_issue17_a_step_nothing_leads_to_is_a_warning():
    checked = check({"island.bpmn": diagram(manual() + '<bpmn:manualTask id="I" name="Island"><bpmn:outgoing>f5</bpmn:outgoing></bpmn:manualTask>'
                                                       '<bpmn:endEvent id="E5"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>'
                                                       '<bpmn:sequenceFlow id="f5" sourceRef="I" targetRef="E5"/>')})
    assert checked.ok and [(p.element, p.severity) for p in checked.problems] == [("I", WARNING)]
    assert "never run" in checked.problems[0].message


# SpiffWorkflow's own words, as its parser raises them (most are found earlier by apflow's checks, but any that
# slip through must still come out plain).
SPIFF_SAYS = [
    ("There is no support implemented for this task type.", "bpmn:complexGateway"),
    ("Multiple outgoing flows are not supported for tasks of type", "bpmn:task"),
    ('No DMN Diagram available with id "None", Available DMN ids are: ', "bpmn:businessRuleTask"),
    ("Time Specification Error. Unknown Time Specification. ", "bpmn:intermediateCatchEvent"),
    ("TypeError(\"NodeParser.raise_validation_exception() got an unexpected keyword argument 'node'\")", "bpmn:boundaryEvent"),
    ("Invalid Script Task.  No Script Provided. 'NoneType' object has no attribute 'text'", "bpmn:scriptTask"),
    ("Exactly one start event is required in a SubWorkflow Task; found 0.", "bpmn:subProcess"),
    ("A SubWorkflow Must contain an End event", "bpmn:subProcess"),
    ("Non-default exclusive outgoing sequence flow without condition", "bpmn:sequenceFlow"),
    ("Duplicate process ID: p", "bpmn:process"),
    ("Cannot resolve dataInputAssociation obj", "bpmn:task"),
    ("Something SpiffWorkflow may say one day <Element {x}task at 0x7f00aa>", "bpmn:task"),
]


@pytest.mark.parametrize("raw,tag", SPIFF_SAYS)
def test_issue17_spiffworkflow_errors_are_said_in_our_own_words(raw, tag):
    from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

    from apflow.engine.messages import problem_from_spiff

    err = ValidationException(raw, tag=tag, id="X1")
    for problem in problem_from_spiff(err, "f.bpmn") + problem_from_spiff(KeyError(raw), "f.bpmn"):
        assert_plain(problem)
        assert "None" not in problem.message and "type." not in problem.message
    assert problem_from_spiff(err, "f.bpmn")[0].element in {"X1", "p"}


def test_issue17_an_activity_reported_while_reading_does_not_hide_the_rest_of_its_process():
    """A broken activity is parsed as a plain task in its place, so the problems found only in a built process (an
    unknown name in another script, an unknown candidate group) come in the same answer, and the broken one's own
    report stands alone (no second problem about its stand-in)."""
    body = ('<bpmn:scriptTask id="T" name="Compute"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
            '<bpmn:script>x = get_env()</bpmn:script></bpmn:scriptTask>'
            '<bpmn:sequenceFlow id="f3" sourceRef="T" targetRef="J"/>'
            '<bpmn:serviceTask id="J" name="Call SAP" camunda:class="com.example.Sap"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="J" targetRef="B"/>'
            '<bpmn:businessRuleTask id="B" name="Decide"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="B" targetRef="U"/>'
            '<bpmn:userTask id="U" name="Review" camunda:candidateGroups="nobody_here"/>'
            '<bpmn:sequenceFlow id="f6" sourceRef="U" targetRef="E2"/><bpmn:endEvent id="E2"/>')
    source = diagram(body).replace('xmlns:xsi=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi=').replace('<bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"/>', "")
    source = source.replace('<bpmn:endEvent id="E"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', "")
    checked = check({"all.bpmn": source})
    by_element = {}
    for problem in checked.errors:
        by_element.setdefault(problem.element, []).append(problem.message)
    assert {"T", "J", "B", "U"} <= set(by_element), [str(p) for p in checked.problems]
    assert "get_env()" in " ".join(by_element["T"]) and "nobody_here" in " ".join(by_element["U"])
    assert len(by_element["J"]) == 1 and "Java class" in by_element["J"][0]
    assert len(by_element["B"]) == 1 and "decision table" in by_element["B"][0]
    assert checked.parsed is None  # still refused as a whole
