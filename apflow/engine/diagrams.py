"""Turn BPMN sources into SpiffWorkflow specs: the one place diagrams are parsed."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.specs.defaults import ManualTask

from apflow.clock import clock

from . import interop, service_tasks
from .messages import Elements, problem_from_spiff, schema_problems
from .problems import InvalidDiagram, Problem, errors
from .properties import task_properties  # noqa: F401 - re-exported
from .structure import file_problems, set_problems
from .xml import DEFAULT_MAX_BYTES, parse_xml, utf8_source

# Plain ISO 8601 durations, dates and repeating intervals, as typed into a diagram without quotes.
_ISO_DURATION = r"P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?"
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
_ISO_PART = rf"({_ISO_DURATION}|{_ISO_DATETIME})"
PLAIN_ISO = re.compile(rf"^(R\d*/{_ISO_PART}(/{_ISO_PART})?|{_ISO_PART})$", re.IGNORECASE)


def normalise_timer_expression(expression: str) -> str:
    """Quote a plain ISO 8601 value (`P7D`, `R3/PT1H`, `2027-01-15T09:00:00Z`) so it evaluates as a string.

    SpiffWorkflow evaluates timer expressions as Python; authors write plain ISO values, so both work.
    """
    text = (expression or "").strip()
    if PLAIN_ISO.match(text):
        return repr(text)
    return text


def as_duration(value) -> str:
    """A timer value as an ISO duration: a datetime (e.g. from end_of_half_term()) becomes the time left until it.

    Duration timers are wrapped in this so calendar helpers, which return moments, work there too.
    """
    from datetime import datetime, timezone

    text = str(value).strip()
    if text[:1] in {"P", "p", "R", "r"}:
        return text
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max((moment - clock.now()).total_seconds(), 0)
    return f"PT{seconds:.3f}S"


def content_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


@dataclass
class SpecBundle:
    """A process spec with the specs of every process it calls, as the engine needs them."""
    process_id: str
    spec: object
    subprocess_specs: dict = field(default_factory=dict)

    def all_specs(self):
        yield self.spec
        yield from self.subprocess_specs.values()

    def task_specs(self):
        for spec in self.all_specs():
            yield from spec.task_specs.values()




RECORDS_PROPERTY = "records"


def record_kinds(properties: dict) -> list[str]:
    """The domain records a step names in its `records` property (comma-separated kinds, e.g. `consent`)."""
    return [k.strip() for k in str(properties.get(RECORDS_PROPERTY, "")).split(",") if k.strip()]


def _normalise_timers(bundle: SpecBundle) -> None:
    for task_spec in bundle.task_specs():
        event = getattr(task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition):
            expression = normalise_timer_expression(event.expression)
            # The parser hands back the same spec objects on every call: wrap only once.
            if (isinstance(event, DurationTimerEventDefinition) and expression[:1] not in {"'", '"'}
                    and not expression.startswith("as_duration(")):
                expression = f"as_duration({expression})"
            event.expression = expression


@dataclass
class ParsedDiagrams:
    """Every executable process found in a set of BPMN sources."""
    parser: SpiffBpmnParser
    sources: dict[str, bytes]
    process_files: dict[str, str]
    process_names: dict[str, str]

    @property
    def process_ids(self) -> list[str]:
        return list(self.process_files)

    def bundle(self, process_id: str) -> SpecBundle:
        spec = self.parser.get_spec(process_id)
        subprocess_specs = self.parser.get_subprocess_specs(process_id)
        bundle = SpecBundle(process_id, spec, subprocess_specs)
        _normalise_timers(bundle)
        return bundle

    def called_processes(self, process_id: str) -> list[str]:
        return sorted(self.parser.get_subprocess_specs(process_id))

    def version_hash(self, process_id: str, form_sources: dict[str, bytes]) -> str:
        """Identity of a deployable version: the files of the process and of all it calls, and its forms."""
        files = sorted({self.process_files[p] for p in [process_id, *self.called_processes(process_id)] if p in self.process_files})
        parts = [name.encode() + b"\0" + self.sources[name] for name in files]
        parts += [name.encode() + b"\0" + form_sources[name] for name in sorted(form_sources)]
        return content_hash(*parts)


class ApflowBpmnParser(SpiffBpmnParser):
    """SpiffArena's parser, with a plain bpmn:task read as a manual task: other tools draw steps people do as plain
    tasks, which SpiffWorkflow would otherwise wait on for ever with nobody to finish them. The spec class is
    SpiffWorkflow's own ManualTask, which the serializer configuration (SPIFF_CONFIG) already knows."""
    OVERRIDE_PARSER_CLASSES = {**SpiffBpmnParser.OVERRIDE_PARSER_CLASSES, full_tag("task"): (SpiffTaskParser, ManualTask)}


# The BPMN elements the parser can turn into steps.
SUPPORTED_TAGS = frozenset(etree.QName(tag).localname for tag in {**ApflowBpmnParser.PARSER_CLASSES, **ApflowBpmnParser.OVERRIDE_PARSER_CLASSES})


# Activities whose own problem is already reported; each is parsed as a plain task in its place (same id, name and
# flows) so that the rest of its process is still built and checked: every problem of a file comes in one answer.
_STAND_IN_TAGS = frozenset({"scriptTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask", "userTask",
                            "manualTask", "callActivity"})
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _stand_in_for(tree, elements: set[str]) -> None:
    """Replace, in the parsed tree only (never in the stored source), each activity named in `elements` by a plain task."""
    for node in list(tree.iter(*(f"{{{_BPMN}}}{tag}" for tag in _STAND_IN_TAGS))) if elements else ():
        if node.get("id") not in elements:
            continue
        plain = etree.Element(f"{{{_BPMN}}}task", {key: value for key, value in node.attrib.items() if key in ("id", "name")})
        plain.extend(child for child in list(node) if etree.QName(child).localname in ("incoming", "outgoing"))
        plain.tail = node.tail
        node.getparent().replace(node, plain)


def read_sources(sources: dict[str, bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[ParsedDiagrams, list[Problem]]:
    """Parse named BPMN sources together (call activities may cross files), finding every problem at once.

    The ParsedDiagrams holds the processes that could be built; the problems say, for every file and element,
    what stopped the rest. Sources in any XML encoding are kept as UTF-8 (see xml.utf8_source)."""
    parser = ApflowBpmnParser(validator=None)  # the schema is checked below, reporting every error rather than the first
    problems: list[Problem] = []
    process_files: dict[str, str] = {}
    process_names: dict[str, str] = {}
    texts: dict[str, bytes] = {}
    trees = {}
    for name, data in sources.items():
        try:
            data = utf8_source(data, name)
            tree = parse_xml(data, name, max_bytes)
        except InvalidDiagram as err:
            problems.extend(err.problems)
            continue
        texts[name] = data
        reserved = tree.xpath("//*[@id='Start' or @id='End']")
        if reserved:
            problems += [Problem(name, node.get("id"),
                                 f"The id '{node.get('id')}' is reserved by the engine and would silently replace its own start or end step.",
                                 f"Rename the element, e.g. to '{node.get('id')}Event_1'.") for node in reserved]
            continue
        found = schema_problems(tree, name)
        if found:
            problems += found
            continue
        found = service_tasks.prepare(tree, name)
        interop.prepare(tree, name)  # candidate groups/users and forms of Camunda 7/8 and SpiffArena (stored source unchanged)
        found += file_problems(tree, name, SUPPORTED_TAGS)
        _stand_in_for(tree, {p.element for p in found if p.is_error and p.element})
        problems += found
        trees[name] = tree
    problems += set_problems(trees)
    elements = Elements(trees)

    def translated(err: Exception, filename: str) -> list[Problem]:
        flagged = {(p.file, p.element) for p in problems}
        files_flagged = {p.file for p in problems}
        known = [pid for pid in parser.process_parsers if parser.process_parsers[pid].process_executable]
        return [p for p in problem_from_spiff(err, filename, elements, known)
                if (p.file, p.element) not in flagged and (p.element or p.file not in files_flagged)]

    for name, tree in trees.items():
        before = set(parser.process_parsers)
        try:
            parser.add_bpmn_xml(tree, filename=name)
        except Exception as err:  # noqa: BLE001 - whatever the parser raises is said in plain words, never shown as it is
            problems += translated(err, name)
            continue
        added = [pid for pid in parser.process_parsers if pid not in before]
        executable = [pid for pid in added if parser.process_parsers[pid].process_executable]
        if not executable:
            problems.append(Problem(
                name, added[0] if added else None,
                "No process in this file is executable, so there is nothing the engine can run.",
                "Tick 'Executable' on the process (isExecutable=\"true\").",
            ))
        for pid in executable:
            process_files[pid] = name
            process_names[pid] = parser.process_parsers[pid].get_name() or pid
    parsed = ParsedDiagrams(parser, texts, process_files, process_names)
    for pid in list(process_files):
        try:
            parsed.bundle(pid)
        except Exception as err:  # noqa: BLE001 - as above
            problems += translated(err, process_files[pid])
            del process_files[pid]
            for process_parser in parser.process_parsers.values():
                if process_parser.spec is not None and process_parser.bpmn_id not in process_files:
                    process_parser.spec = None  # half-built: parse again (and fail again) if anything asks for it
    return parsed, problems


def parse_sources(sources: dict[str, bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDiagrams:
    """Parse named BPMN sources together (call activities may cross files). Raises InvalidDiagram with every
    problem that stops a process being built."""
    parsed, problems = read_sources(sources, max_bytes)
    if errors(problems):  # warnings (a step nothing leads to, a formless user task) do not stop it
        raise InvalidDiagram(errors(problems))
    return parsed
