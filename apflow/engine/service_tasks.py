"""Service tasks: a small, documented set of built-in operations a diagram may ask for (docs/authoring.md,
"Service tasks"), and nothing else.

A service task names its operation the way its modeller writes it:
- SpiffArena: `spiffworkflow:serviceTaskOperator id="apflow:notify"` with `spiffworkflow:parameter` elements;
- Camunda 7: an external task, `camunda:type="external" camunda:topic="notify"`, with `camunda:inputParameter`s;
- Camunda 8: `zeebe:taskDefinition type="notify"` with `zeebe:input source=".." target=".."`.
`prepare()` turns the Camunda forms into the SpiffArena one on the parsed tree before SpiffWorkflow reads it (the
stored source keeps the author's XML), `check()` refuses at validation whatever could not run, and `run()` is what
the script engine does when a service task is reached: it renders the operation's texts from process data and
records the request as an effect of the step. The engine touches no database and no network: the services apply
the effects in the step's own transaction (apflow.services.operations), and webhooks are posted later, from an
outbox, by the scheduler.
"""
from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass
from typing import Callable, Collection, Iterable
from urllib.parse import urlsplit

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from apflow.roles import role_for_lane

from .problems import Problem

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
REFUSED = "apflow:refused"  # stands in for an operation already reported as a problem, so reading can go on


@dataclass(frozen=True)
class Operation:
    name: str
    does: str
    required: tuple[str, ...]
    templates: tuple[str, ...] = ()   # parameters that are `{field}` templates over process data
    lists: tuple[str, ...] = ()       # parameters naming process-data fields
    result: bool = True               # may name a result variable


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("apflow:notify", "tell the people in a role, in the app", ("role", "message"), templates=("message",)),
    Operation("apflow:email", "send an e-mail to the people in a role", ("to", "subject", "body"), templates=("subject", "body")),
    Operation("apflow:record", "write a record the application knows, from process data", ("kind", "fields"), lists=("fields",)),
    Operation("apflow:webhook", "post process data to an allowlisted web address", ("url", "fields"), lists=("fields",),
              result=False),
)}
ALIASES = {
    "notify": "apflow:notify", "notify-role": "apflow:notify", "notification": "apflow:notify",
    "email": "apflow:email", "e-mail": "apflow:email", "send-email": "apflow:email", "send_email": "apflow:email",
    "sendemail": "apflow:email", "mail": "apflow:email",
    "record": "apflow:record", "write-record": "apflow:record", "write_record": "apflow:record",
    "webhook": "apflow:webhook", "call-webhook": "apflow:webhook", "call_webhook": "apflow:webhook",
}
OPERATION_LIST = "; ".join(f"{op.name} ({op.does}: {', '.join(op.required)})" for op in OPERATIONS.values())
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_TEXT = 10_000       # characters of one rendered message, subject or body
MAX_VALUE_TEXT = 1_000  # characters one field may put into a text


def canonical(name: str | None) -> str | None:
    """The operation an operator id, topic or type names (`notify`, `apflow:notify`, `Send-Email`...), or None."""
    key = (name or "").strip().lower()
    if key in OPERATIONS:
        return key
    return ALIASES.get(key.removeprefix("apflow:"))


@dataclass(frozen=True)
class ServiceSettings:
    """What an installation allows its service tasks (from APFLOW_ settings; see docs/operations.md)."""
    webhook_allowlist: tuple[str, ...] = ()    # URL prefixes a webhook may post to; empty: none
    email_allowlist: tuple[str, ...] = ()      # fixed addresses (or @domain) an e-mail may go to besides roles


def split_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def url_allowed(url: str, allowlist: Iterable[str]) -> bool:
    """Whether url starts with one of the allowlisted prefixes, at a boundary (so `https://a.example` does not let
    through `https://a.example.evil.test` or `https://a.example@evil.test`)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
        return False
    for prefix in allowlist:
        if prefix and url.startswith(prefix) and (prefix.endswith("/") or url[len(prefix):][:1] in {"", "/", "?", "#"}):
            return True
    return False


def address_allowed(address: str, allowlist: Iterable[str]) -> bool:
    address = address.strip().lower()
    for entry in (e.strip().lower() for e in allowlist):
        if entry and (address == entry or (entry.startswith("@") and address.endswith(entry))):
            return True
    return False


def template_fields(template: str) -> list[str]:
    """The process-data fields a template names, in order (`{{` and `}}` are plain braces)."""
    return [m.group(1).strip() for m in _TEMPLATE_FIELD.finditer(template.replace("{{", "").replace("}}", ""))]


def render(template: str, data: dict) -> str:
    """Fill `{field}` from process data: plain substitution, nothing is evaluated. A missing field gives nothing."""
    def value(match):
        found = data.get(match.group(1).strip())
        if found is None:
            return ""
        if isinstance(found, (list, tuple)):
            found = ", ".join(str(v) for v in found)
        return str(found)[:MAX_VALUE_TEXT]
    text = _TEMPLATE_FIELD.sub(value, template.replace("{{", "\0").replace("}}", "\1"))
    return text.replace("\0", "{").replace("\1", "}")[:MAX_TEXT]


# -- reading the three conventions --------------------------------------------------------------------------------

def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _name_of(node) -> str:
    return node.get("name") or node.get("id") or "service task"


def prepare(tree, filename: str) -> list[Problem]:
    """Give every service task a `spiffworkflow:serviceTaskOperator`, from its Camunda 7 or Camunda 8 form, in
    place on this parsed tree. Returns what cannot become one (Java code, connectors, no operation at all): those
    tasks get a stand-in operator so the rest of the file is still read and every problem reported at once."""
    problems: list[Problem] = []
    for task in tree.getroot().iter(_q(BPMN_NS, "serviceTask")):
        element, label = task.get("id"), f"'{_name_of(task)}'"
        extensions = task.find(_q(BPMN_NS, "extensionElements"))
        if extensions is not None and extensions.find(_q(SPIFF_NS, "serviceTaskOperator")) is not None:
            continue
        found, params, result, more = _camunda7(task, extensions, filename, element, label)
        if found is None:
            found, params, result, more = _zeebe(task, extensions, filename, element, label)
        problems += more
        if found is None and not more:
            problems.append(Problem(filename, element, f"The service task {label} names no operation, so apflow would not know what to do.",
                                    f"Name one of apflow's operations: {OPERATION_LIST}."))
        _write_operator(task, extensions, found if found is not None and not more else REFUSED, params, result)
    return problems


def _write_operator(task, extensions, operation: str, params: dict[str, str], result: str | None) -> None:
    if extensions is None:
        extensions = etree.Element(_q(BPMN_NS, "extensionElements"))
        task.insert(0 if not len(task) or task[0].tag != _q(BPMN_NS, "documentation") else 1, extensions)
    operator = etree.SubElement(extensions, _q(SPIFF_NS, "serviceTaskOperator"), nsmap={"spiffworkflow": SPIFF_NS})
    operator.set("id", operation)
    if result:
        operator.set("resultVariable", result)
    holder = etree.SubElement(operator, _q(SPIFF_NS, "parameters"))
    for name, source in params.items():
        etree.SubElement(holder, _q(SPIFF_NS, "parameter"), id=name, type="any", value=source)


_JAVA = {"class": "a Java class", "expression": "a Java expression", "delegateExpression": "a Java delegate"}
_EXTERNAL_FIX = ('Make it an external task (camunda:type="external") whose topic is one of apflow\'s operations, with its '
                 f"parameters as input parameters: {OPERATION_LIST}.")


def _camunda7(task, extensions, filename, element, label):
    problems: list[Problem] = []
    for attribute, what in _JAVA.items():
        if task.get(_q(CAMUNDA_NS, attribute)):
            problems.append(Problem(filename, element, f"The service task {label} runs {what} (camunda:{attribute}="
                                    f"\"{task.get(_q(CAMUNDA_NS, attribute))[:80]}\"), which apflow cannot run.", _EXTERNAL_FIX))
    if extensions is not None and extensions.find(_q(CAMUNDA_NS, "connector")) is not None:
        connector = extensions.find(_q(CAMUNDA_NS, "connector")).findtext(_q(CAMUNDA_NS, "connectorId")) or "a connector"
        problems.append(Problem(filename, element, f"The service task {label} uses the Camunda connector '{connector.strip()}', "
                                "which apflow cannot run.", _EXTERNAL_FIX))
    kind = task.get(_q(CAMUNDA_NS, "type"))
    if kind and kind != "external":
        problems.append(Problem(filename, element, f"The service task {label} has camunda:type=\"{kind[:40]}\", which apflow cannot run.",
                                _EXTERNAL_FIX))
    if problems:
        return REFUSED, {}, None, problems
    if kind != "external":
        return None, {}, None, []
    topic = (task.get(_q(CAMUNDA_NS, "topic")) or "").strip()
    params: dict[str, str] = {}
    holder = extensions.find(_q(CAMUNDA_NS, "inputOutput")) if extensions is not None else None
    for node in holder.iter(_q(CAMUNDA_NS, "inputParameter")) if holder is not None else ():
        name = (node.get("name") or "").strip()
        value, problem = _camunda_value(node)
        if problem:
            problems.append(Problem(filename, element, f"The input parameter '{name}' of service task {label} {problem}",
                                    "Give fixed text (use {field} in a message to put in process data) or a list of field names."))
        elif name:
            params[name] = value
    return topic, params, task.get(_q(CAMUNDA_NS, "resultVariable")), problems


def _camunda_value(node) -> tuple[str, str | None]:
    """(a Python literal, None) for a camunda:inputParameter, or ('', why it cannot be used)."""
    children = [c for c in node if isinstance(c.tag, str)]
    if not children:
        text = (node.text or "").strip()
        whole = re.fullmatch(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}", text)
        if whole:  # one field: a list of that field where fields are wanted, the template `{field}` elsewhere
            return repr("{" + whole.group(1) + "}"), None
        if re.search(r"[$#]\{", text) and not all(re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", e)
                                                    for e in re.findall(r"[$#]\{([^}]*)\}", text)):
            return "", "is an expression, which apflow does not evaluate."
        return repr(re.sub(r"[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}", r"{\1}", text)), None
    child = children[0]
    if child.tag == _q(CAMUNDA_NS, "list"):
        values = [(v.text or "").strip() for v in child if v.tag == _q(CAMUNDA_NS, "value")]
        return repr([v for v in values if v]), None
    return "", f"is a camunda:{etree.QName(child).localname}, which apflow does not read."


def _zeebe(task, extensions, filename, element, label):
    definition = extensions.find(_q(ZEEBE_NS, "taskDefinition")) if extensions is not None else None
    if definition is None:
        return None, {}, None, []
    problems: list[Problem] = []
    kind = (definition.get("type") or "").strip()
    if kind.startswith("="):
        problems.append(Problem(filename, element, f"The task type of service task {label} is an expression ({kind[:60]}); "
                                "apflow needs the operation's name.", f"Write one of: {', '.join(OPERATIONS)}."))
    params: dict[str, str] = {}
    mapping = extensions.find(_q(ZEEBE_NS, "ioMapping"))
    for node in mapping.iter(_q(ZEEBE_NS, "input")) if mapping is not None else ():
        target = (node.get("target") or "").strip()
        value, problem = _feel_value(node.get("source") or "")
        if problem:
            problems.append(Problem(filename, element, f"The input '{target}' of service task {label} {problem}",
                                    'Write quoted text (="Pupil " + pupil_name + " was placed" or ="Placed: {pupil_name}"), '
                                    'a list of quoted field names (=["pupil_ref", "status"]) or fixed text.'))
        elif target:
            params[target] = value
    result = None
    headers = extensions.find(_q(ZEEBE_NS, "taskHeaders"))
    for header in headers.iter(_q(ZEEBE_NS, "header")) if headers is not None else ():
        if header.get("key") == "resultVariable":
            result = header.get("value")
    return REFUSED if problems else kind, params, result, problems


_FEEL_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*))\s*')


def _feel_value(source: str) -> tuple[str, str | None]:
    """A zeebe:input source as a Python literal: fixed text, or a FEEL expression of quoted text and field names
    joined by `+` (the fields become `{field}` in a template), or a list of quoted texts."""
    if not source.startswith("="):
        return repr(source), None
    expression = source[1:].strip()
    if expression.startswith("[") and expression.endswith("]"):
        items = [i.strip() for i in expression[1:-1].split(",") if i.strip()]
        if all(re.fullmatch(r'"[^"\\]*"', i) for i in items):
            return repr([i[1:-1] for i in items]), None
        return "", "is a FEEL list of something other than quoted texts, which apflow does not evaluate."
    parts, position = [], 0
    while True:  # quoted text or a field name, then `+` and another, to the end
        match = _FEEL_TOKEN.match(expression, position)
        if match is None:
            return "", "is a FEEL expression apflow does not evaluate."
        quoted, name = match.groups()
        if quoted is not None:
            parts.append(quoted.replace('\\"', '"').replace("\\\\", "\\"))
        elif name in {"true", "false", "null"}:
            return "", "is a FEEL value other than text."
        else:
            parts.append("{" + name + "}")
        position = match.end()
        if position == len(expression):
            break
        if expression[position] != "+":
            return "", "is a FEEL expression apflow does not evaluate."
        position += 1
    return repr("".join(parts)), None


# -- validation ------------------------------------------------------------------------------------------------------

def is_service_task(task_spec) -> bool:
    return hasattr(task_spec, "operation_name") and hasattr(task_spec, "operation_params")


def _literal(source):
    try:
        return ast.literal_eval(str(source).strip()), True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, False


def field_list(value) -> list[str]:
    """A `fields` parameter: a list of names, or names separated by commas (a `{field}` is the field)."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return [str(i).strip().strip("{}").strip() for i in items if str(i).strip()]


def default_result(task_spec) -> str:
    return f'spiff__{task_spec.name.replace("-", "_")}_result'


def check(task_spec, filename: str, settings: ServiceSettings, record_kinds: Collection[str] = (),
          role_of: Callable[[str], str | None] = role_for_lane) -> list[Problem]:
    """Everything that would stop this service task at run time, in plain words. record_kinds: the kinds of record
    the application can write; role_of: a role's title or key -> its key (None: no such role)."""
    if not is_service_task(task_spec):
        return []
    element = task_spec.bpmn_id
    label = f"'{task_spec.bpmn_name or element}'"
    name = task_spec.operation_name
    if name == REFUSED:
        return []  # reported when the file was read
    operation = OPERATIONS.get(canonical(name) or "")
    if operation is None:
        return [Problem(filename, element, f"The service task {label} asks for the operation '{str(name)[:80]}', which apflow does not have.",
                        f"Use one of apflow's operations: {OPERATION_LIST}.")]
    problems: list[Problem] = []

    def problem(message, fix):
        problems.append(Problem(filename, element, f"The service task {label} ({operation.name}) {message}", fix))

    params = task_spec.operation_params or {}
    for extra in sorted(set(params) - set(operation.required)):
        problem(f"has the parameter '{extra}', which {operation.name} does not take.", f"Remove it; {operation.name} takes: "
                + ", ".join(operation.required) + ".")
    values = {}
    for wanted in operation.required:
        if wanted not in params:
            problem(f"has no parameter '{wanted}'.", f"Add the parameter '{wanted}'; {operation.name} takes: "
                    + ", ".join(operation.required) + ".")
            continue
        value, ok = _literal(params[wanted].get("value"))
        if not ok or not (isinstance(value, str) or (wanted in operation.lists and isinstance(value, (list, tuple))
                                                     and all(isinstance(v, str) for v in value))):
            problem(f"gives '{wanted}' as {str(params[wanted].get('value'))[:60]!r}, which is not fixed text.",
                    f"Write it as quoted text, e.g. '{'{pupil_name} was placed' if wanted in operation.templates else 'AP Coordinator'}'"
                    "; process data goes into messages as {field}, never as code.")
            continue
        values[wanted] = value
    for wanted in [w for w in values if w not in operation.templates and w not in operation.lists]:
        if _TEMPLATE_FIELD.search(values[wanted].replace("{{", "").replace("}}", "")):
            problem(f"takes '{wanted}' from process data ({values.pop(wanted)[:60]!r}); it must be fixed text written in the diagram, "
                    "so what the step does is known before it runs.", f"Write the {wanted} itself, e.g. "
                    + ("'AP Coordinator'." if wanted in ("role", "to") else "'referral'." if wanted == "kind" else "'https://...'."))
    for wanted in operation.templates:
        if wanted in values:
            for used in template_fields(values[wanted]):
                if not _NAME.match(used):
                    problem(f"has '{{{used}}}' in its {wanted}, which is not a field name.",
                            "Write {field_name} with the name of a process-data field (letters, digits and _), or {{ and }} for braces.")
    for wanted in operation.lists:
        if wanted in values:
            names = field_list(values[wanted])
            if not names:
                problem(f"names no fields in '{wanted}'.", "Name the process-data fields to send, separated by commas.")
            for used in names:
                if not _NAME.match(used):
                    problem(f"names '{used}' in '{wanted}', which is not a field name.", "Name process-data fields (letters, digits and _).")
    if "role" in values and role_of(values["role"]) is None:
        problem(f"names the role '{values['role']}', which is no role.", "Name a role by its title or key, e.g. 'AP Coordinator'.")
    if "to" in values:
        to = values["to"].strip()
        if "@" in to:
            if not address_allowed(to, settings.email_allowlist):
                problem(f"sends e-mail to the address '{to}', which is not on this installation's e-mail allowlist.",
                        "Send it to a role (e.g. 'AP Coordinator'), or ask the administrator to add the address to "
                        "APFLOW_EMAIL_ALLOWLIST.")
        elif role_of(to) is None:
            problem(f"sends e-mail to '{to}', which is no role.", "Name a role by its title or key, e.g. 'AP Coordinator'.")
    if "kind" in values and values["kind"] not in record_kinds:
        problem(f"asks to record '{values['kind']}', which apflow does not know.",
                f"Use one of: {', '.join(sorted(record_kinds)) or 'none on this installation'}.")
    if "url" in values and not url_allowed(values["url"].strip(), settings.webhook_allowlist):
        problem(f"posts to '{values['url'][:120]}', which is not on this installation's webhook allowlist.",
                "Ask the administrator to add the address's prefix to APFLOW_WEBHOOK_ALLOWLIST, or use an address on it"
                + (f": {', '.join(settings.webhook_allowlist)}." if settings.webhook_allowlist else " (it is empty: no webhooks are allowed)."))
    if not operation.result and task_spec.result_variable != default_result(task_spec):
        problem(f"names a result variable ('{task_spec.result_variable}'), but a webhook is posted later, after the step, "
                "so there is no result to keep.", "Remove the result variable.")
    return problems


def expressions(task_spec, element: str, label: str):
    """(element, what, names) for the process data a service task reads, as the restricted-field check wants them."""
    if not is_service_task(task_spec):
        return
    operation = OPERATIONS.get(canonical(task_spec.operation_name) or "")
    if operation is None:
        return
    for wanted in (*operation.templates, *operation.lists):
        value, ok = _literal((task_spec.operation_params or {}).get(wanted, {}).get("value"))
        if not ok:
            continue
        names = template_fields(value) if wanted in operation.templates and isinstance(value, str) else field_list(value)
        names = [n for n in names if _NAME.match(n)]
        if names:
            yield element, f"{wanted} of service task {label}", ", ".join(names)


# -- running -----------------------------------------------------------------------------------------------------------

EFFECTS = "_apflow_effects"


def effects_of(workflow) -> list[dict]:
    return list(getattr(workflow, EFFECTS, None) or [])


def reset_effects(workflow) -> None:
    setattr(workflow, EFFECTS, [])


def run(task, operation_name: str, operation_params: dict) -> str:
    """A service task reached: its operation, with texts rendered from process data, becomes an effect of the step
    (applied by the services in the step's transaction). Returns the JSON SpiffWorkflow keeps as its result."""
    operation = OPERATIONS.get(canonical(operation_name) or "")
    if operation is None:  # validation refuses this; a diagram deployed before the check still stops plainly
        raise WorkflowTaskException(f"the service task asks for the operation '{str(operation_name)[:80]}', which apflow does not have",
                                    task=task)
    values = {name: (param or {}).get("value") for name, param in (operation_params or {}).items()}
    data = task.data
    effect = {"operation": operation.name, "element": task.task_spec.bpmn_id,
              "name": task.task_spec.bpmn_name or task.task_spec.bpmn_id}
    if operation.name == "apflow:notify":
        effect.update(role=str(values["role"]).strip(), message=render(str(values["message"]), data))
    elif operation.name == "apflow:email":
        effect.update(to=str(values["to"]).strip(), subject=render(str(values["subject"]), data)[:300],
                      body=render(str(values["body"]), data))
    else:
        fields = {name: copy.deepcopy(data.get(name)) for name in field_list(values["fields"])}
        if operation.name == "apflow:record":
            effect.update(kind=str(values["kind"]).strip(), fields=fields)
        else:
            effect.update(url=str(values["url"]).strip(), payload=fields)
    top = task.workflow.top_workflow
    if getattr(top, EFFECTS, None) is None:
        reset_effects(top)
    getattr(top, EFFECTS).append(effect)
    if not operation.result or task.task_spec.result_variable == default_result(task.task_spec):
        return "null"  # nothing to keep (SpiffWorkflow still sets its default spiff__<id>_result)
    return json.dumps({"operation": operation.name, "status": "queued"})
