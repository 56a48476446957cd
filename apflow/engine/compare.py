"""What changed between two versions of a diagram: elements added, removed, changed (and how), or only moved.

Works on the BPMN XML (parsed with the hardened parser), so it needs no engine and no database.
Each element is reduced to the aspects people care about (name, lane, properties, condition,
timer, signal, script, ...); a change is reported per aspect, in words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .xml import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Containers and parts that are reported through the elements they hold or belong to.
_NOT_TRACKED = {"definitions", "laneSet", "extensionElements", "incoming", "outgoing", "flowNodeRef",
                "conditionExpression", "documentation", "script", "multiInstanceLoopCharacteristics",
                "standardLoopCharacteristics", "timeDuration", "timeDate", "timeCycle", "text"}
_TIMER_KINDS = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}
# BPMN's default attribute values: an editor may write them or leave them out, and both mean the same.
_DEFAULTS = {"cancelActivity": "true", "isInterrupting": "true", "isForCompensation": "false", "startQuantity": "1",
             "completionQuantity": "1", "parallelMultiple": "false", "triggeredByEvent": "false", "isClosed": "false",
             "instantiate": "false", "gatewayDirection": "Unspecified"}


@dataclass
class ElementChange:
    id: str
    type: str
    name: str
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "name": self.name, "changes": list(self.changes)}


@dataclass
class DiagramDiff:
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]
    moved: list[ElementChange]   # only the layout changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)

    def as_dict(self) -> dict:
        return {key: [c.as_dict() for c in getattr(self, key)] for key in ("added", "removed", "changed", "moved")}


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _tracked(node) -> bool:
    return (isinstance(node.tag, str) and etree.QName(node).namespace == BPMN and node.get("id") is not None
            and _local(node) not in _NOT_TRACKED and not _local(node).endswith("EventDefinition"))


def _text(node) -> str:
    return (node.text or "").strip() if node is not None else ""


def _lanes(root) -> dict[str, str]:
    lanes = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        for ref in lane.findall(f"{{{BPMN}}}flowNodeRef"):
            lanes[_text(ref)] = lane.get("name") or lane.get("id")
    return lanes


def _canonical(node) -> str:
    """A stable text form of a subtree, ignoring ids and whitespace, for 'anything else that differs'."""
    if not isinstance(node.tag, str):
        return ""
    attrs = " ".join(f"{etree.QName(k).localname}={v}" for k, v in sorted(node.attrib.items()) if k != "id")
    inner = "".join(_canonical(child) for child in node)
    return f"<{_local(node)} {attrs}>{_text(node)}{inner}</>"


def _aspects(node, lanes: dict[str, str], signals: dict[str, str]) -> dict[str, str]:
    """The parts of one element a person would call 'what it does', by name."""
    aspects: dict[str, str] = {"type": _local(node)}
    for key, value in node.attrib.items():
        if key != "id" and _DEFAULTS.get(key) != value:
            aspects["name" if key == "name" else f"attribute {etree.QName(key).localname}"] = value
    if node.get("id") in lanes:
        aspects["lane"] = lanes[node.get("id")]
    other = []
    for child in node:
        kind = _local(child)
        if not kind or _tracked(child) or kind in {"incoming", "outgoing", "flowNodeRef", "laneSet", "childLaneSet"}:
            continue
        if kind == "extensionElements":
            for ext in child:
                if not isinstance(ext.tag, str):
                    continue
                if etree.QName(ext).namespace == SPIFF and _local(ext) == "properties":
                    for prop in ext:
                        if isinstance(prop.tag, str) and prop.get("name"):
                            aspects[f"property {prop.get('name')}"] = prop.get("value", "")
                elif etree.QName(ext).namespace == SPIFF:
                    aspects[_local(ext)] = _text(ext) or _canonical(ext)
                else:
                    other.append(_canonical(ext))
        elif kind == "conditionExpression":
            aspects["condition"] = _text(child)
        elif kind in {"script", "documentation"}:
            aspects[kind] = _text(child)
        elif kind == "timerEventDefinition":
            for timer in child:
                if _local(timer) in _TIMER_KINDS:
                    aspects["timer"] = f"{_TIMER_KINDS[_local(timer)]} {_text(timer)}"
        elif kind == "signalEventDefinition":
            ref = child.get("signalRef", "")
            aspects["signal"] = signals.get(ref, ref)
        else:
            other.append(_canonical(child))
    if other:
        aspects["other details"] = "".join(other)
    return aspects


def _layout(root) -> dict[str, str]:
    layout = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        points = [(p.get("x"), p.get("y")) for p in shape.findall(f"{{{DI}}}waypoint")]
        box = (bounds.get("x"), bounds.get("y"), bounds.get("width"), bounds.get("height")) if bounds is not None else None
        layout[shape.get("bpmnElement")] = repr((box, points))
    return layout


def _elements(root) -> dict[str, object]:
    return {node.get("id"): node for node in root.iter() if _tracked(node)}


def _describe(aspect: str, before: str | None, after: str | None) -> str:
    def short(value):
        value = " ".join(str(value).split())
        return value if len(value) <= 80 else value[:77] + "..."

    if aspect == "other details":
        return "other details changed"
    if before is None:
        return f"{aspect} set to '{short(after)}'"
    if after is None:
        return f"{aspect} removed (was '{short(before)}')"
    return f"{aspect}: '{short(before)}' → '{short(after)}'"


def compare(before_xml: bytes | str, after_xml: bytes | str) -> DiagramDiff:
    """Elements added, removed and changed from before_xml to after_xml (both BPMN files)."""
    before_root = parse_xml(before_xml, "before.bpmn").getroot()
    after_root = parse_xml(after_xml, "after.bpmn").getroot()
    before, after = _elements(before_root), _elements(after_root)
    before_lanes, after_lanes = _lanes(before_root), _lanes(after_root)
    before_signals = {s.get("id"): s.get("name") or s.get("id") for s in before_root.iter(f"{{{BPMN}}}signal")}
    after_signals = {s.get("id"): s.get("name") or s.get("id") for s in after_root.iter(f"{{{BPMN}}}signal")}
    before_layout, after_layout = _layout(before_root), _layout(after_root)

    def entry(node) -> ElementChange:
        return ElementChange(node.get("id"), _local(node), node.get("name") or "")

    added = [entry(after[i]) for i in after if i not in before]
    removed = [entry(before[i]) for i in before if i not in after]
    changed, moved = [], []
    for element_id in (i for i in after if i in before):
        old = _aspects(before[element_id], before_lanes, before_signals)
        new = _aspects(after[element_id], after_lanes, after_signals)
        if old != new:
            change = entry(after[element_id])
            change.changes = [_describe(k, old.get(k), new.get(k)) for k in [*old, *(k for k in new if k not in old)]
                              if old.get(k) != new.get(k)]
            changed.append(change)
        elif before_layout.get(element_id) != after_layout.get(element_id):
            moved.append(entry(after[element_id]))
    return DiagramDiff(added, removed, changed, moved)
