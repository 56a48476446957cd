"""Diagrams from other BPMN tools: who works a user task and which form it shows, read the way Camunda 7, Camunda 8
(Zeebe) and SpiffArena write them (docs/authoring.md, "Diagrams from other tools").

`prepare()` runs on the parsed XML tree before SpiffWorkflow reads it and turns the foreign conventions into
apflow's (the stored source keeps the author's XML):
- candidate groups (`camunda:candidateGroups`, `zeebe:assignmentDefinition candidateGroups`, or the
  `candidateGroups` property) name the task's role: the first group takes the place of the task's lane;
- an assignee or a single candidate user (`camunda:assignee`, `camunda:candidateUsers`, Zeebe's `assignee` and
  `candidateUsers`) names the person the task goes to, like `assignTo`; `${name}` or `=name` is the data field
  holding the username, exactly as `assignTo=name`; a start event's `camunda:initiator="name"` becomes the
  `initiator` property, and the services put the starter's username into that field when the instance starts;
- a form key (`camunda:formKey`, `camunda:formRef`, `zeebe:formDefinition`, an embedded `zeebe:userTaskForm`)
  names the task's form; Camunda Forms (form-js) files are converted by `apflow.engine.formjs`.
The raw values stay on the task as properties so `check_task()` can say at validation what could not be used, and
`find_forms()` looks the forms up next to the diagram, among the files given, and in the forms folder.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from lxml import etree

from apflow.roles import with_cover

from . import formjs
from .forms import MAX_FORM_BYTES, MAX_FORM_NESTING, SCHEMA_PROPERTY, UI_PROPERTY, _nesting, read_form_files
from .problems import WARNING, Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"

GROUPS_PROPERTY = "candidateGroups"
USERS_PROPERTY = "candidateUsers"
ASSIGNEE_PROPERTY = "assignee"      # a username: the task goes straight to that person (if they may hold it)
ASSIGN_TO_PROPERTY = "assignTo"     # as apflow.engine.runtime: the data field holding a username
INITIATOR_PROPERTY = "initiator"    # on a start event (camunda:initiator): the data field given the starter's username
FORM_SOURCE_PROPERTY = "formSource"  # where a form from another tool comes from (set by prepare, read by find_forms)
FORM_FILES = (".json", ".form")
NOT_FORMS = frozenset({"run.json", "process_model.json", "process_group.json"})  # metadata kept next to diagrams
MAX_NEARBY_FILES = 2000  # files looked at in a diagram's folder when looking for its forms

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPRESSION = re.compile(r"^\s*(?:[$#]\{\s*(?P<el>[^}]*?)\s*\}|=\s*(?P<feel>.*?))\s*$", re.DOTALL)
_FEEL_TEXT = re.compile(r'^\s*=\s*"[^"]*"\s*$')
_FEEL_LIST = re.compile(r'^\s*=\s*\[\s*("[^"]*"\s*(,\s*"[^"]*"\s*)*)?\]\s*$')


# -- reading the names a diagram gives ---------------------------------------------------------------------

@dataclass(frozen=True)
class Names:
    """A comma-separated list of groups or users as written: plain names, or one expression."""
    names: tuple[str, ...] = ()
    expression: str | None = None   # the whole text when it is an expression
    field: str | None = None        # the data field an expression names when it is only that (`${reviewer}`)


def read_names(text: str | None) -> Names:
    text = (text or "").strip()
    if not text:
        return Names()
    if _FEEL_LIST.match(text) or _FEEL_TEXT.match(text):  # Zeebe: =["a", "b"] or ="a", FEEL text written out
        return Names(tuple(n.strip() for n in re.findall(r'"([^"]*)"', text) if n.strip()))
    match = _EXPRESSION.match(text)
    if match is None and "${" not in text and "#{" not in text:
        return Names(tuple(part.strip() for part in text.split(",") if part.strip()))
    inner = ((match.group("el") if match.group("el") is not None else match.group("feel")) if match else "").strip()
    return Names(expression=text, field=inner if _NAME.match(inner) else None)


# -- the pre-pass ---------------------------------------------------------------------------------------

def prepare(tree, filename: str) -> None:
    """Rewrite the foreign assignment and form conventions of one parsed diagram into apflow's, in place."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    embedded = {node.get("id"): (node.text or "") for node in root.iter(f"{{{ZEEBE}}}userTaskForm") if node.get("id")}
    lane_ids = _Ids(root, "apflow_candidate_lane")
    _read_foreign_properties(root)
    for process in root.iter(f"{{{BPMN}}}process"):  # Camunda 7: who may start it; apflow reads that from the start's lane
        starters = process.get(f"{{{CAMUNDA}}}candidateStarterGroups")
        for start in (process.findall(f"{{{BPMN}}}startEvent") if starters and starters.strip() else ()):
            if GROUPS_PROPERTY not in _properties(start):
                _set_property(start, GROUPS_PROPERTY, starters.strip())
            if read_names(starters).names:
                _move_to_lane(start, read_names(starters).names[0], lane_ids)
    for task in list(root.iter(f"{{{BPMN}}}userTask", f"{{{BPMN}}}manualTask", f"{{{BPMN}}}startEvent")):
        properties = _properties(task)
        if task.tag != f"{{{BPMN}}}startEvent":
            _prepare_people(task, properties, lane_ids)
        elif (task.get(f"{{{CAMUNDA}}}initiator") or "").strip() and INITIATOR_PROPERTY not in properties:
            _set_property(task, INITIATOR_PROPERTY, task.get(f"{{{CAMUNDA}}}initiator").strip())
        _prepare_form(task, properties, filename, embedded)


def _read_foreign_properties(root) -> None:
    """Camunda 7's `<camunda:properties>` and Camunda 8's `<zeebe:properties>` on an element are its properties as
    apflow's own `spiffworkflow:properties` are (`dueIn`, `formless`, `alert`, ...); where both name one property,
    the spiffworkflow one counts. Properties of a Camunda 7 form field (inside camunda:formField) are the form's."""
    for holder in list(root.iter(f"{{{CAMUNDA}}}properties", f"{{{ZEEBE}}}properties")):
        extensions = holder.getparent()
        if extensions is None or extensions.tag != f"{{{BPMN}}}extensionElements" or extensions.getparent() is None:
            continue
        for node in holder:
            name = (node.get("name") or "").strip() if isinstance(node.tag, str) else ""
            if name:
                _set_property(extensions.getparent(), name, node.get("value", ""))


def _prepare_people(task, properties: dict[str, str], lane_ids: "_Ids") -> None:
    zeebe = task.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE}}}assignmentDefinition")
    foreign = {
        GROUPS_PROPERTY: task.get(f"{{{CAMUNDA}}}candidateGroups") or (zeebe.get("candidateGroups") if zeebe is not None else None),
        USERS_PROPERTY: task.get(f"{{{CAMUNDA}}}candidateUsers") or (zeebe.get("candidateUsers") if zeebe is not None else None),
        ASSIGNEE_PROPERTY: task.get(f"{{{CAMUNDA}}}assignee") or (zeebe.get("assignee") if zeebe is not None else None),
    }
    for key, value in foreign.items():
        if value and value.strip() and key not in properties:
            properties[key] = value.strip()
            _set_property(task, key, value.strip())
    groups = read_names(properties.get(GROUPS_PROPERTY))
    if groups.names:
        _move_to_lane(task, groups.names[0], lane_ids)
    if ASSIGN_TO_PROPERTY in properties:
        return
    person = read_names(properties.get(ASSIGNEE_PROPERTY))
    users = read_names(properties.get(USERS_PROPERTY))
    if not person.names and not person.expression:
        if len(users.names) == 1:
            _set_property(task, ASSIGNEE_PROPERTY, users.names[0])
        person = users
    if person.field:  # `${reviewer}` / `=reviewer`: the username is in process data, as assignTo=reviewer
        _set_property(task, ASSIGN_TO_PROPERTY, person.field)


def assignee_of(properties: dict) -> str | None:
    """The one person a task names by username (its `assignee`, or its only candidate user), or None."""
    person = read_names(properties.get(ASSIGNEE_PROPERTY))
    return person.names[0] if len(person.names) == 1 else None


def _prepare_form(task, properties: dict[str, str], filename: str, embedded: dict[str, str]) -> None:
    own = properties.get(SCHEMA_PROPERTY)
    if own and not own.endswith(".form"):
        return  # apflow's (and SpiffArena's) own form properties
    source = _form_source(task, own, embedded)
    if source is None:
        return
    if source.startswith("json:"):  # a form key naming apflow's own JSON Schema file
        _set_property(task, SCHEMA_PROPERTY, source.removeprefix("json:"))
        return
    _set_property(task, FORM_SOURCE_PROPERTY, source)
    if source.startswith("refused:"):  # check_task refuses it; "formless" keeps a second "has no form" message away
        _set_property(task, "formless", "true")
        return
    base = _derived_base(source, filename)
    if own:
        _replace_property(task, SCHEMA_PROPERTY, f"{base}.schema.json")
    else:
        _set_property(task, SCHEMA_PROPERTY, f"{base}.schema.json")
    if not properties.get(UI_PROPERTY):
        _set_property(task, UI_PROPERTY, f"{base}.uischema.json")


def _form_source(task, own: str | None, embedded: dict[str, str]) -> str | None:
    """Where the task's form comes from: 'file:NAME', 'id:FORM_ID', 'embedded:ID\\n<json>', 'json:NAME' (apflow's
    own JSON Schema named by a form key), or 'refused:<why>'."""
    if own:
        return f"file:{own}"
    zeebe = task.find(f"{{{BPMN}}}extensionElements/{{{ZEEBE}}}formDefinition")
    key = task.get(f"{{{CAMUNDA}}}formKey") or (zeebe.get("formKey") if zeebe is not None else None)
    form_id = task.get(f"{{{CAMUNDA}}}formRef") or (zeebe.get("formId") if zeebe is not None else None)
    external = zeebe.get("externalReference") if zeebe is not None else None
    if form_id and form_id.strip():
        if read_names(form_id).expression:
            return f"refused:expression:{form_id.strip()}"
        return f"id:{form_id.strip()}"
    if external:
        return f"refused:external:{external.strip()}"
    if not key or not key.strip():
        form_data = task.find(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}formData")
        return f"formdata:{task.get('id')}\n{json.dumps(_form_data(form_data))}" if form_data is not None else None
    key = key.strip()
    if read_names(key).expression:
        return f"refused:expression:{key}"
    if key.startswith("camunda-forms:bpmn:"):
        form = key.removeprefix("camunda-forms:bpmn:")
        if form not in embedded:
            return f"refused:missing-embedded:{form}"
        return f"embedded:{form}\n{embedded[form]}"
    for prefix in ("camunda-forms:deployment:", "camunda-forms:app:"):
        if key.startswith(prefix):
            return f"file:{PurePosixPath(key.removeprefix(prefix)).name}"
    if key.startswith("embedded:") or key.startswith("app:") or key.startswith("deployment:") or key.lower().endswith((".html", ".htm")):
        return f"refused:html:{key}"
    if "://" in key:
        return f"refused:external:{key}"
    name = PurePosixPath(key).name
    if name.endswith(".json"):
        return f"json:{name}"
    return f"file:{name if name.endswith('.form') else name + '.form'}"


def _form_data(node) -> list[dict]:
    """Camunda 7's generated form fields, as formjs.from_camunda_form_data reads them."""
    fields = []
    for field_ in node.findall(f"{{{CAMUNDA}}}formField"):
        fields.append({"id": field_.get("id"), "label": field_.get("label"), "type": field_.get("type"),
                       "defaultValue": field_.get("defaultValue"),
                       "constraints": [(c.get("name"), c.get("config")) for c in field_.iter(f"{{{CAMUNDA}}}constraint")],
                       "values": [(v.get("id"), v.get("name")) for v in field_.findall(f"{{{CAMUNDA}}}value")]})
    return fields


def _derived_base(source: str, filename: str) -> str:
    kind, _, rest = source.partition(":")
    if kind in ("embedded", "formdata"):
        return f"{PurePosixPath(filename).stem}.{rest.partition(chr(10))[0]}.form"
    if kind == "id":
        return f"{rest}.form"
    return rest


class _Ids:
    def __init__(self, root, stem: str):
        self.taken = {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}
        self.stem = stem

    def new(self) -> str:
        n = 1
        while f"{self.stem}_{n}" in self.taken:
            n += 1
        self.taken.add(f"{self.stem}_{n}")
        return f"{self.stem}_{n}"


_BEFORE_LANES = frozenset({"documentation", "extensionElements", "auditing", "monitoring", "property", "supportedInterfaceRef",
                           "ioSpecification", "ioBinding", "laneSet"})


def _move_to_lane(task, group: str, ids: _Ids) -> None:
    """Put the task in a lane named after its candidate group (in the tree SpiffWorkflow reads, not the stored file)."""
    process = next((a for a in task.iterancestors() if a.tag == f"{{{BPMN}}}process"), None)
    if process is None:
        return
    task_id = task.get("id")
    for ref in process.iter(f"{{{BPMN}}}flowNodeRef"):
        if (ref.text or "").strip() == task_id:
            if (ref.getparent().get("name") or "").strip() == group:
                return
            ref.getparent().remove(ref)
    lane_set = process.find(f"{{{BPMN}}}laneSet")
    if lane_set is None:
        lane_set = etree.Element(f"{{{BPMN}}}laneSet", id=ids.new())
        position = 0
        for i, child in enumerate(process):
            if isinstance(child.tag, str) and etree.QName(child).localname in _BEFORE_LANES:
                position = i + 1
        process.insert(position, lane_set)
    lane = next((lane for lane in lane_set.findall(f"{{{BPMN}}}lane") if lane.get("name") == group
                 and lane.get("id", "").startswith(ids.stem)), None)
    if lane is None:
        lane = etree.SubElement(lane_set, f"{{{BPMN}}}lane", id=ids.new(), name=group)
    position = 0
    for i, child in enumerate(lane):
        if isinstance(child.tag, str) and etree.QName(child).localname in ("partitionElementRef", "partitionElement", "flowNodeRef"):
            position = i + 1
    ref = etree.Element(f"{{{BPMN}}}flowNodeRef")
    ref.text = task_id
    lane.insert(position, ref)


def _extension_elements(task):
    found = task.find(f"{{{BPMN}}}extensionElements")
    if found is None:
        found = etree.Element(f"{{{BPMN}}}extensionElements")
        position = sum(1 for child in task if child.tag == f"{{{BPMN}}}documentation")
        task.insert(position, found)
    return found


def _properties(task) -> dict[str, str]:
    return {node.get("name"): node.get("value", "") for node in task.findall(
        f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property") if node.get("name")}


def _set_property(task, name: str, value: str) -> None:
    extensions = _extension_elements(task)
    holder = extensions.find(f"{{{SPIFF}}}properties")
    if holder is None:
        holder = etree.SubElement(extensions, f"{{{SPIFF}}}properties")
    if any(node.get("name") == name for node in holder.findall(f"{{{SPIFF}}}property")):
        return
    etree.SubElement(holder, f"{{{SPIFF}}}property", name=name, value=value)


def _replace_property(task, name: str, value: str) -> None:
    for node in task.findall(f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property"):
        if node.get("name") == name:
            node.set("value", value)


# -- checking what was read ------------------------------------------------------------------------------

def _task_properties(task_spec) -> dict:
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})


def has_candidate_groups(task_spec) -> bool:
    """Whether the task's role comes from candidate groups (then they, not its lane, say who works it)."""
    return bool(read_names(_task_properties(task_spec).get(GROUPS_PROPERTY)).names or
                read_names(_task_properties(task_spec).get(GROUPS_PROPERTY)).expression)


def check_task(task_spec, filename: str, resolve: Callable[[str], str | None], roles_listed: str) -> list[Problem]:
    """What apflow could not use of the task's candidate groups, candidate users, assignee and foreign form."""
    element = getattr(task_spec, "bpmn_id", None)
    if element is None:
        return []
    label = f"'{task_spec.bpmn_name or element}'"
    properties = _task_properties(task_spec)
    problems: list[Problem] = []
    define = "Define the role on the Roles page (or with `apflow roles add`)"
    groups = read_names(properties.get(GROUPS_PROPERTY))
    if groups.expression:
        problems.append(Problem(filename, element, f"The candidate groups of {label} are an expression ({groups.expression[:120]}); "
                                "apflow must know when the diagram is deployed which role works a task.",
                                f"Name a role instead, e.g. candidateGroups=\"AP Coordinator\". The roles are: {roles_listed}."))
    elif groups.names:
        first, rest = groups.names[0], groups.names[1:]
        if resolve(first) is None:
            problems.append(Problem(filename, element, f"The candidate group '{first}' of {label} names no role, so nobody would "
                                    "see the task.", f"{define}, or name one of: {roles_listed}."))
        first_role = resolve(first)
        rest = tuple(r for r in rest if not (first_role and first_role in with_cover({resolve(r) or ""})))  # a deputy DSL sees the DSL's
        if rest:
            problems.append(Problem(filename, element, f"{label} names several candidate groups ({', '.join(groups.names)}); an apflow "
                                    f"task belongs to one role, so '{first}' works it and {', '.join(repr(r) for r in rest)} "
                                    "do not see it.", "Name one group, or give each group its own task.", WARNING))
    person = read_names(properties.get(ASSIGNEE_PROPERTY))
    users = read_names(properties.get(USERS_PROPERTY))
    for what, names in (("assignee", person), ("candidate users", users)):
        if names.expression and not names.field:
            problems.append(Problem(filename, element, f"The {what} of {label} is an expression ({names.expression[:120]}) that apflow "
                                    "cannot evaluate.", "Name a person by username, or a data field holding one, "
                                    "written ${field} (Camunda 7) or =field (Camunda 8)."))
    if len(person.names) > 1:
        problems.append(Problem(filename, element, f"The assignee of {label} names several people ({', '.join(person.names)}).",
                                "Name one person, or use candidateUsers.", WARNING))
    if len(users.names) > 1 and not (person.names or person.field or properties.get(ASSIGN_TO_PROPERTY)):
        problems.append(Problem(filename, element, f"{label} names several candidate users ({', '.join(users.names)}); apflow gives a "
                                "task to one person or to everyone in its role, so it waits for its role "
                                f"('{task_spec.lane or 'no lane'}').", "Name one person, or a role in candidateGroups.", WARNING))
    source = properties.get(FORM_SOURCE_PROPERTY, "")
    if source.startswith("refused:"):
        problems.append(_refused_form(filename, element, label, source.removeprefix("refused:")))
    return problems


def _refused_form(filename: str, element: str, label: str, reason: str) -> Problem:
    kind, _, value = reason.partition(":")
    if kind == "html":
        return Problem(filename, element, f"The form of {label} is an HTML form ({value[:120]}), which apflow cannot run: it could "
                       "hold any script.", "Rebuild the form in the Camunda Form editor (a .form file next to the diagram, "
                       "named with camunda:formKey=\"camunda-forms:deployment:NAME.form\") or as a JSON Schema form.")
    if kind == "external":
        return Problem(filename, element, f"The form of {label} is on another web site ({value[:120]}), which apflow does not show.",
                       "Use a Camunda Forms (.form) file next to the diagram, or a JSON Schema form.")
    if kind == "missing-embedded":
        return Problem(filename, element, f"The form key of {label} names the embedded form '{value}', which the diagram does not "
                       "hold.", "Add a zeebe:userTaskForm with that id to the process, or link a .form file with formId.")
    return Problem(filename, element, f"The form of {label} is named by an expression ({value[:120]}); apflow must know each task's "
                   "form when the diagram is deployed.", "Name the form file or form id itself.")


# -- finding forms ---------------------------------------------------------------------------------------

Places = dict[str, dict[str, bytes]]  # form file name -> {where it was found: its bytes}


def add_place(places: Places, name: str, where: str, data: bytes) -> None:
    places.setdefault(name, {})[where] = data


def forms_near(paths: list[Path]) -> Places:
    """Form files (.json, .form) named on the command line, inside folders given, and in the folder (and sub-folders)
    of each diagram file given: where SpiffArena and Camunda keep a diagram's forms."""
    places: Places = {}
    folders: list[Path] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix in FORM_FILES:
            add_place(places, path.name, str(path.resolve()), path.read_bytes())
        elif path.is_dir():
            folders.append(path)
        elif path.is_file() and path.suffix == ".bpmn":
            folders.append(path.parent)
    for folder in dict.fromkeys(p.resolve() for p in folders):
        for file in _files_under(folder):
            if file.suffix in FORM_FILES and file.name not in NOT_FORMS and file.stat().st_size <= MAX_FORM_BYTES:
                add_place(places, file.name, str(file), file.read_bytes())
    return places


def _files_under(folder: Path) -> list[Path]:
    """The files in a folder and its sub-folders, the first MAX_NEARBY_FILES met (a diagram may sit in a big folder)."""
    found: list[Path] = []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f != "node_modules")
        found += [Path(parent) / name for name in sorted(files)]
        if len(found) >= MAX_NEARBY_FILES:
            return found[:MAX_NEARBY_FILES]
    return found


@dataclass
class _Request:
    source: str
    schema_name: str
    ui_name: str | None
    filename: str
    element: str


def _requests(bundles) -> dict[str, _Request]:
    """Forms from other tools the tasks name, by the schema and UI file names prepare() gave them."""
    found: dict[str, _Request] = {}
    for filename, bundle in bundles:
        for task_spec in bundle.task_specs():
            properties = _task_properties(task_spec)
            source = properties.get(FORM_SOURCE_PROPERTY, "")
            if not source or source.startswith("refused:") or not properties.get(SCHEMA_PROPERTY):
                continue
            request = _Request(source, properties[SCHEMA_PROPERTY], properties.get(UI_PROPERTY), filename, task_spec.bpmn_id)
            found.setdefault(request.schema_name, request)
            if request.ui_name:
                found.setdefault(request.ui_name, request)
    return found


def find_forms(wanted: dict[str, tuple[str, bool]], bundles, forms_dir: Path, places: Places | None,
               skip: set[str], stored: dict[str, bytes] | None = None) -> tuple[dict[str, bytes], list[Problem]]:
    """The bytes of each form the diagrams name (wanted: name -> (element, is UI schema)), other than those in skip:
    from the files given or found next to the diagram first, then the forms folder; forms from other tools
    converted to apflow's. Problems: missing files, one name found in two places with different contents, and the
    conversion report of each Camunda form (warnings). stored: the forms of the deployed version being edited in the
    browser, where a converted Camunda form whose file is not at hand is found."""
    places = places or {}
    requests = _requests(bundles)
    element_files = {getattr(task_spec, "bpmn_id", None): filename for filename, bundle in bundles for task_spec in bundle.task_specs()}
    found: dict[str, bytes] = {}
    problems: list[Problem] = []
    plain = set()
    for name in sorted(set(wanted) - skip):
        if name in requests:
            continue
        data, trouble = _one_place(name, places)
        problems += trouble
        if data is not None:
            found[name] = data
        elif not trouble:
            plain.add(name)
    from_dir, missing = read_form_files(forms_dir, plain)
    found.update(from_dir)
    problems += missing
    for name, data in list(found.items()):
        if not wanted[name][1]:
            converted = _converted_if_formjs(data)
            if converted is not None:
                found[name] = _dump(converted.schema)
                element = wanted[name][0]
                problems += _report(converted, name, element_files.get(element, name), element, own_property=True)
    done: set[str] = set()
    for name in sorted(set(wanted) - skip):
        request = requests.get(name)
        if request is None or request.schema_name in done:
            continue
        done.add(request.schema_name)
        schema, ui, trouble = _from_request(request, forms_dir, places)
        if trouble and not request.source.startswith(("embedded:", "formdata:")) and request.schema_name in (stored or {}):
            schema, ui, trouble = stored[request.schema_name], (stored or {}).get(request.ui_name or "", b"{}"), []
        problems += trouble
        if schema is not None:
            found[request.schema_name] = schema
            if request.ui_name and request.ui_name not in skip:
                found[request.ui_name] = ui or b"{}"
    return found, problems


def _one_place(name: str, places: Places) -> tuple[bytes | None, list[Problem]]:
    copies = places.get(name) or {}
    contents = set(copies.values())
    if len(contents) > 1:
        where = ", ".join(sorted(copies))
        return None, [Problem(name, None, f"Two different form files are named {name}: {where}; apflow will not guess which one the "
                              "diagram means.", "Remove or rename one of them, or give only the one you mean.")]
    if contents:
        return next(iter(contents)), []
    return None, []


def _converted_if_formjs(data: bytes):
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # check_form_source says what is wrong with it
    return formjs.convert(document) if formjs.is_formjs(document) and _nesting(document) <= MAX_FORM_NESTING else None


def _dump(document: dict) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def _report(converted, name: str, diagram: str, element: str | None, own_property: bool = False) -> list[Problem]:
    """The conversion report as warnings on the task (in the diagram's file, so deploy shows them with its process)."""
    problems = [Problem(diagram, element, f"Converting the Camunda form {name}: {what}", fix, WARNING) for what, fix in converted.report]
    hints = {k: v for k, v in converted.ui.items() if k != "ui:order"}
    if own_property and hints:
        problems.append(Problem(diagram, element, f"The Camunda form {name} is named with formJsonSchemaFilename, so its option labels and "
                                "widgets (radio buttons, text areas) are not used.", "Name it with camunda:formKey="
                                f"\"camunda-forms:deployment:{name}\" (or rename it to .form) to keep them.", WARNING))
    return problems


def _from_request(request: _Request, forms_dir: Path, places: Places) -> tuple[bytes | None, bytes | None, list[Problem]]:
    kind, _, rest = request.source.partition(":")
    where = request.filename
    if kind == "formdata":  # Camunda 7's generated form, written in the diagram
        task_id, _, text = rest.partition("\n")
        converted = formjs.from_camunda_form_data(json.loads(text))
        return _dump(converted.schema), _dump(converted.ui), _report(converted, f"of {task_id} (camunda:formData)", where, request.element)
    if kind == "embedded":
        form_id, _, text = rest.partition("\n")
        name, data = f"{where} (form {form_id})", text.encode("utf-8")
    elif kind == "id":
        name, data, trouble = _by_form_id(rest, forms_dir, places)
        if trouble:
            return None, None, [Problem(where, request.element, trouble[0], trouble[1])]
    else:
        name = rest
        data, trouble = _one_place(rest, places)
        if trouble:
            return None, None, trouble
        if data is None:
            from_dir, missing = _read_form_file(forms_dir, rest)
            if missing:
                return None, None, [Problem(where, request.element, f"The form '{rest}' of this task is not next to the diagram, among "
                                            "the files given, or in the forms folder.", f"Put {rest} next to the diagram (or in the "
                                            "forms folder), or give it on the command line or with the upload.")]
            data = from_dir[rest]
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        return None, None, [Problem(name, request.element, f"The form is not valid JSON: {err}.", "Re-save it from the form editor.")]
    if _nesting(document) > MAX_FORM_NESTING:
        return None, None, [Problem(name, request.element, f"The form nests its parts more than {MAX_FORM_NESTING} levels deep.",
                                    "Flatten the form.")]
    if formjs.is_formjs(document):
        converted = formjs.convert(document)
        return _dump(converted.schema), _dump(converted.ui), _report(converted, name, request.filename, request.element)
    if isinstance(document, dict) and isinstance(document.get("properties"), dict):
        return data, b"{}", []  # apflow's own JSON Schema, named with a form key
    return None, None, [Problem(name, request.element, "The form is neither a Camunda form (with \"components\") nor a JSON Schema "
                                "form (with \"properties\").", "Re-save it from the Camunda Form editor, or write it as a JSON Schema.")]


def _read_form_file(forms_dir: Path, name: str) -> tuple[dict[str, bytes], list[Problem]]:
    root = forms_dir.resolve()
    path = (root / name).resolve()
    if root in path.parents and path.is_file() and path.stat().st_size <= MAX_FORM_BYTES:
        return {name: path.read_bytes()}, []
    return {}, [Problem(name, None, "missing", "")]


def _by_form_id(form_id: str, forms_dir: Path, places: Places) -> tuple[str, bytes | None, tuple[str, str] | None]:
    """The Camunda form whose "id" is form_id, among the files given or next to the diagram, then in the forms folder."""
    matches: dict[bytes, str] = {}
    for name, copies in places.items():
        for where, data in copies.items():
            if _form_id(data) == form_id:
                matches.setdefault(data, where)
    if not matches and forms_dir.is_dir():
        for path in sorted(forms_dir.glob("*.form"))[:MAX_NEARBY_FILES]:
            data = path.read_bytes() if path.stat().st_size <= MAX_FORM_BYTES else b""
            if _form_id(data) == form_id:
                matches.setdefault(data, str(path))
    if len(matches) > 1:
        return form_id, None, (f"Two different Camunda forms have the id '{form_id}': {', '.join(sorted(matches.values()))}; apflow will "
                               "not guess which one the task means.", "Remove one of them, or give one a different id.")
    if not matches:
        return form_id, None, (f"No Camunda form with the id '{form_id}' is next to the diagram, among the files given, or in the "
                               "forms folder.", f"Put the .form file whose \"id\" is \"{form_id}\" next to the diagram, or upload it with it.")
    data, where = next(iter(matches.items()))
    return PurePosixPath(where).name, data, None


def _form_id(data: bytes) -> str | None:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return document.get("id") if formjs.is_formjs(document) else None
