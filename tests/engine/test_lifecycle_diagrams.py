"""The lifecycle diagrams in bpmn/ are valid, name only known record kinds, and open cleanly in bpmn-js: every shape
and edge has diagram layout, shapes sit inside their lanes and do not overlap, and labels are readable."""
from pathlib import Path

import pytest
from lxml import etree

from apflow.config import ROOT
from apflow.engine import validate
from apflow.services.records import KNOWN_KINDS
from tests.bpmn_builder import flow_diagram

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))
FLOW_NODES = ["startEvent", "endEvent", "userTask", "scriptTask", "callActivity", "exclusiveGateway", "parallelGateway",
              "intermediateCatchEvent", "boundaryEvent", "manualTask", "subProcess"]


def bounds(tree, element_id):
    b = tree.find(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", NS)
    return None if b is None else tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_the_shipped_diagrams_and_forms_validate():
    bpmn, forms, problems = validate.collect([ROOT / "bpmn", ROOT / "forms"])
    checked = validate.check(bpmn, ROOT / "forms", forms, record_kinds=KNOWN_KINDS)
    assert problems == [] and checked.problems == []
    assert {"placement", "provider_approval", "placement_in_progress", "safeguarding_concern"} <= set(checked.parsed.process_ids)


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.stem for p in DIAGRAMS])
def test_every_shape_and_edge_has_layout_inside_its_lane_without_overlaps(path: Path):
    tree = etree.parse(str(path))
    nodes = [n for tag in FLOW_NODES for n in tree.iterfind(f".//bpmn:process//bpmn:{tag}", NS)]
    for node in nodes:
        assert bounds(tree, node.get("id")) is not None, f"{path.name}: {node.get('id')} has no shape"
    for flow in tree.iterfind(".//bpmn:sequenceFlow", NS):
        edge = tree.find(f".//bpmndi:BPMNEdge[@bpmnElement='{flow.get('id')}']", NS)
        assert edge is not None and len(edge.findall("di:waypoint", NS)) >= 2, f"{path.name}: {flow.get('id')} has no edge"
    placed = {n.get("id"): bounds(tree, n.get("id")) for n in nodes if etree.QName(n).localname != "boundaryEvent"}
    ids = sorted(placed)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            assert not overlap(placed[a], placed[b]), f"{path.name}: {a} overlaps {b}"
    for lane in tree.iterfind(".//bpmn:lane", NS):
        box = bounds(tree, lane.get("id"))
        assert box is not None, f"{path.name}: lane {lane.get('name')} has no shape"
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            x, y, w, h = placed.get(ref.text) or bounds(tree, ref.text)
            assert box[0] <= x and x + w <= box[0] + box[2] and box[1] <= y + h / 2 <= box[1] + box[3], \
                f"{path.name}: {ref.text} is drawn outside lane {lane.get('name')}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.stem for p in DIAGRAMS])
def test_labels_say_what_each_step_and_decision_is(path: Path):
    tree = etree.parse(str(path))
    for tag in ["userTask", "scriptTask", "callActivity"]:
        for node in tree.iterfind(f".//bpmn:{tag}", NS):
            assert node.get("name") and len(node.get("name")) <= 60, f"{path.name}: {node.get('id')} needs a short name"
    for gateway in tree.iterfind(".//bpmn:exclusiveGateway", NS):
        outgoing = [tree.find(f".//bpmn:sequenceFlow[@id='{o.text}']", NS) for o in gateway.iterfind("bpmn:outgoing", NS)]
        if len(outgoing) > 1:
            assert gateway.get("name"), f"{path.name}: decision {gateway.get('id')} has no question"
            assert all(f.get("name") for f in outgoing), f"{path.name}: the ways out of {gateway.get('id')} need names"


def test_a_records_property_naming_an_unknown_kind_is_a_validation_problem(tmp_path):
    extra = ""
    source = flow_diagram(pid="recorder").replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="chase_triage.schema.json" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="chase_triage.schema.json" />'
        '<spiffworkflow:property name="records" value="consent, wishful_thinking" />') + extra
    checked = validate.check({"recorder.bpmn": source.encode()}, ROOT / "forms", record_kinds={"consent", "plan"})
    [problem] = checked.problems
    assert problem.element == "Task_check" and "wishful_thinking" in problem.message and "consent" in problem.fix
