"""Issue 17, diagrams from other tools: candidate groups and users, Camunda form keys, Camunda Forms (form-js), Zeebe
forms and SpiffArena forms deploy through the API and run to their end (on SQLite and PostgreSQL)."""
import json
from pathlib import Path

import pytest

from apflow.engine.interop import NOT_FORMS
from apflow.store.models import HumanTask, User
from apflow.web import create_app
from tests.support import PASSWORD, make_user

CORPUS = Path(__file__).parent / "corpus"
FOLDERS = ["camunda7_candidate_groups", "camunda7_formkey_formjs", "zeebe_user_task_form", "spiffarena_forms"]


def _token(client, username):
    response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _upload(folder: Path) -> dict[str, str]:
    """Every diagram and form file of a corpus folder, as the API deploy takes them."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
            if p.suffix in {".bpmn", ".json", ".form"} and p.name not in NOT_FORMS}


def _run(core, client, folder: Path) -> dict:
    plan = json.loads((folder / "run.json").read_text())
    make_user(core, "corpus_manager", "manager")
    roles = {plan["start_as"], *(step["as"] for step in plan["steps"])}
    extra = {user["username"]: user["roles"] for user in plan.get("users", [])}
    for role in roles - set(extra):
        make_user(core, f"corpus_{role}", role)
    for username, user_roles in extra.items():
        make_user(core, username, *user_roles)
    who = {name: _token(client, name if name in extra else f"corpus_{name}") for name in roles}
    deployed = client.post("/api/v1/processes", json={"files": _upload(folder), "note": "corpus"}, headers=_token(client, "corpus_manager"))
    assert deployed.status_code == 201, deployed.get_data(as_text=True)
    process_id = deployed.json["deployed"][0]["process_id"]
    started = client.post(f"/api/v1/processes/{process_id}/instances", json={"data": plan["start_data"]}, headers=who[plan["start_as"]])
    assert started.status_code == 201, started.get_data(as_text=True)
    instance_id = started.json["id"]
    for step in plan["steps"]:
        tasks = client.get(f"/api/v1/tasks?instance={instance_id}", headers=who[step["as"]]).json["tasks"]
        task = next((t for t in tasks if t["name"] == step["task"]), None)
        assert task is not None, f"{step['as']} does not see '{step['task']}': {tasks}"
        done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step["data"]}, headers=who[step["as"]])
        assert done.status_code == 200, done.get_data(as_text=True)
    instance = client.get(f"/api/v1/instances/{instance_id}", headers=_token(client, "corpus_manager")).json
    assert (instance["status"] == "completed") == plan["expect"]["completed"], instance
    return {"deployed": deployed.json["deployed"], "instance": instance}


@pytest.fixture
def client(core):
    return create_app(core=core, run_scheduler=False).test_client()


@pytest.mark.parametrize("folder", FOLDERS)
def test_issue17_foreign_corpus_folder_deploys_through_the_api_and_runs_to_its_end(core, client, folder):
    _run(core, client, CORPUS / folder)


def test_issue17_candidate_groups_decide_the_role_and_a_candidate_user_gets_the_task(core, client):
    outcome = _run(core, client, CORPUS / "camunda7_candidate_groups")
    with core.db.session(readonly=True) as session:
        tasks = {t.name: t for t in session.query(HumanTask).filter(HumanTask.instance_id == outcome["instance"]["id"])}
        lead = session.query(HumanTask.assignee_id).filter(HumanTask.name == "Confirm with the family").scalar()
        lead_id = session.query(User.id).filter(User.username == "c7_intake_lead").scalar()
    assert {name: t.role for name, t in tasks.items()} == {
        "Check the referral": "coordinator", "Approve the placement": "headteacher", "Confirm with the family": "coordinator"}
    assert lead == lead_id
    [warning] = outcome["deployed"][0]["warnings"]
    assert "several candidate groups" in warning["message"] and warning["element"] == "Task_approve"


def test_issue17_camunda_initiator_gives_the_task_to_whoever_started_the_instance(core, client):
    """camunda:initiator="referrer" on the start keeps the starter's username in `referrer`; the task's
    camunda:assignee="${referrer}" then goes to them alone, not to every coordinator."""
    make_user(core, "other_coordinator", "coordinator")
    outcome = _run(core, client, CORPUS / "camunda7_initiator")
    with core.db.session(readonly=True) as session:
        assignee = session.query(HumanTask.assignee_id).filter(HumanTask.instance_id == outcome["instance"]["id"]).scalar()
        starter = session.query(User.id).filter(User.username == "corpus_coordinator").scalar()
    assert assignee == starter
    assert outcome["instance"]["data"]["referrer"] == "corpus_coordinator"


def test_issue17_deploy_reports_what_a_camunda_form_could_not_keep(core, client):
    outcome = _run(core, client, CORPUS / "camunda7_formkey_formjs")
    messages = [w["message"] for w in outcome["deployed"][0]["warnings"]]
    assert any("hides 'Concerns raised'" in m for m in messages) and any("HTML block" in m for m in messages)
    assert all(w["severity"] == "warning" and w["file"] == "review.bpmn" and "review.form" in w["message"] for w in outcome["deployed"][0]["warnings"])


def test_issue17_a_converted_camunda_form_is_what_the_task_shows(core, client):
    make_user(core, "boss2", "manager")
    make_user(core, "coordx", "coordinator")
    folder = CORPUS / "camunda7_formkey_formjs"
    assert client.post("/api/v1/processes", json={"files": _upload(folder)}, headers=_token(client, "boss2")).status_code == 201
    as_coord = _token(client, "coordx")
    instance = client.post("/api/v1/processes/c7_formkey_review/instances", json={"data": {}}, headers=as_coord).json
    [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=as_coord).json
    schema, ui = detail["form"]["schema"], detail["form"]["ui_schema"]
    assert schema["properties"]["attendance"] == {"title": "Pupil's attendance (%)", "type": "integer", "minimum": 0, "maximum": 100,
                                                  "description": "# Placement review\nAnswer for the period since the last review."}
    assert schema["properties"]["progress"]["enum"] == ["well", "concerns", "not_working"]
    assert ui["progress"] == {"ui:widget": "radio", "ui:enumNames": ["Well", "Some concerns", "Not working"]}
    assert detail["data"] == {"next_step": "continue"}  # the form's default value
    wrong = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"attendance": 120, "reference": "ap12"}}, headers=as_coord)
    assert wrong.status_code == 422
    fields = wrong.json["error"]["details"]["fields"]
    assert {"attendance", "reference", "reviewed_on", "progress", "family_agrees"} <= set(fields)


def test_issue17_api_deploy_refuses_a_form_without_a_diagram_and_odd_file_names(core, client):
    make_user(core, "boss3", "manager")
    headers = _token(client, "boss3")
    only_form = client.post("/api/v1/processes", json={"files": {"review.form": "{}"}}, headers=headers)
    assert only_form.status_code == 422 and "at least one .bpmn" in only_form.json["error"]["message"]
    odd = client.post("/api/v1/processes", json={"files": {"x.bpmn": "<x/>", "notes.txt": "hi"}}, headers=headers)
    assert odd.status_code == 422 and ".form" in odd.json["error"]["message"]


def test_issue17_api_validate_uses_uploaded_forms(core, client):
    make_user(core, "boss4", "manager")
    folder = CORPUS / "zeebe_user_task_form"
    headers = _token(client, "boss4")
    with_forms = client.post("/api/v1/processes/validate", json={"files": _upload(folder)}, headers=headers).json
    assert with_forms["ok"] is True
    without = client.post("/api/v1/processes/validate", json={"files": {"provider_onboarding.bpmn": _upload(folder)["provider_onboarding.bpmn"]}},
                          headers=headers).json
    assert without["ok"] is False
    assert any("No Camunda form with the id 'provider-checks'" in p["message"] for p in without["problems"])


def test_issue17_a_deployed_camunda_diagram_can_be_edited_and_redeployed_in_the_browser_editor(core, client):
    make_user(core, "boss5", "manager")
    headers = _token(client, "boss5")
    folder = CORPUS / "camunda7_formkey_formjs"
    assert client.post("/api/v1/processes", json={"files": _upload(folder)}, headers=headers).status_code == 201
    draft = client.get("/api/v1/processes/c7_formkey_review/draft", headers=headers).json
    assert client.post("/api/v1/processes/c7_formkey_review/draft/validate", json={}, headers=headers).json["ok"] is True
    edited = draft["xml"].replace('name="Review the placement"', 'name="Review the placement again"')
    saved = client.put("/api/v1/processes/c7_formkey_review/draft", json={"xml": edited, "revision": draft["revision"]}, headers=headers)
    assert saved.status_code == 200, saved.json
    deployed = client.post("/api/v1/processes/c7_formkey_review/deploy", json={"revision": saved.json["revision"], "note": "renamed"},
                           headers=headers)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)
    version = client.get("/api/v1/processes/c7_formkey_review/versions/2", headers=headers).json
    assert "camunda-forms:deployment:review.form" in version["xml"]  # the author's form key is kept as written


def test_issue17_the_task_page_shows_a_converted_camunda_form_and_takes_its_answers(core, client):
    from tests.support import browser, post

    make_user(core, "boss6", "manager")
    make_user(core, "coord6", "coordinator")
    folder = CORPUS / "zeebe_user_task_form"
    assert client.post("/api/v1/processes", json={"files": _upload(folder)}, headers=_token(client, "boss6")).status_code == 201
    as_coord = _token(client, "coord6")
    instance = client.post("/api/v1/processes/zeebe_provider_onboarding/instances", json={"data": {}}, headers=as_coord).json
    [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    assert task["lane"] == "coordinator"
    page = browser(client.application, "coord6")
    html = page.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Provider name" in html and "Ofsted registered" in html and "Places offered" in html
    sent = post(page, f"/tasks/{task['id']}", {"provider_name": "Bridge Learning", "ofsted_registered": "true", "places": "12"})
    assert sent.status_code in (302, 303), sent.get_data(as_text=True)[:500]
    detail = client.get(f"/api/v1/instances/{instance['id']}", headers=_token(client, "boss6")).json
    assert detail["status"] == "running"
    tasks = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    assert [t["name"] for t in tasks] == []  # the next task is the DSL's
