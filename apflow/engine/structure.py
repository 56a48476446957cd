"""Checks on the XML of a diagram that find, all at once, what SpiffWorkflow's parser would stop at one by one
or let through and then fail on at run time: a script task with no script, a call activity naming no process,
a flow to nowhere, a message nobody sends, a timer that does not say when.

Each problem names its element, says what is wrong in plain words and how to fix it.
"""
from __future__ import annotations

from lxml import etree

from .messages import BPMN, Elements
from .problems import WARNING, Problem

SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
# Flow nodes that may have several outgoing flows; every other node follows exactly one.
SPLITTING = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway", "startEvent"}
CONDITIONAL = {"exclusiveGateway", "inclusiveGateway"}
NOT_FLOW_NODES = {"sequenceFlow", "laneSet", "dataObject", "dataObjectReference", "dataStoreReference", "textAnnotation",
                  "association", "group", "documentation", "extensionElements", "ioSpecification", "property", "ioBinding",
                  "auditing", "monitoring", "correlationSubscription", "resourceRole", "performer", "humanPerformer",
                  "potentialOwner", "supports", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
                  "incoming", "outgoing", "category", "completionCondition"}
CATCHING = ("startEvent", "intermediateCatchEvent", "boundaryEvent", "receiveTask")
THROWING = ("intermediateThrowEvent", "endEvent", "sendTask")


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _text(node, path) -> str:
    found = node.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def file_problems(tree: etree._ElementTree, filename: str, supported_tags) -> list[Problem]:
    """Everything wrong with the flow nodes of one file that the engine would refuse or trip over.

    supported_tags: the BPMN element names the parser has a reader for."""
    elements = Elements({filename: tree})
    problems: list[Problem] = []

    def add(element, message, fix):
        problems.append(Problem(filename, element, message, fix))

    root = tree.getroot()
    defined = {kind: {n.get("id") for n in root.iter(f"{{{BPMN}}}{kind}") if n.get("id")}
               for kind in ("message", "signal", "error", "escalation")}
    for container in root.iter(*(f"{{{BPMN}}}{c}" for c in CONTAINERS)):
        nodes = {child.get("id"): child for child in container if isinstance(child.tag, str) and child.get("id")
                 and etree.QName(child).namespace == BPMN and _local(child) not in NOT_FLOW_NODES}
        flows = [child for child in container if _local(child) == "sequenceFlow"]
        outgoing: dict[str, list] = {}
        incoming: set[str] = set()
        for flow in flows:
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            for end, ref in (("starts at", source), ("leads to", target)):
                if not ref or ref not in nodes:
                    add(flow.get("id"), f"The sequence flow '{flow.get('name') or flow.get('id')}' {end} '{ref or ''}', which is not an "
                        "element of the same process.", "Connect both ends of the flow to elements in the editor, or delete it.")
            outgoing.setdefault(source, []).append(flow)
            incoming.add(target)
        if _local(container) != "process" and container.get("triggeredByEvent") != "true":
            starts = [n for n in nodes.values() if _local(n) == "startEvent"]
            what = elements.label(container.get("id"))
            if len(starts) != 1:
                add(container.get("id"), f"{what[:1].upper()}{what[1:]} has {len(starts)} start events inside it; it needs exactly one.",
                    "Give the subprocess one start event, connected to its first step.")
            if not any(_local(n) == "endEvent" for n in nodes.values()):
                add(container.get("id"), f"{what[:1].upper()}{what[1:]} has no end event inside it, so it could never finish.",
                    "Add an end event and connect the subprocess's last step to it.")
        for element, node in nodes.items():
            problems += _node_problems(filename, elements, element, node, outgoing.get(element, []), nodes, defined, supported_tags)
            problems += _flow_problems(filename, elements, element, node, outgoing.get(element, []), incoming, nodes)
    return problems


def _node_problems(filename, elements, element, node, outgoing, nodes, defined, supported_tags) -> list[Problem]:
    problems: list[Problem] = []
    local = _local(node)
    what = elements.label(element)
    What = what[:1].upper() + what[1:]

    def add(message, fix, where=element):
        problems.append(Problem(filename, where, message, fix))

    if local not in supported_tags:
        add(f"{What} is a bpmn:{local}, which apflow cannot run.",
            "Use a user, manual, script or service task, a call activity or subprocess, and exclusive, inclusive, parallel or "
            "event-based gateways (complex gateways are not supported).")
        return problems
    if local == "scriptTask" and not _text(node, "bpmn:script"):
        add(f"{What} has no script, so it would stop the process with an error when reached.",
            "Write the script (Python on process data, see docs/authoring.md), or change it to a plain task if a person does the work.")
    if local == "callActivity" and not (node.get("calledElement") or "").strip():
        add(f"{What} does not say which process it starts.",
            "Set its called element to the id of a process in these files or already deployed.")
    if local == "businessRuleTask":
        decision = _text(node, "bpmn:extensionElements/spiffworkflow:calledDecisionId")
        if not decision:
            add(f"{What} names no decision table, so there is nothing for it to run.",
                "apflow runs BPMN diagrams, not DMN decision tables: replace the business rule task with a script task that sets "
                "the result, or with a gateway whose conditions decide.")
        else:
            add(f"{What} uses the decision table '{decision}', which apflow cannot find: it runs .bpmn diagrams only, not DMN decision tables.",
                "Replace the business rule task with a script task that sets the result, or with a gateway whose conditions decide.")
    if len(outgoing) > 1 and local not in SPLITTING:
        add(f"{What} has {len(outgoing)} outgoing flows; apflow follows only one flow out of this kind of element.",
            "Add a parallel gateway after it to run the branches side by side, or an exclusive gateway to choose one.")
    if local in CONDITIONAL and len(outgoing) > 1:  # one flow out of a gateway is followed whatever its condition
        default = node.get("default")
        for flow in outgoing:
            if flow.get("id") != default and not _text(flow, "bpmn:conditionExpression"):
                add(f"The flow '{flow.get('name') or flow.get('id')}' leaves {what} with no condition and is not its default flow, "
                    "so it could never be chosen.", "Give the flow a condition, or make it the gateway's default flow "
                    "(a gateway has one default flow at most).", flow.get("id"))
    if local == "inclusiveGateway" and len(outgoing) > 1 and not node.get("default"):
        add(f"{What} has no default flow, so a case that matches none of its conditions would stop the process with an error.",
            "Mark one outgoing flow as the default flow.")
    if local == "boundaryEvent" and node.get("attachedToRef") not in nodes:
        add(f"{What} is not attached to an activity of its process.", "Drop the boundary event onto the edge of the task it watches.")
    for definition in node.iterfind("bpmn:*", NS):
        kind = _local(definition).removesuffix("EventDefinition")
        if kind in ("message", "signal", "error", "escalation"):
            ref = definition.get(f"{kind}Ref")
            if ref and ref not in defined[kind]:
                article = "an" if kind[0] in "ae" else "a"
                add(f"{What} refers to the {kind} '{ref}', which is not defined in the file.",
                    f"Choose {article} {kind} defined in this file (or define one) for the event in the editor.")
            elif not ref and kind == "signal" and not node.get("name"):
                add(f"{What} uses a signal with no name, so no signal could ever reach it.",
                    "Choose a signal (with a name) for the event in the editor.")
        elif kind == "timer" and not any(_text(definition, f"bpmn:{t}") for t in ("timeDuration", "timeDate", "timeCycle")):
            add(f"{What} is a timer that does not say when it fires.",
                "Give it a duration such as P5D, a date such as 2027-01-15T09:00:00Z, or a cycle such as R3/P1W.")
        elif kind == "conditional" and not _text(definition, "bpmn:condition"):
            add(f"{What} is a conditional event with no condition.", "Write the condition on process data, e.g. risk_level == 'high'.")
    return problems


# What an event-based gateway may lead to: events that wait (a message, timer, signal or condition) and receive tasks.
WAITING_TARGETS = {"intermediateCatchEvent", "receiveTask"}
# Flow nodes that start without an incoming flow: start events, boundary events, event subprocesses.
STARTS_ALONE = {"startEvent", "boundaryEvent"}


def _flow_problems(filename, elements, element, node, outgoing, incoming, nodes) -> list[Problem]:
    """What leaves a placement stuck with no task and no error: a start event leading nowhere, a link event (which
    the engine does not follow), an event-based gateway leading to something that does not wait; and, as a
    warning, a step nothing leads to."""
    problems: list[Problem] = []
    local = _local(node)
    what = elements.label(element)
    What = what[:1].upper() + what[1:]
    if node.find("bpmn:linkEventDefinition", NS) is not None:
        problems.append(Problem(filename, element, f"{What} is a link event, which apflow does not follow: a placement reaching it "
                                "would stop there with nothing to do.", "Replace the pair of link events with a sequence flow."))
    if local == "startEvent" and not outgoing and node.getparent().get("triggeredByEvent") != "true":
        problems.append(Problem(filename, element, f"{What} has no outgoing flow, so nothing would happen after it starts.",
                                "Connect the start event to the first step."))
    ends_alone = (local == "endEvent" or node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true"
                  or node.find("bpmn:linkEventDefinition", NS) is not None
                  or (local == "boundaryEvent" and node.find("bpmn:compensateEventDefinition", NS) is not None))
    if not outgoing and not ends_alone and local != "startEvent":
        problems.append(Problem(filename, element, f"{What} has no outgoing flow, and a process ends only at an end event: a placement "
                                "would stop there, unfinished, with nothing left to do.",
                                "Connect it to the next step, or to an end event if the process is over."))
    if local == "eventBasedGateway":
        for flow in outgoing:
            target = nodes.get(flow.get("targetRef"))
            if target is not None and _local(target) not in WAITING_TARGETS:
                problems.append(Problem(filename, flow.get("targetRef"), f"{What} leads to {elements.label(flow.get('targetRef'))}, "
                                        "but an event-based gateway may lead only to events that wait (a message, timer, signal or "
                                        "condition) or receive tasks; the placement would stop there.",
                                        "Put an intermediate catch event between the gateway and the step, or use an exclusive gateway."))
    starts_alone = (local in STARTS_ALONE or node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true"
                    or node.find("bpmn:linkEventDefinition", NS) is not None)
    if element not in incoming and not starts_alone:
        problems.append(Problem(filename, element, f"No flow leads to {what}, so it would never run.",
                            "Connect it to the step before it, or delete it.", severity=WARNING))
    return problems


def _message_names(tree, tags) -> dict[str, list[etree._Element]]:
    """Message name -> the events of these kinds that use it (a message is named through messageRef, else the event's name)."""
    root = tree.getroot()
    names = {n.get("id"): n.get("name") or n.get("id") for n in root.iter(f"{{{BPMN}}}message")}
    found: dict[str, list] = {}
    for node in root.iter(*(f"{{{BPMN}}}{t}" for t in tags)):
        definitions = node.findall("bpmn:messageEventDefinition", NS)
        if _local(node) in ("sendTask", "receiveTask"):
            definitions = [node] if node.get("messageRef") or not definitions else definitions
        for definition in definitions:
            ref = definition.get("messageRef")
            if ref and ref not in names:
                continue  # a message that is not defined: file_problems says so
            name = names[ref] if ref else node.get("name")
            found.setdefault(name or "", []).append(node)
    return found


def set_problems(trees: dict[str, etree._ElementTree]) -> list[Problem]:
    """What only the whole set of diagrams shows: a message that some event waits for but nothing sends."""
    sent: set[str] = set()
    waiting: list[tuple[str, str, etree._Element]] = []
    for filename, tree in trees.items():
        sent |= set(_message_names(tree, THROWING))
        for name, nodes in _message_names(tree, CATCHING).items():
            waiting += [(filename, name, node) for node in nodes]
    problems = []
    for filename, name, node in waiting:
        if name in sent:
            continue
        what = Elements({filename: trees[filename]}).label(node.get("id"))
        if not name:
            problems.append(Problem(filename, node.get("id"), f"{what[:1].upper()}{what[1:]} waits for a message with no name, so no message could reach it.",
                                    "Choose the message it waits for in the editor (messageRef), and send that message from another step."))
        else:
            problems.append(Problem(filename, node.get("id"),
                                    f"{what[:1].upper()}{what[1:]} waits for the message '{name}', but nothing in these diagrams sends it, and apflow "
                                    "delivers messages only between the processes it runs: it would wait for ever.",
                                    f"Send '{name}' from a message throw event, end event or send task in a process that runs alongside "
                                    "(deploy them together), or wait for a signal, a timer or a person's task instead."))
    return problems
