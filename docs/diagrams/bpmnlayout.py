"""A small BPMN writer that lays shapes out on a grid (columns across, rows within each role's lane)
and emits the diagram interchange (DI) that bpmn-js needs, so generated diagrams open cleanly and stay editable.

Used once to draft the lifecycle diagrams in bpmn/ (see lifecycle.py); after that the .bpmn files are the
source of truth and managers edit them in the browser.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

COL_W, ROW_H = 160, 140
POOL_X, POOL_Y, POOL_HEAD, LANE_HEAD = 120, 60, 30, 30
FIRST_X = POOL_X + POOL_HEAD + LANE_HEAD + 10
SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}
SHAPE = {"userTask": "task", "scriptTask": "task", "callActivity": "task", "startEvent": "event", "endEvent": "event",
         "intermediateCatchEvent": "event", "exclusiveGateway": "gateway", "parallelGateway": "gateway"}


@dataclass
class Node:
    id: str
    tag: str
    name: str
    lane: str | None
    col: float
    row: int
    props: dict = field(default_factory=dict)
    doc: str | None = None
    body: str = ""           # inner XML (event definitions, script)
    attrs: dict = field(default_factory=dict)
    label: str = "below"
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None = None
    condition: str | None = None
    route: str = "auto"
    points: list | None = None


class Diagram:
    def __init__(self, process_id: str, name: str, participant: str, lanes: list[str], doc: str = ""):
        self.process_id, self.name, self.participant, self.doc = process_id, name, participant, doc
        self.lanes = lanes
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.boundaries: list[tuple[Node, str, bool]] = []  # (event, host id, interrupting)
        self.defaults: dict[str, str] = {}
        self.signals: set[str] = set()

    # -- elements --------------------------------------------------------------------------
    def _add(self, node: Node) -> Node:
        assert node.id not in self.nodes, node.id
        assert node.lane is None or node.lane in self.lanes, node.lane
        self.nodes[node.id] = node
        return node

    def start(self, id, name, lane, col, row=0, label="below"):
        return self._add(Node(id, "startEvent", name, lane, col, row, label=label))

    def end(self, id, name, lane, col, row=0, terminate=False, label="below"):
        body = "<bpmn:terminateEventDefinition />" if terminate else ""
        return self._add(Node(id, "endEvent", name, lane, col, row, body=body, label=label))

    def user(self, id, name, lane, col, row=0, form=None, records=None, due=None, doc=None, assign=None, ui=None,
             formless=False):
        props = {}
        if form:
            props["formJsonSchemaFilename"] = f"{form}.schema.json"
        if ui:
            props["formUiSchemaFilename"] = f"{ui}.uischema.json"
        if formless:
            props["formless"] = "true"
        if due:
            props["dueIn"] = due
        if records:
            props["records"] = records
        if assign:
            props["assignTo"] = assign
        return self._add(Node(id, "userTask", name, lane, col, row, props, doc))

    def script(self, id, name, lane, col, row=0, script="", doc=None):
        return self._add(Node(id, "scriptTask", name, lane, col, row, doc=doc,
                              body=f"<bpmn:script>{escape(script)}</bpmn:script>"))

    def call(self, id, name, lane, col, row=0, called="", doc=None):
        return self._add(Node(id, "callActivity", name, lane, col, row, doc=doc, attrs={"calledElement": called}))

    def gateway(self, id, name, lane, col, row=0, parallel=False, label="above"):
        return self._add(Node(id, "parallelGateway" if parallel else "exclusiveGateway", name, lane, col, row, label=label))

    def timer(self, id, name, lane, col, row=0, expression="", kind="timeDuration", label="below"):
        return self._add(Node(id, "intermediateCatchEvent", name, lane, col, row, label=label, body=_timer(expression, kind)))

    def signal_catch(self, id, name, lane, col, row=0, signal="", label="below"):
        self.signals.add(signal)
        return self._add(Node(id, "intermediateCatchEvent", name, lane, col, row, label=label,
                              body=f'<bpmn:signalEventDefinition signalRef="{_signal_id(signal)}" />'))

    def boundary_timer(self, id, name, host, expression, kind="timeDuration", interrupting=False, slot=0):
        node = Node(id, "boundaryEvent", name, None, 0, 0, body=_timer(expression, kind), attrs={"slot": slot})
        self.boundaries.append((node, host, interrupting))
        return node

    def boundary_signal(self, id, name, host, signal, interrupting=True, slot=0):
        self.signals.add(signal)
        node = Node(id, "boundaryEvent", name, None, 0, 0, attrs={"slot": slot},
                    body=f'<bpmn:signalEventDefinition signalRef="{_signal_id(signal)}" />')
        self.boundaries.append((node, host, interrupting))
        return node

    def flow(self, source, target, name=None, condition=None, default=False, route="auto", points=None):
        fid = f"Flow_{source}_{target}".replace("Task_", "").replace("Gateway_", "G").replace("Event_", "")
        while any(f.id == fid for f in self.flows):
            fid += "_2"
        self.flows.append(Flow(fid, source, target, name, condition, route, points))
        if default:
            self.defaults[source] = fid
        return fid

    # -- layout ----------------------------------------------------------------------------
    def _layout(self):
        placed = [n for n in self.nodes.values() if n.tag != "boundaryEvent"]
        rows = {lane: 1 for lane in self.lanes}
        for node in placed:
            rows[node.lane] = max(rows[node.lane], node.row + 1)
        self.lane_box = {}
        y = POOL_Y
        for lane in self.lanes:
            self.lane_box[lane] = (y, rows[lane] * ROW_H)
            y += rows[lane] * ROW_H
        cols = max(n.col for n in placed) + 1
        self.width = FIRST_X - POOL_X + cols * COL_W + 20
        self.height = y - POOL_Y
        for node in placed:
            node.w, node.h = SIZES[SHAPE[node.tag]]
            lane_y, _ = self.lane_box[node.lane]
            cx = FIRST_X + node.col * COL_W + COL_W / 2
            cy = lane_y + node.row * ROW_H + ROW_H / 2
            node.x, node.y = cx - node.w / 2, cy - node.h / 2
        for node, host_id, _ in self.boundaries:
            host = self.nodes[host_id]
            node.w = node.h = 36
            node.x = host.x + host.w - 48 - node.attrs["slot"] * 44
            node.y = host.y + host.h - 18
            node.lane = host.lane
            self.nodes[node.id] = node

    def _waypoints(self, flow: Flow):
        s, t = self.nodes[flow.source], self.nodes[flow.target]
        if flow.points:
            return [(s.cx if px == "s" else t.cx if px == "t" else px, s.cy if py == "s" else t.cy if py == "t" else py)
                    for px, py in flow.points]
        left, right = (lambda n: n.x), (lambda n: n.x + n.w)
        top, bottom = (lambda n: n.y), (lambda n: n.y + n.h)
        if s.tag == "boundaryEvent":
            if t.x <= s.cx <= t.x + t.w and t.cy > s.cy:
                return [(s.cx, bottom(s)), (s.cx, top(t))]
            return [(s.cx, bottom(s)), (s.cx, t.cy), (left(t) if t.cx > s.cx else right(t), t.cy)]
        if flow.route == "hv":  # across, then up or down into the target
            return [(right(s) if t.cx > s.cx else left(s), s.cy), (t.cx, s.cy), (t.cx, top(t) if t.cy > s.cy else bottom(t))]
        if flow.route == "vh":  # up or down, then across into the target
            return [(s.cx, bottom(s) if t.cy > s.cy else top(s)), (s.cx, t.cy), (left(t) if t.cx > s.cx else right(t), t.cy)]
        if flow.route in ("below", "above"):
            if flow.route == "below":
                chan = max(s.cy, t.cy) + ROW_H / 2 - 16
                return [(s.cx, bottom(s)), (s.cx, chan), (t.cx, chan), (t.cx, bottom(t))]
            chan = min(s.cy, t.cy) - ROW_H / 2 + 6
            return [(s.cx, top(s)), (s.cx, chan), (t.cx, chan), (t.cx, top(t))]
        if abs(t.cx - s.cx) < 1:
            return [(s.cx, bottom(s)), (t.cx, top(t))] if t.cy > s.cy else [(s.cx, top(s)), (t.cx, bottom(t))]
        if t.cx > s.cx:
            if abs(t.cy - s.cy) < 1:
                return [(right(s), s.cy), (left(t), t.cy)]
            if s.tag.endswith("Gateway"):
                return [(s.cx, bottom(s) if t.cy > s.cy else top(s)), (s.cx, t.cy), (left(t), t.cy)]
            if t.tag.endswith("Gateway"):
                return [(right(s), s.cy), (t.cx, s.cy), (t.cx, top(t) if s.cy < t.cy else bottom(t))]
            mid = left(t) - 30
            return [(right(s), s.cy), (mid, s.cy), (mid, t.cy), (left(t), t.cy)]
        return self._waypoints(Flow(flow.id, flow.source, flow.target, route="below"))

    # -- output ----------------------------------------------------------------------------
    def xml(self) -> str:
        self._layout()
        incoming, outgoing = {}, {}
        for f in self.flows:
            outgoing.setdefault(f.source, []).append(f.id)
            incoming.setdefault(f.target, []).append(f.id)
        out = [f'<?xml version="1.0" encoding="UTF-8"?>',
               '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
               '                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"',
               '                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"',
               '                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"',
               '                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
               '                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
               f'                  id="Definitions_{self.process_id}" targetNamespace="http://bpmn.io/schema/bpmn">',
               f'  <bpmn:collaboration id="Collaboration_{self.process_id}">',
               f'    <bpmn:participant id="Participant_{self.process_id}" name={quoteattr(self.participant)} processRef="{self.process_id}" />',
               '  </bpmn:collaboration>']
        for signal in sorted(self.signals):
            out.append(f'  <bpmn:signal id="{_signal_id(signal)}" name="{signal}" />')
        out.append(f'  <bpmn:process id="{self.process_id}" name={quoteattr(self.name)} isExecutable="true">')
        if self.doc:
            out.append(f"    <bpmn:documentation>{escape(self.doc)}</bpmn:documentation>")
        out.append(f'    <bpmn:laneSet id="LaneSet_{self.process_id}">')
        for lane in self.lanes:
            out.append(f'      <bpmn:lane id="{_lane_id(lane)}" name={quoteattr(lane)}>')
            for node in self.nodes.values():
                if node.lane == lane:
                    out.append(f"        <bpmn:flowNodeRef>{node.id}</bpmn:flowNodeRef>")
            out.append("      </bpmn:lane>")
        out.append("    </bpmn:laneSet>")
        for node in self.nodes.values():
            out.extend(self._node_xml(node, incoming, outgoing))
        for f in self.flows:
            name = f" name={quoteattr(f.name)}" if f.name else ""
            if f.condition:
                out.append(f'    <bpmn:sequenceFlow id="{f.id}"{name} sourceRef="{f.source}" targetRef="{f.target}">')
                out.append(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(f.condition)}</bpmn:conditionExpression>')
                out.append("    </bpmn:sequenceFlow>")
            else:
                out.append(f'    <bpmn:sequenceFlow id="{f.id}"{name} sourceRef="{f.source}" targetRef="{f.target}" />')
        out.append("  </bpmn:process>")
        out.extend(self._di())
        out.append("</bpmn:definitions>")
        return "\n".join(out) + "\n"

    def _node_xml(self, node: Node, incoming, outgoing) -> list[str]:
        attrs = {k: v for k, v in node.attrs.items() if k != "slot"}
        if node.tag == "boundaryEvent":
            host = next(h for b, h, _ in self.boundaries if b is node)
            interrupting = next(i for b, _, i in self.boundaries if b is node)
            attrs = {"cancelActivity": "true" if interrupting else "false", "attachedToRef": host}
        if node.id in self.defaults:
            attrs["default"] = self.defaults[node.id]
        text = "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items())
        name = f" name={quoteattr(node.name)}" if node.name else ""
        lines = [f'    <bpmn:{node.tag} id="{node.id}"{name}{text}>']
        if node.doc:
            lines.append(f"      <bpmn:documentation>{escape(node.doc)}</bpmn:documentation>")
        if node.props:
            lines.append("      <bpmn:extensionElements>")
            lines.append("        <spiffworkflow:properties>")
            for key, value in node.props.items():
                lines.append(f'          <spiffworkflow:property name="{key}" value={quoteattr(value)} />')
            lines.append("        </spiffworkflow:properties>")
            lines.append("      </bpmn:extensionElements>")
        for fid in incoming.get(node.id, []):
            lines.append(f"      <bpmn:incoming>{fid}</bpmn:incoming>")
        for fid in outgoing.get(node.id, []):
            lines.append(f"      <bpmn:outgoing>{fid}</bpmn:outgoing>")
        if node.body:
            lines.append(f"      {node.body}")
        lines.append(f"    </bpmn:{node.tag}>")
        return lines

    def _di(self) -> list[str]:
        out = [f'  <bpmndi:BPMNDiagram id="Diagram_{self.process_id}">',
               f'    <bpmndi:BPMNPlane id="Plane_{self.process_id}" bpmnElement="Collaboration_{self.process_id}">',
               f'      <bpmndi:BPMNShape id="Participant_{self.process_id}_di" bpmnElement="Participant_{self.process_id}" isHorizontal="true">',
               f'        <dc:Bounds x="{POOL_X}" y="{POOL_Y}" width="{self.width:g}" height="{self.height:g}" />',
               "      </bpmndi:BPMNShape>"]
        for lane in self.lanes:
            y, h = self.lane_box[lane]
            out += [f'      <bpmndi:BPMNShape id="{_lane_id(lane)}_di" bpmnElement="{_lane_id(lane)}" isHorizontal="true">',
                    f'        <dc:Bounds x="{POOL_X + POOL_HEAD}" y="{y:g}" width="{self.width - POOL_HEAD:g}" height="{h:g}" />',
                    "      </bpmndi:BPMNShape>"]
        ordered = [n for n in self.nodes.values() if n.tag != "boundaryEvent"] + [n for n in self.nodes.values() if n.tag == "boundaryEvent"]
        for node in ordered:
            extra = ' isMarkerVisible="true"' if node.tag == "exclusiveGateway" else ""
            extra += ' isExpanded="false"' if node.tag == "callActivity" else ""
            out.append(f'      <bpmndi:BPMNShape id="{node.id}_di" bpmnElement="{node.id}"{extra}>')
            out.append(f'        <dc:Bounds x="{node.x:g}" y="{node.y:g}" width="{node.w:g}" height="{node.h:g}" />')
            if SHAPE.get(node.tag, "event") != "task" and node.name:
                lx, ly, lw, lh = self._label_box(node)
                out.append(f'        <bpmndi:BPMNLabel><dc:Bounds x="{lx:g}" y="{ly:g}" width="{lw:g}" height="{lh:g}" /></bpmndi:BPMNLabel>')
            out.append("      </bpmndi:BPMNShape>")
        for f in self.flows:
            points = self._waypoints(f)
            out.append(f'      <bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">')
            for x, y in points:
                out.append(f'        <di:waypoint x="{x:g}" y="{y:g}" />')
            if f.name:
                (x1, y1), (x2, y2) = points[0], points[1]
                width = 7 * len(f.name) + 6
                if abs(y1 - y2) < 1:  # leaves horizontally: label above the line
                    box = (x1 + 6, y1 - 20, width, 14)
                else:  # leaves vertically: label beside the line
                    box = (x1 + 6, y1 + (4 if y2 > y1 else -18), width, 14)
                out.append(f'        <bpmndi:BPMNLabel><dc:Bounds x="{box[0]:g}" y="{box[1]:g}" width="{box[2]:g}" height="{box[3]:g}" /></bpmndi:BPMNLabel>')
            out.append("      </bpmndi:BPMNEdge>")
        out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>"]
        return out

    def _label_box(self, node: Node):
        width = 110 if node.tag.endswith("Gateway") else 100
        lines = max(1, -(-len(node.name) * 6 // width))
        height = 14 * lines
        if node.tag == "boundaryEvent":
            return node.x + node.w + 2, node.y + node.h - 4, width, height
        if node.label == "above":
            return node.cx - width / 2, node.y - height - 6, width, height
        if node.label == "right":
            return node.x + node.w + 6, node.cy - height / 2 - 12, width, height
        return node.cx - width / 2, node.y + node.h + 6, width, height

    def write(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.xml())


def _timer(expression: str, kind: str) -> str:
    return (f'<bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{escape(expression)}'
            f"</bpmn:{kind}></bpmn:timerEventDefinition>")


def _signal_id(name: str) -> str:
    return "SignalDef_" + name


def _lane_id(name: str) -> str:
    return "Lane_" + "".join(c if c.isalnum() else "_" for c in name)
