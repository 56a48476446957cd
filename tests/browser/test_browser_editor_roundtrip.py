"""The browser editor keeps what it does not understand (issue 17, point 5).

Every diagram of the interop corpus (tests/interop/corpus/*/) and the dense fixtures in tests/interop/roundtrip/
(one SpiffArena diagram with every spiffworkflow extension, one Camunda 7 and one Camunda 8 diagram with their
extensions) is opened in the editor page and saved with its "Save draft" button, the PUT .../draft the page uses.
The saved draft is then compared with the file: every element and attribute outside the layout (BPMN DI)
namespaces, BPMN's own and every extension's, is still there with the same value and the same text, and nothing
was added. Namespace prefixes, attribute order and formatting may differ; an attribute that was written with its
default value (cancelActivity="true") may be left out, as bpmn-js does.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from apflow.config import ROOT
from apflow.engine.compare import BPMN, BPMNDI, DC, DI
from apflow.errors import NotFound
from apflow.services import drafts, users
from tests.browser.conftest import served
from tests.support import PASSWORD, sign_in

INTEROP = ROOT / "tests" / "interop"
DIAGRAMS = sorted(INTEROP.glob("corpus/*/*.bpmn")) + sorted(INTEROP.glob("roundtrip/*.bpmn"))
LAYOUT = {BPMNDI, DC, DI}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
FRONTEND = ROOT / "apflow" / "web" / "frontend" / "node_modules"
DESCRIPTORS = [FRONTEND / "bpmn-moddle" / "resources" / "bpmn" / "json" / "bpmn.json",
               FRONTEND / "camunda-bpmn-moddle" / "resources" / "camunda.json",
               FRONTEND / "zeebe-bpmn-moddle" / "resources" / "zeebe.json",
               ROOT / "apflow" / "web" / "static" / "spiffworkflow.json"]


@cache
def _defaults() -> dict[tuple[str, str], set[str]]:
    """(namespace, attribute) -> the values the descriptors give as default: writing one or leaving it out is the same."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in DESCRIPTORS:
        package = json.loads(path.read_text("utf-8"))
        for kind in package.get("types", []):
            for prop in kind.get("properties", []):
                if prop.get("isAttr") and "default" in prop:
                    found.setdefault((package["uri"], prop["name"].split(":")[-1]), set()).add(str(prop["default"]).lower())
    return found


def _facts(data: bytes) -> tuple[Counter, dict]:
    """Every element, attribute and text outside the layout namespaces, each keyed by its path from the root.

    A path step is the element's name and its id (or name, or key) and its count among like siblings, so a
    reordering of children that BPMN gives no meaning to is no difference, and a lost or changed one is.
    """
    root = etree.fromstring(data)
    found: Counter = Counter()
    owners: dict = {}

    def record(node, here):
        found["element", here] += 1
        for name, value in node.attrib.items():
            if name == XSI_TYPE and ":" in value:  # a QName: compare the namespace, not the prefix
                prefix, local = value.split(":", 1)
                value = f"{{{node.nsmap.get(prefix, prefix)}}}{local}"
            found["attribute", here, name, value] += 1
            owners[here, name] = etree.QName(name).namespace or etree.QName(node).namespace
        if node.text and node.text.strip():
            found["text", here, node.text.strip()] += 1

    def walk(node, path):
        seen: Counter = Counter()
        for child in node:
            if not isinstance(child.tag, str) or etree.QName(child).namespace in LAYOUT:
                continue
            key = child.get("id") or child.get("name") or child.get("key") or ""
            seen[child.tag, key] += 1
            here = (*path, f"{child.tag}[{key}#{seen[child.tag, key]}]")
            record(child, here)
            walk(child, here)

    record(root, (root.tag,))
    walk(root, (root.tag,))
    return found, owners


def _short(fact) -> str:
    text = repr(fact)
    for uri, prefix in ((BPMN, "bpmn"), ("http://spiffworkflow.org/bpmn/schema/1.0/core", "spiffworkflow"),
                        ("http://camunda.org/schema/1.0/bpmn", "camunda"), ("http://camunda.org/schema/zeebe/1.0", "zeebe")):
        text = text.replace(f"{{{uri}}}", f"{prefix}:")
    return text


def semantic_differences(before: bytes, after: bytes) -> dict[str, list[str]]:
    """What `after` lost of `before` (or holds with another value), and what it added: empty lists when they agree."""
    old, owners = _facts(before)
    new, _ = _facts(after)
    written = {(fact[1], fact[2]) for fact in new if fact[0] == "attribute"}
    lost = []
    for fact in (old - new):
        if fact[0] == "attribute" and (fact[1], fact[2]) not in written:
            namespace = owners[fact[1], fact[2]]
            if fact[3].lower() in _defaults().get((namespace, etree.QName(fact[2]).localname), set()):
                continue  # left out because it is the default
        lost.append(_short(fact))
    return {"lost": sorted(lost), "added": sorted(_short(fact) for fact in (new - old))}


def _as_text(data: bytes) -> str:
    """The diagram as the text a draft holds (UTF-8): any other declared encoding is transcoded, nothing else changes."""
    tree = etree.fromstring(data).getroottree()
    if (tree.docinfo.encoding or "UTF-8").upper() in ("UTF-8", "UTF8"):
        return data.decode("utf-8")
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=True).decode("utf-8")


def _process_id(data: bytes) -> str:
    processes = etree.fromstring(data).findall(f"{{{BPMN}}}process")
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    return (executable or processes)[0].get("id")


@pytest.fixture(scope="module")
def editor(chromium, tmp_path_factory, sqlite_template):
    """One server and one manager's page for every diagram: a draft is saved for each in turn."""
    from apflow.config import Settings
    from apflow.services.core import Core

    folder = tmp_path_factory.mktemp("editor-roundtrip")
    shutil.copy(sqlite_template, folder / "db.sqlite3")
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{folder / 'db.sqlite3'}", instance_dir=folder,
                                  run_scheduler=False, secret_key="browser"))
    with core.db.session() as s:
        manager = users.add_user(s, "sam", PASSWORD, ["manager", "coordinator"], display_name="Sam Carter")
    with served(core) as base:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.errors = []  # script errors on the page, checked after each diagram
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        sign_in(page, base, "sam")
        page.wait_for_url(lambda url: "/login" not in url)
        yield base, core, page, manager
        page.close()
    core.db.dispose()


def test_issue17_there_are_diagrams_from_every_tool_to_round_trip():
    names = {path.name for path in DIAGRAMS}
    assert {"spiffarena_every_extension.bpmn", "camunda7_every_extension.bpmn", "camunda8_every_extension.bpmn"} <= names
    assert any(path.parent.parent.name == "corpus" for path in DIAGRAMS)


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_issue17_editor_keeps_every_element_and_attribute_through_open_and_save(editor, path: Path):
    base, core, page, manager = editor
    original = path.read_bytes()
    process_id = _process_id(original)
    try:
        revision = drafts.get_draft(core, manager, process_id)["revision"]
    except NotFound:
        revision = 0
    drafts.save_draft(core, manager, process_id, _as_text(original), revision, note="As the other tool wrote it",
                      new_file=path.name)
    page.errors.clear()

    page.goto(f"{base}/processes/{process_id}/edit")
    page.wait_for_selector("#modeler-page[data-loaded='true']")
    warnings = page.evaluate("() => (window.apflowEditor.importWarnings || []).map(w => w.message)")
    with page.expect_response(lambda r: r.url.endswith(f"/processes/{process_id}/draft") and r.request.method == "PUT") as saving:
        page.get_by_role("button", name="Save draft").click()
    assert saving.value.status == 200, saving.value.text()
    saved = drafts.get_draft(core, manager, process_id)
    assert saved["revision"] == revision + 2  # ours, then the editor's

    differences = semantic_differences(original, saved["xml"].encode("utf-8"))
    assert differences == {"lost": [], "added": []}, (path.name, warnings, differences)
    assert warnings == [], (path.name, warnings)
    assert page.locator("#import-warnings").is_hidden()
    assert page.errors == [], (path.name, page.errors)


def test_issue17_side_panel_edits_a_spiffarena_diagram_and_keeps_everything_else(editor):
    from tests.browser.test_browser_modeler import click_element

    base, core, page, manager = editor
    path = INTEROP / "roundtrip" / "spiffarena_every_extension.bpmn"
    original = path.read_bytes()
    process_id = _process_id(original)
    try:
        revision = drafts.get_draft(core, manager, process_id)["revision"]
    except NotFound:
        revision = 0
    drafts.save_draft(core, manager, process_id, _as_text(original), revision, note="As SpiffArena wrote it", new_file=path.name)
    page.goto(f"{base}/processes/{process_id}/edit")
    page.wait_for_selector("#modeler-page[data-loaded='true']")

    click_element(page, "Task_fill")
    assert page.get_by_label("Form", exact=True).input_value() == "request-schema.json"  # read through our descriptor
    due = page.get_by_label("Due in (dueIn)")
    due.fill("P5D")
    due.press("Tab")
    with page.expect_response(lambda r: r.url.endswith(f"/processes/{process_id}/draft") and r.request.method == "PUT") as saving:
        page.get_by_role("button", name="Save draft").click()
    assert saving.value.status == 200, saving.value.text()

    differences = semantic_differences(original, drafts.get_draft(core, manager, process_id)["xml"].encode("utf-8"))
    assert differences["lost"] == []
    assert len(differences["added"]) == 3 and all("dueIn" in fact for fact in differences["added"]), differences["added"]
    assert any("'value', 'P5D'" in fact for fact in differences["added"])
