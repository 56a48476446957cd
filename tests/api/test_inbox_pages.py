"""The staff inbox through the Flask test client, on SQLite and PostgreSQL."""
import io
import re
from datetime import timedelta

from sqlalchemy import select

from apflow.services import inbox, instances, processes
from apflow.store.models import HumanTask, Organisation, User
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD, browser, make_user, post


def start(core, user, **data):
    started = instances.start_instance(core, user, "referral_triage", {"reasons": ["attendance"], **data})
    [task] = instances.list_ready_tasks(core, user, started["id"])
    return started["id"], task["id"]


def test_tabs_show_mine_and_my_roles_unassigned_and_managers_all(app, core, people, triage):
    _, first = start(core, people["coordinator"], pupil_name="Jordan T.", pupil_ref="NEST-0142")
    start(core, people["coordinator"], pupil_name="Mia K.", pupil_ref="NEST-0178")
    inbox.claim(core, people["coordinator"], first)
    coord = browser(app, "coord")
    mine = coord.get("/inbox?tab=mine").get_data(as_text=True)
    assert "Jordan T." in mine and "Mia K." not in mine
    available = coord.get("/inbox?tab=available").get_data(as_text=True)
    assert "Mia K." in available and "Jordan T." not in available
    assert "All tasks" not in available
    boss = browser(app, "boss").get("/inbox?tab=all").get_data(as_text=True)
    assert "Jordan T." in boss and "Mia K." in boss and "Priya" not in boss


def test_search_by_pupil_name_or_reference_and_filter_overdue(app, core, people, triage, frozen_clock):
    start(core, people["coordinator"], pupil_name="Jordan T.", pupil_ref="NEST-0142")
    frozen_clock.advance(timedelta(days=4))
    start(core, people["coordinator"], pupil_name="Mia K.", pupil_ref="NEST-0178")
    coord = browser(app, "coord")
    page = coord.get("/inbox?search=0178").get_data(as_text=True)
    assert "Mia K." in page and "Jordan T." not in page
    assert "Mia K." in coord.get("/inbox?search=mia").get_data(as_text=True)
    overdue = coord.get("/inbox?overdue=1").get_data(as_text=True)
    assert "Jordan T." in overdue and "Mia K." not in overdue and "Overdue" in overdue
    ordered = coord.get("/inbox").get_data(as_text=True)
    assert ordered.index("Jordan T.") < ordered.index("Mia K.")  # overdue first


def test_saved_filter_round_trip(app, core, people, triage):
    coord = browser(app, "coord")
    response = post(coord, "/inbox/filters", {"name": "Mia only", "search": "mia", "tab": "available"})
    assert response.status_code == 302
    page = coord.get("/inbox").get_data(as_text=True)
    assert "Mia only" in page and "search=mia" in page
    [saved] = inbox.saved_filters(app.extensions["apflow"], people["coordinator"])
    assert post(coord, f"/inbox/filters/{saved['id']}/delete").status_code == 302
    assert inbox.saved_filters(app.extensions["apflow"], people["coordinator"]) == []


def test_claim_unclaim_assign_delegate_and_take_back(app, core, people, triage):
    instance_id, task_id = start(core, people["coordinator"])
    coord = browser(app, "coord")
    assert post(coord, f"/tasks/{task_id}/claim").status_code == 302
    assert "coord" == holder(core, task_id)
    other = browser(app, "coord2")
    post(other, f"/tasks/{task_id}/claim")
    assert "Someone has already claimed this task." in other.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert holder(core, task_id) == "coord"
    post(coord, f"/tasks/{task_id}/delegate", {"assignee": "coord2"})
    assert holder(core, task_id) == "coord2"
    assert "delegated by coord" in browser(app, "boss").get("/inbox?tab=all").get_data(as_text=True)
    post(coord, f"/tasks/{task_id}/take-back")
    assert holder(core, task_id) == "coord"
    post(coord, f"/tasks/{task_id}/assign", {"assignee": "head"})
    assert holder(core, task_id) == "coord"  # the headteacher is not in the coordinator role
    post(coord, f"/tasks/{task_id}/unclaim")
    assert holder(core, task_id) is None
    kinds = [e["kind"] for e in instances.list_events(core, people["manager"], instance_id)]
    assert {"task_claimed", "task_delegated", "task_taken_back", "task_unclaimed"} <= set(kinds)


def holder(core, task_id):
    with core.db.session() as s:
        task = s.get(HumanTask, task_id)
        return s.scalar(select(User.username).where(User.id == task.assignee_id)) if task.assignee_id else None


def test_assigned_task_can_be_completed_only_by_its_assignee(app, core, people, triage):
    _, task_id = start(core, people["coordinator"])
    inbox.assign(core, people["manager"], task_id, "coord2")
    coord = browser(app, "coord")
    page = coord.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "only its assignee can complete it" in page
    response = post(coord, f"/tasks/{task_id}", {"action": "complete", "decision": "accept", "rationale": "Attendance is 40%"})
    assert response.status_code == 403


def test_form_error_keeps_answers_and_summary_links_to_fields_then_fix_moves_on(app, core, people, triage):
    instance_id, task_id = start(core, people["coordinator"], pupil_name="Leo B.")
    coord = browser(app, "coord")
    response = post(coord, f"/tasks/{task_id}", {"action": "complete", "reasons": ["attendance", "medical"], "decision": "accept", "rationale": "short"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page and 'href="#f-rationale"' in page
    assert 'value="medical" checked' in page and ">short</textarea>" in page
    assert 'aria-invalid="true"' in page
    done = post(coord, f"/tasks/{task_id}", {"action": "complete", "reasons": ["attendance"], "decision": "accept",
                                              "rationale": "Attendance 40% since September"})
    assert done.status_code == 302 and done.headers["Location"] == f"/placements/{instance_id}"
    placement = coord.get(done.headers["Location"]).get_data(as_text=True)
    assert "is done and the placement process has finished" in placement
    assert "Task completed" in placement and "Finished" in placement


def test_save_draft_then_reopen_shows_it(app, core, people, triage):
    _, task_id = start(core, people["coordinator"])
    coord = browser(app, "coord")
    assert post(coord, f"/tasks/{task_id}", {"action": "draft", "rationale": "Half written"}).status_code == 302
    page = coord.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Showing your draft" in page and ">Half written</textarea>" in page
    assert "Half written" not in browser(app, "coord2").get(f"/tasks/{task_id}").get_data(as_text=True)


def test_repeating_group_add_and_remove_rows_and_file_upload(app, core, people, tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "sessions.schema.json").write_text('''{"type": "object", "title": "Timetable", "required": ["sessions", "signed_kid"],
      "properties": {"sessions": {"type": "array", "title": "Session", "minItems": 1, "items": {"type": "object", "required": ["day"],
         "properties": {"day": {"type": "string", "title": "Day", "enum": ["mon", "tue"]}, "site": {"type": "string", "title": "Site address"}}}},
        "signed_kid": {"type": "integer", "title": "Signed Key Information Document"}}}''')
    (forms / "sessions.uischema.json").write_text('{"signed_kid": {"ui:widget": "file"}}')
    core.settings.forms_dir = forms
    diagram = tmp_path / "timetable.bpmn"
    diagram.write_text(flow_diagram(pid="timetable", form="sessions.schema.json").replace(
        'value="sessions.schema.json" />', 'value="sessions.schema.json" /><spiffworkflow:property name="formUiSchemaFilename" value="sessions.uischema.json" />'))
    processes.deploy_paths(core, [diagram], by="test")
    started = instances.start_instance(core, people["coordinator"], "timetable", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    coord = browser(app, "coord")
    page = post(coord, f"/tasks/{task['id']}", {"sessions.count": "1", "sessions.0.day": "mon", "add_row": "sessions"}).get_data(as_text=True)
    assert 'name="sessions.1.day"' in page and 'value="mon" checked' in page
    page = post(coord, f"/tasks/{task['id']}", {"sessions.count": "2", "sessions.0.day": "mon", "sessions.1.day": "tue", "remove_row": "sessions.0"}).get_data(as_text=True)
    assert 'name="sessions.1.day"' not in page and 'value="tue" checked' in page
    missing = post(coord, f"/tasks/{task['id']}", {"action": "complete", "sessions.count": "1", "sessions.0.day": "tue"})
    assert missing.status_code == 422 and "Signed Key Information Document is required." in missing.get_data(as_text=True)
    done = post(coord, f"/tasks/{task['id']}", {"action": "complete", "sessions.count": "1", "sessions.0.day": "tue", "sessions.0.site": "Unit 4, Mill Lane",
                                                 "signed_kid": (io.BytesIO(b"%PDF-1.4 signed"), "kid.pdf", "application/pdf")},
                content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)
    data = instances.get_instance(core, people["coordinator"], started["id"])["data"]
    assert data["sessions"] == [{"day": "tue", "site": "Unit 4, Mill Lane"}]
    placement = coord.get(f"/placements/{started['id']}").get_data(as_text=True)
    assert "kid.pdf" in placement
    download = coord.get(f"/placements/{started['id']}/documents/{data['signed_kid']}")
    assert download.data == b"%PDF-1.4 signed" and "attachment" in download.headers["Content-Disposition"]
    assert browser(app, "parent").get(f"/placements/{started['id']}/documents/{data['signed_kid']}").status_code == 404


def test_a_document_id_from_another_placement_is_refused(core, people, triage):
    from apflow.services import documents

    first, _ = start(core, people["coordinator"])
    doc = documents.upload(core, people["coordinator"], first, None, "a.pdf", "application/pdf", b"%PDF")
    with core.db.session() as s:
        assert documents.belongs_to(s, doc, first) and not documents.belongs_to(s, doc, first + 1)


def test_manager_bulk_reassigns_and_bulk_claims(app, core, people, triage):
    ids = [start(core, people["coordinator"])[1] for _ in range(3)]
    boss = browser(app, "boss")
    assert post(boss, "/inbox/bulk", {"task": ids[:2], "action": "assign", "assignee": "coord2"}).status_code == 302
    assert [holder(core, i) for i in ids] == ["coord2", "coord2", None]
    coord = browser(app, "coord")
    assert post(coord, "/inbox/bulk", {"task": ids[2:], "action": "claim"}).status_code == 403
    assert holder(core, ids[2]) is None


def test_change_password(app, core, people):
    coord = browser(app, "coord")
    wrong = post(coord, "/account/password", {"current": "nope", "new": "a brand new secret", "confirm": "a brand new secret"})
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    ok = post(coord, "/account/password", {"current": PASSWORD, "new": "a brand new secret", "confirm": "a brand new secret"})
    assert ok.status_code == 302
    fresh = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', fresh.get("/login").get_data(as_text=True)).group(1)
    assert fresh.post("/login", data={"username": "coord", "password": "a brand new secret", "csrf_token": token}).status_code == 302


def test_staff_see_only_their_organisation_and_providers_only_their_placements(app, core, people, triage):
    with core.db.session() as s:
        nest, other, provider = Organisation(name="The Nest School", kind="school"), Organisation(name="Hill School", kind="school"), Organisation(name="Next Steps Education", kind="provider")
        s.add_all([nest, other, provider])
    nest_coord = make_user(core, "nestcoord", "coordinator", organisations=["The Nest School"])
    hill_coord = make_user(core, "hillcoord", "coordinator", organisations=["Hill School"])
    tutor = make_user(core, "tutor", "coordinator", organisations=["Next Steps Education"])
    with core.db.session() as s:
        nest_coord, hill_coord, tutor = (s.get(User, u.id) for u in (nest_coord, hill_coord, tutor))
    placed, _ = start(core, nest_coord, pupil_name="Jordan T.", provider_name="Next Steps Education")
    unplaced, _ = start(core, nest_coord, pupil_name="Mia K.")
    assert {t["instance_id"] for t in instances.list_ready_tasks(core, nest_coord)} == {placed, unplaced}
    assert instances.list_ready_tasks(core, hill_coord) == []
    assert {t["instance_id"] for t in instances.list_ready_tasks(core, tutor)} == {placed}
    assert browser(app, "hillcoord").get(f"/placements/{placed}").status_code == 404
    assert browser(app, "tutor").get(f"/placements/{unplaced}").status_code == 404
    assert browser(app, "tutor").get(f"/placements/{placed}").status_code == 200
