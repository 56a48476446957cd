"""Turn BPMN sources into SpiffWorkflow specs: the one place diagrams are parsed."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser

from apflow.clock import clock

from .problems import InvalidDiagram, Problem
from .xml import DEFAULT_MAX_BYTES, parse_xml

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


def task_properties(task_spec) -> dict:
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})


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


def _problem_from_validation(err: Exception, filename: str) -> Problem:
    element = getattr(err, "id", None) or getattr(err, "task_id", None)
    message = str(getattr(err, "message", None) or err).strip()
    fix = "Open the diagram in the editor and correct this element."
    lowered = message.lower()
    if "not executable" in lowered:
        fix = "Tick 'Executable' on the process (isExecutable=\"true\") so the engine may run it."
    elif "no start event" in lowered or "start event" in lowered:
        fix = "Add a start event to the process and connect it to the first task."
    elif "schema" in lowered or "element" in lowered:
        fix = "Use only standard BPMN 2.0 elements; re-save the diagram from a BPMN editor."
    return Problem(filename or "?", element, message, fix)


def parse_sources(sources: dict[str, bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDiagrams:
    """Parse named BPMN sources together (call activities may cross files). Raises InvalidDiagram."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    problems: list[Problem] = []
    process_files: dict[str, str] = {}
    process_names: dict[str, str] = {}
    for name, data in sources.items():
        try:
            tree = parse_xml(data, name, max_bytes)
        except InvalidDiagram as err:
            problems.extend(err.problems)
            continue
        reserved = tree.xpath("//*[@id='Start' or @id='End']")
        if reserved:
            problems += [Problem(name, node.get("id"),
                                 f"The id '{node.get('id')}' is reserved by the engine and would silently replace its own start or end step.",
                                 f"Rename the element, e.g. to '{node.get('id')}Event_1'.") for node in reserved]
            continue
        before = set(parser.process_parsers)
        try:
            parser.add_bpmn_xml(tree, filename=name)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, name))
            continue
        except (SpiffWorkflowException, ValueError, KeyError, TypeError) as err:
            problems.append(Problem(name, None, f"The diagram could not be read: {err}", "Re-save it from a BPMN 2.0 editor."))
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
    if problems:
        raise InvalidDiagram(problems)
    parsed = ParsedDiagrams(parser, dict(sources), process_files, process_names)
    for pid in list(process_files):
        try:
            parsed.bundle(pid)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, process_files[pid]))
        except (SpiffWorkflowException, ValueError, KeyError) as err:
            problems.append(Problem(process_files[pid], pid, f"The process could not be built: {err}", "Check call activities name deployed processes and every flow has a target."))
    if problems:
        raise InvalidDiagram(problems)
    return parsed
