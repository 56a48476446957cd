"""SpiffWorkflow's and the XML schema's complaints about a diagram, said in our own words.

SpiffWorkflow's parser raises one ValidationException at a time, with messages written for its developers
("There is no support implemented for this task type.", "No DMN Diagram available with id None", or the repr of
an internal TypeError). Each kind it raises is recognised here and turned into a Problem naming the element, in
plain words, with a fix; anything not recognised becomes a plain generic message with the element id. No
exception text or Python repr ever reaches an author.
"""
from __future__ import annotations

import re

from lxml import etree
from SpiffWorkflow.spiff.parser import VALIDATOR

from .problems import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
PREFIXES = {BPMN: "bpmn", "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi", "http://www.omg.org/spec/DD/20100524/DC": "dc",
            "http://www.omg.org/spec/DD/20100524/DI": "di", "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
            "http://camunda.org/schema/1.0/bpmn": "camunda", "http://camunda.org/schema/zeebe/1.0": "zeebe"}

# What each BPMN element is called in the editor, for messages ("the script task 'Work out the fee'").
KINDS = {"task": "task", "userTask": "user task", "manualTask": "manual task", "scriptTask": "script task",
         "serviceTask": "service task", "sendTask": "send task", "receiveTask": "receive task",
         "businessRuleTask": "business rule task", "callActivity": "call activity", "subProcess": "subprocess",
         "transaction": "transaction", "adHocSubProcess": "ad hoc subprocess", "startEvent": "start event",
         "endEvent": "end event", "intermediateCatchEvent": "intermediate event", "intermediateThrowEvent": "intermediate event",
         "boundaryEvent": "boundary event", "exclusiveGateway": "exclusive gateway", "inclusiveGateway": "inclusive gateway",
         "parallelGateway": "parallel gateway", "eventBasedGateway": "event-based gateway", "complexGateway": "complex gateway",
         "sequenceFlow": "sequence flow", "process": "process", "lane": "lane", "participant": "pool",
         "dataObject": "data object", "dataObjectReference": "data object", "dataStoreReference": "data store"}

GENERIC_FIX = ("Open the diagram in the editor, check this element's settings against docs/authoring.md, "
               "and re-save it from a BPMN 2.0 editor.")


def short_tag(tag: str) -> str:
    """`{http://www.omg.org/spec/BPMN/20100524/MODEL}task` as `bpmn:task`."""
    if isinstance(tag, str) and tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        prefix = PREFIXES.get(namespace)
        return f"{prefix}:{local}" if prefix else local
    return str(tag)


def _clean(text: str) -> str:
    """Schema text with namespaces shortened, so it reads `bpmn:task` instead of `{http://...}task`."""
    return re.sub(r"\{([^}]*)\}([A-Za-z_][\w.-]*)", lambda m: short_tag("{" + m.group(1) + "}" + m.group(2)), text)


class Elements:
    """The elements of a set of parsed files, by id, so a message can say what an id is."""

    def __init__(self, trees: dict[str, etree._ElementTree] | None = None):
        self.by_id: dict[str, tuple[str, etree._Element]] = {}
        for filename, tree in (trees or {}).items():
            for node in tree.iter():
                if isinstance(node.tag, str) and node.get("id"):
                    self.by_id.setdefault(node.get("id"), (filename, node))

    def node(self, element_id):
        found = self.by_id.get(element_id or "")
        return found[1] if found else None

    def label(self, element_id, tag: str = "") -> str:
        """`the script task 'Work out the fee'` (or its id when it has no name)."""
        node = self.node(element_id)
        tag = node.tag if node is not None else tag
        local = short_tag(tag).partition(":")[2] or short_tag(tag)
        kind = KINDS.get(local, "element")
        name = (node.get("name") if node is not None else None) or element_id
        return f"the {kind} '{name}'" if name else f"a {kind}"

    def calling(self, process_id: str) -> list[tuple[str, str]]:
        """(file, id) of every call activity that starts process_id."""
        return [(f, n.get("id")) for f, n in self.by_id.values()
                if isinstance(n.tag, str) and n.tag == f"{{{BPMN}}}callActivity" and n.get("calledElement") == process_id]


def _spiff_message(err: Exception) -> str:
    args = getattr(err, "args", ())
    text = args[0] if args and isinstance(args[0], str) else ""
    return text.strip()


def problem_from_spiff(err: Exception, filename: str, elements: Elements | None = None, known_processes=()) -> list[Problem]:
    """Problems (usually one) for an exception SpiffWorkflow's parser raised while reading a diagram."""
    elements = elements or Elements()
    raw = _spiff_message(err)
    element = getattr(err, "id", None) or getattr(err, "task_id", None) or None
    tag = getattr(err, "tag", "") or ""
    what = elements.label(element, tag) if element else "an element"
    What = what[:1].upper() + what[1:]

    def problem(message, fix, where=element, file=filename):
        return Problem(file or "?", where, message, fix)

    if m := re.search(r"Process (\S+) is not executable", raw):
        return [problem(f"The process '{m.group(1)}' is not marked executable, so the engine may not run it.",
                        "Tick 'Executable' on the process (isExecutable=\"true\").", m.group(1))]
    if raw.startswith("No start event found"):
        return [problem(f"{What} has no start event, so nothing can start it.",
                        "Add a start event to the process and connect it to the first step.")]
    if "No Script Provided" in raw:
        return [problem(f"{What} has no script, so it would stop the process with an error when reached.",
                        "Write the script (Python on process data, see docs/authoring.md), or change it to a plain task.")]
    if raw.startswith('No "calledElement"'):
        return [problem(f"{What} does not say which process it starts.",
                        "Set its called element to the id of a process in these files or already deployed.")]
    if m := re.search(r"The process '([^']*)' was not found", raw):
        called = m.group(1)
        callers = elements.calling(called) or [(filename, None)]
        known = ", ".join(f"'{p}'" for p in sorted(known_processes)) or "none"
        return [problem(f"The call activity starts the process '{called}', which is neither in these files nor deployed.",
                        f"Deploy the diagram holding '{called}' first (or together with this one), or correct the called "
                        f"element; processes known here: {known}.", where, file) for file, where in callers]
    if m := re.search(r'No DMN Diagram available with id "?([^",]*)"?', raw):
        decision = m.group(1).strip()
        if decision in ("", "None"):
            return [problem(f"{What} names no decision table, so there is nothing for it to run.",
                            "apflow runs BPMN diagrams, not DMN decision tables: replace the business rule task with a script task "
                            "that sets the result, or with a gateway whose conditions decide.")]
        return [problem(f"{What} uses the decision table '{decision}', which apflow cannot find: it runs .bpmn diagrams only, "
                        "not DMN decision tables.",
                        "Replace the business rule task with a script task that sets the result, or with a gateway whose conditions decide.")]
    if raw.startswith("There is no support implemented for this task type"):
        return [problem(f"{What} is a {short_tag(tag) or 'kind of element'} that apflow cannot run.",
                        "Use a user, manual, script or service task, a call activity or subprocess, and exclusive, inclusive, "
                        "parallel or event-based gateways (complex gateways are not supported).")]
    if raw.startswith("Multiple outgoing flows are not supported"):
        return [problem(f"{What} has several outgoing flows; apflow follows only one flow out of this kind of element.",
                        "Add a parallel gateway after it to run the branches side by side, or an exclusive gateway to choose one.")]
    if "Time Specification" in raw:
        return [problem(f"{What} is a timer that does not say when it fires.",
                        "Give it a duration such as P5D, a date such as 2027-01-15T09:00:00Z, or a cycle such as R3/P1W.")]
    if raw.startswith("Exactly one start event is required"):
        return [problem(f"{What} needs exactly one start event inside it.", "Give the subprocess one start event, connected to its first step.")]
    if raw.startswith("A SubWorkflow Must contain an End event"):
        return [problem(f"{What} has no end event inside it, so it could never finish.", "Add an end event and connect the subprocess's last step to it.")]
    if raw.startswith("Non-default exclusive outgoing sequence flow without condition"):
        return [problem(f"{What} leaves a gateway with no condition and is not the gateway's default flow, so it could never be chosen.",
                        "Give the flow a condition, or make it the gateway's default flow (a gateway has one default flow at most).")]
    if raw.startswith("A Service Task must have an operator"):
        return [problem(f"{What} does not name an operation to run.",
                        "Name one of apflow's built-in operations (docs/authoring.md, service tasks), or use a user or script task.")]
    if m := re.search(r"Duplicate process ID: (\S+)", raw):
        return [problem(f"Two processes have the id '{m.group(1)}'; the engine could not tell which one to run.",
                        "Give each process its own id (select the pool or canvas in the editor).", m.group(1))]
    if m := re.search(r"Cannot resolve data(Input|Output)Association (\S+)", raw):
        way = "reads" if m.group(1) == "Input" else "writes"
        return [problem(f"{What} {way} the data object '{m.group(2)}', which is not defined in its process.",
                        "Add the data object to the process, or remove the association.")]
    if raw.startswith("Conditional event definition with missing condition"):
        return [problem(f"{What} is a conditional event with no condition.", "Write the condition on process data, e.g. risk_level == 'high'.")]
    if "Could not find messageRef" in raw:
        return [problem("A message start event names no message.", "Choose the message it waits for (messageRef) in the editor.")]
    if m := re.search(r"(Message|Signal|Error|Escalation|Correlation|Data Store) identifier is missing", raw):
        return [problem(f"A {m.group(1).lower()} defined in the file has no id.", "Give every message, signal, error and escalation an id.")]
    if m := re.search(r"Data Store with name (\S+) has no implementation", raw):
        return [problem(f"The data store '{m.group(1)}' is not one apflow provides.", "Keep process data in task data and records instead of a data store.")]
    if "ad hoc subprocess" in raw.lower():
        return [problem(f"{What} is an ad hoc subprocess that apflow cannot run as drawn (only parallel ordering, and no start or end events inside).",
                        "Use an embedded subprocess with a parallel gateway instead.")]
    if "correlation" in raw.lower():
        return [problem(f"{What} uses a message correlation that is incomplete.",
                        "Give every correlation property a retrieval expression for each message that uses it, or remove the correlation.")]
    if "loopMaximum or loopCondition" in raw:
        return [problem(f"{What} is a loop with neither a loop maximum nor a loop condition.", "Give the loop a maximum and a condition on process data.")]
    if "loop input data reference" in raw or "loop output data reference" in raw or "cardinality or a collection" in raw:
        return [problem(f"{What} is a multi-instance activity whose input or output collection is not defined.",
                        "Name the collection (input) and the item variable, or give a loop cardinality.")]
    if "raise_validation_exception" in raw or "Expected a" in raw or "Expected an" in raw:
        kind = next((k for k in ("message", "signal", "error", "escalation") if k in raw.lower() or k in tag.lower()), "message")
        article = "an" if kind[0] in "ae" else "a"
        return [problem(f"{What} refers to {article} {kind} that is not defined in the file.",
                        f"Choose {article} {kind} defined in this file (or define one) for the event in the editor.")]
    where = f" ({what})" if element else ""
    return [problem(f"The engine could not read this part of the diagram{where}.", GENERIC_FIX)]


def schema_problems(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Every place the file breaks the BPMN 2.0 schema (with SpiffWorkflow's extensions), all at once.

    SpiffWorkflow's own validator stops at the first; libxml2 reports all it can find, each with its element."""
    VALIDATOR.preprocess(tree)
    schema = VALIDATOR.validator
    if schema.validate(tree):
        return []
    paths = {tree.getpath(node): node for node in tree.iter() if isinstance(node.tag, str)}
    problems = []
    for entry in schema.error_log:
        node = paths.get(entry.path)
        element = None
        holder = node
        while holder is not None and element is None:
            element = holder.get("id")
            holder = holder.getparent()
        problems.append(_schema_problem(filename, element, node, entry))
    return problems


def _schema_problem(filename: str, element: str | None, node, entry) -> Problem:
    message = _clean(entry.message or "")
    tag = short_tag(node.tag) if node is not None else "element"
    at = f" (line {entry.line})" if entry.line else ""
    if m := re.search(r"attribute '([\w:.-]+)': The attribute '[^']*' is not allowed", message):
        return Problem(filename, element, f"The {tag}{at} has an attribute '{m.group(1)}' that BPMN 2.0 does not define.",
                       "Remove the attribute; tool settings belong in extensionElements, which BPMN editors write for you.")
    if "This element is not expected" in message:
        return Problem(filename, element, f"The {tag}{at} is not allowed at this place in a BPMN 2.0 diagram.",
                       "Remove it or move it where BPMN 2.0 allows it; re-saving from a BPMN 2.0 editor usually fixes this.")
    if m := re.search(r"attribute '([\w:.-]+)': '([^']*)' is not a valid value of the atomic type 'xs:ID'", message):
        return Problem(filename, element, f"The id '{m.group(2)}' of a {tag}{at} is not a valid identifier.",
                       "Ids start with a letter or '_' and hold only letters, digits, '_', '-' and '.', with no spaces.")
    if m := re.search(r"The attribute '([\w:.-]+)' is required but missing", message):
        return Problem(filename, element, f"The {tag}{at} lacks its '{m.group(1)}' attribute.", f"Set {m.group(1)} on the {tag} in the editor.")
    if m := re.search(r"Missing child element\(s\)\. Expected is (?:one of )?\(\s*([^)]*)\)", message):
        expected = ", ".join(part.strip() for part in m.group(1).split(",") if not part.strip().endswith(("documentation", "extensionElements")))
        return Problem(filename, element, f"The {tag}{at} is missing a part it needs ({expected}).", f"Add the missing part to the {tag} in the editor.")
    if m := re.search(r"attribute '([\w:.-]+)': '([^']*)' is not a valid value", message):
        return Problem(filename, element, f"The value '{m.group(2)}' of '{m.group(1)}' on the {tag}{at} is not allowed there.",
                       f"Correct '{m.group(1)}' in the editor.")
    if m := re.search(r"Duplicate key-sequence \['([^']*)'\]", message):
        return Problem(filename, element, f"Two elements have the id '{m.group(1)}'{at}.", "Give every element its own id.")
    return Problem(filename, element, f"The {tag}{at} does not follow the BPMN 2.0 schema.",
                   "Re-save the diagram from a BPMN 2.0 editor, or correct the XML at that line.")
