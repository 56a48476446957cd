"""The diagram editor in a real browser (Debian's headless Chromium, bpmn-js served by the app).

A manager changes a timer and a lane, saves, meets a validation error for a bad condition, fixes
it, deploys, and new placements follow the new version while older ones keep theirs. Every diagram
in bpmn/ survives an import-edit-save round trip through bpmn-js with nothing lost. Saves the
editor screenshot docs/screenshots/modeler.png.
"""
from datetime import timedelta

from lxml import etree
from sqlalchemy import select

from apflow.config import ROOT
from apflow.engine.compare import BPMNDI, DC, DI, SPIFF, compare
from apflow.services import instances
from apflow.store.models import PendingTimer
from tests.support import SHOTS, sign_in

BPMN_FILES = sorted((ROOT / "bpmn").glob("*.bpmn"))


def open_editor(page, base, process_id="referral_triage"):
    page.goto(f"{base}/processes/{process_id}/edit")
    page.wait_for_selector("#modeler-page[data-loaded='true']")


CONNECTION_MIDDLE = """id => {
    const modeler = window.apflowEditor.modeler;
    const element = modeler.get('elementRegistry').get(id);
    if (!element.waypoints) { return null; }
    const [a, b] = element.waypoints;
    const box = modeler.get('canvas').viewbox();
    const rect = modeler.get('canvas').getContainer().getBoundingClientRect();
    return [rect.left + ((a.x + b.x) / 2 - box.x) * box.scale, rect.top + ((a.y + b.y) / 2 - box.y) * box.scale];
}"""


def click_element(page, element_id):
    point = page.evaluate(CONNECTION_MIDDLE, element_id)
    if point:  # a straight connection's box has no height, so Playwright never sees it as visible: click on the line
        page.mouse.click(point[0], point[1])
    else:
        page.locator(f"g.djs-element[data-element-id='{element_id}']").first.click()
    page.wait_for_function("id => { const s = window.apflowEditor.modeler.get('selection').get();"
                           " return s.length === 1 && (s[0].labelTarget || s[0]).id === id; }", arg=element_id)


LINTED = "id => window.apflowEditor.modeler.get('overlays').get({ type: 'linting' }).some(o => o.element && o.element.id === id)"


def linted(page, element_id, expected=True):
    """Wait until the editor's live lint shows (or no longer shows) an issue on the element."""
    page.wait_for_function(f"id => ({LINTED})(id) === {'true' if expected else 'false'}", arg=element_id)
    return True


def test_manager_edits_a_timer_and_a_lane_meets_a_bad_condition_fixes_it_and_deploys(chromium, live):
    base, core = live
    with core.db.session() as s:
        from apflow.services import users

        sam = users.user_by_name(s, "sam")
    old = instances.start_instance(core, sam, "referral_triage", {"pupil_name": "Ada L.", "reasons": ["attendance"]})
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    sign_in(page, base, "sam")

    page.get_by_role("link", name="Processes").click()
    page.get_by_role("heading", name="Processes").wait_for()
    row = page.get_by_role("row").filter(has_text="Referral triage")
    assert "v1: 4" in row.inner_text()
    row.get_by_role("link", name="Edit diagram").click()
    page.wait_for_selector("#modeler-page[data-loaded='true']")

    click_element(page, "Timer_triage_late")
    when = page.get_by_label("When")
    assert when.input_value() == "P2D"
    when.fill("P4D")
    when.press("Tab")

    click_element(page, "Lane_headteacher")
    lane = page.get_by_label("Lane (role)")
    lane.fill("Caretakers")
    lane.press("Tab")
    assert linted(page, "Task_chase_triage")  # live lint: the lane names no role
    lane = page.get_by_label("Lane (role)")
    lane.fill("DSL")
    lane.press("Tab")
    linted(page, "Task_chase_triage", expected=False)

    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Saved draft revision 1").wait_for()

    click_element(page, "Flow_accepted")
    condition = page.get_by_label("Condition (Python expression on process data)")
    assert condition.input_value() == 'decision == "accept"'
    condition.fill('decision.__class__ == "accept"')
    condition.press("Tab")
    page.get_by_role("button", name="Validate").click()
    problem = page.locator("#problems-list button").filter(has_text="condition towards 'Task_record_acceptance'")
    problem.wait_for()
    assert page.locator("g.djs-element.apflow-problem[data-element-id='Gateway_decision']").count() == 1
    click_element(page, "Task_triage")
    problem.click()  # the problem selects the flow whose condition is wrong
    page.wait_for_function("() => window.apflowEditor.modeler.get('selection').get()[0].id === 'Flow_accepted'")  # the flow, not its label
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "modeler.png"))

    condition = page.get_by_label("Condition (Python expression on process data)")
    condition.fill('decision == "accept"')
    condition.press("Tab")
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("No problems: the diagram passes every check.").wait_for()
    assert page.locator("g.djs-element.apflow-problem").count() == 0

    page.get_by_label("Change note (why)").fill("Chase after four days; the DSL chases")
    page.get_by_role("button", name="Deploy new version").click()
    page.get_by_text("Deployed version 2").wait_for()

    new = instances.start_instance(core, sam, "referral_triage", {"pupil_name": "Ben K.", "reasons": ["medical"]})
    assert (new["version"], instances.get_instance(core, sam, old["id"])["version"]) == (2, 1)
    with core.db.session() as s:
        due = dict(s.execute(select(PendingTimer.instance_id, PendingTimer.due_at)).all())
    assert due[new["id"]] - due[old["id"]] == timedelta(days=2)  # P4D on version 2, P2D kept on version 1
    page.goto(f"{base}/processes/referral_triage")
    page.get_by_text("Chase after four days; the DSL chases").first.wait_for()
    page.close()


def test_a_save_over_a_newer_save_is_refused_with_a_clear_message(chromium, live):
    base, core = live
    first = chromium.new_page(viewport={"width": 1300, "height": 900})
    second = chromium.new_page(viewport={"width": 1300, "height": 900})
    for page in (first, second):
        sign_in(page, base, "sam")
        open_editor(page, base)
    for page, name in ((first, "Triage referral (first)"), (second, "Triage referral (second)")):
        click_element(page, "Task_triage")
        field = page.get_by_label("Name", exact=True)
        field.fill(name)
        field.press("Tab")
    first.get_by_role("button", name="Save draft").click()
    first.get_by_text("Saved draft revision 1").wait_for()
    second.get_by_role("button", name="Save draft").click()
    second.get_by_text("Not saved: someone else saved first").wait_for()
    assert "saved a newer draft (revision 1)" in second.locator("#save-conflict-message").inner_text()
    from apflow.services import drafts, users

    with core.db.session() as s:
        sam = users.user_by_name(s, "sam")
    assert "Triage referral (first)" in drafts.get_draft(core, sam, "referral_triage")["xml"]
    first.close()
    second.close()


def test_comparison_page_marks_changes_in_both_diagrams(chromium, live):
    base, core = live
    from apflow.services import drafts, users

    with core.db.session() as s:
        sam = users.user_by_name(s, "sam")
    draft = drafts.get_draft(core, sam, "referral_triage")
    drafts.save_draft(core, sam, "referral_triage", draft["xml"].replace(">P2D<", ">P5D<"), 0)
    page = chromium.new_page(viewport={"width": 1300, "height": 900})
    sign_in(page, base, "sam")
    page.goto(f"{base}/processes/referral_triage/diff?from=1&to=draft")
    page.wait_for_selector("#diff-after[data-loaded='true']")
    assert page.locator("#diff-after g.djs-element.diff-changed[data-element-id='Timer_triage_late']").count() == 1
    assert page.locator("#diff-before g.djs-element.diff-changed[data-element-id='Timer_triage_late']").count() == 1
    page.get_by_text("timer: 'duration P2D' → 'duration P5D'").wait_for()
    page.close()


def _properties(root) -> dict:
    found = {}
    for node in root.iter():
        if isinstance(node.tag, str) and etree.QName(node).namespace == SPIFF and etree.QName(node).localname == "property":
            owner = next(a for a in node.iterancestors() if a.get("id"))
            found[(owner.get("id"), node.get("name"))] = node.get("value")
    return found


def _layout(root) -> dict:
    found = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge", f"{{{BPMNDI}}}BPMNLabel"):
        owner = shape if shape.get("bpmnElement") else shape.getparent()
        key = (owner.get("bpmnElement"), etree.QName(shape).localname)
        bounds = shape.find(f"{{{DC}}}Bounds")
        found[key] = ([float(bounds.get(k)) for k in ("x", "y", "width", "height")] if bounds is not None else None,
                      [(float(p.get("x")), float(p.get("y"))) for p in shape.findall(f"{{{DI}}}waypoint")])
    return found


def _ids(root) -> set:
    return {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}


ROUND_TRIP = """async ([files]) => {
    const out = {};
    for (const [name, xml] of Object.entries(files)) {
        const box = document.createElement('div');
        box.style.width = '1200px'; box.style.height = '800px';
        document.body.appendChild(box);
        const modeler = window.apflowModeler.createModeler(box, false);
        const { warnings } = await modeler.importXML(xml);
        const registry = modeler.get('elementRegistry');
        const task = registry.filter(e => e.type === 'bpmn:UserTask')[0];
        let edited = null;
        if (task) {
            window.apflowModeler.setSpiffProperty(modeler, task, 'dueIn', 'P9D');
            edited = task.id;
        }
        const { xml: saved } = await modeler.saveXML({ format: true });
        out[name] = { xml: saved, edited, warnings: warnings.map(w => w.message) };
        modeler.destroy();
        box.remove();
    }
    return out;
}"""


def test_every_diagram_survives_an_import_edit_save_round_trip_in_bpmn_js(chromium, live):
    base, _ = live
    page = chromium.new_page(viewport={"width": 1300, "height": 900})
    sign_in(page, base, "sam")
    open_editor(page, base)
    files = {path.name: path.read_text("utf-8") for path in BPMN_FILES}
    results = page.evaluate(ROUND_TRIP, [files])
    page.close()
    assert set(results) == set(files) and files
    for name, original in files.items():
        result = results[name]
        assert result["warnings"] == [], (name, result["warnings"])
        before = etree.fromstring(original.encode())
        after = etree.fromstring(result["xml"].encode())
        assert _ids(after) == _ids(before), name
        expected = _properties(before)
        if result["edited"]:
            expected[(result["edited"], "dueIn")] = "P9D"
        assert _properties(after) == expected, name
        assert _layout(after) == _layout(before), name
        changes = compare(original, result["xml"])
        assert not (changes.added or changes.removed or changes.moved), (name, changes.as_dict())
        assert [c.id for c in changes.changed] == ([result["edited"]] if result["edited"] else []), (name, changes.as_dict())


def test_the_form_editor_previews_the_form_as_people_will_see_it(chromium, live):
    base, _ = live
    page = chromium.new_page(viewport={"width": 1300, "height": 900})
    sign_in(page, base, "sam")
    page.goto(f"{base}/forms/chase_triage.schema.json")
    preview = page.locator("#form-preview")
    preview.get_by_role("heading").first.wait_for()
    text = page.get_by_label("JSON Schema (JSON)")
    text.fill(text.input_value().replace('"properties": {', '"properties": {\n    "called_head": {"type": "boolean", "title": "Called the head of year"},', 1))
    preview.get_by_label("Called the head of year").wait_for()  # rendered by the task-form renderer, as a checkbox
    text.fill("{ not json")
    page.locator("#form-problems").get_by_text("not valid JSON").wait_for()
    page.close()
