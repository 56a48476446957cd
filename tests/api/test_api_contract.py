"""The public JSON API contract, through the Flask test client, on SQLite and PostgreSQL."""
import re

import pytest

from tests.support import PASSWORD, token_for

ANSWERS = {"decision": "accept", "rationale": "Attendance has fallen below 50% this term"}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_coord(client, people):
    return token_for(client, "coord")


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def start(client, headers, data=None):
    response = client.post("/api/v1/processes/referral_triage/instances", json={"data": data or {"reasons": ["attendance"]}}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_token_login_and_wrong_password(client, people):
    assert_error(client.post("/api/v1/tokens", json={"username": "coord", "password": "nope"}), 401, "unauthorized")
    assert client.get("/api/v1/me", headers=token_for(client, "coord")).json["roles"] == ["coordinator"]


def test_account_locks_after_repeated_failures(client, people):
    for _ in range(5):
        client.post("/api/v1/tokens", json={"username": "coord", "password": "wrong password"})
    response = client.post("/api/v1/tokens", json={"username": "coord", "password": PASSWORD})
    assert_error(response, 429, "too_many_attempts")
    assert "locked" in response.json["error"]["message"]


def test_requests_without_credentials_get_json_401(client, triage):
    assert_error(client.get("/api/v1/tasks"), 401, "unauthorized")
    assert_error(client.get("/api/v1/tasks", headers={"Authorization": "Bearer not-a-token"}), 401)


def test_list_processes_with_versions(client, as_coord, triage):
    [process] = client.get("/api/v1/processes", headers=as_coord).json["processes"]
    assert process["id"] == "referral_triage" and process["latest_version"] == 1
    assert process["versions"][0]["version"] == 1 and process["versions"][0]["deployed_by"] == "test"


def test_full_round_trip_start_list_get_complete_events(client, as_coord, triage):
    instance = start(client, as_coord)
    tasks = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    [task] = tasks
    assert {"id", "name", "lane", "due_at", "assignee", "instance_id"} <= set(task)
    assert (task["name"], task["lane"], task["assignee"], task["instance_id"]) == ("Triage referral", "AP Coordinator", None, instance["id"])
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=as_coord).json
    assert detail["form"]["schema"]["title"] == "Triage referral"
    assert detail["form"]["ui_schema"]["decision"]["ui:widget"] == "radio"
    assert detail["data"] == {"reasons": ["attendance"]}
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": ANSWERS}, headers=as_coord)
    assert done.status_code == 200, done.json
    assert done.json["instance"]["status"] == "completed"
    assert client.get(f"/api/v1/instances/{instance['id']}", headers=as_coord).json["data"]["status"] == "accepted"
    kinds = [e["kind"] for e in client.get(f"/api/v1/instances/{instance['id']}/events", headers=as_coord).json["events"]]
    assert kinds == ["instance_started", "task_ready", "task_completed", "instance_completed"]


def test_invalid_data_gets_422_with_per_field_errors_and_task_stays_ready(client, as_coord, triage):
    instance = start(client, as_coord)
    [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "maybe"}}, headers=as_coord)
    assert_error(response, 422, "invalid")
    assert set(response.json["error"]["details"]["fields"]) == {"decision", "rationale"}
    assert len(client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]) == 1


def test_completing_twice_gets_409(client, as_coord, triage):
    instance = start(client, as_coord)
    [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": ANSWERS}, headers=as_coord).status_code == 200
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": ANSWERS}, headers=as_coord)
    assert_error(response, 409, "conflict")
    assert "already completed" in response.json["error"]["message"]


def test_other_roles_cannot_see_or_complete(client, people, as_coord, triage):
    instance = start(client, as_coord)
    [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=as_coord).json["tasks"]
    parent = token_for(client, "parent")
    assert client.get("/api/v1/tasks", headers=parent).json["tasks"] == []
    assert_error(client.get(f"/api/v1/tasks/{task['id']}", headers=parent), 404)
    assert_error(client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": ANSWERS}, headers=parent), 404)
    assert_error(client.get(f"/api/v1/instances/{instance['id']}", headers=parent), 404)
    assert_error(client.post("/api/v1/processes/referral_triage/instances", json={"data": {}}, headers=parent), 403, "forbidden")


def test_errors_are_json_everywhere(client, as_coord, triage):
    assert_error(client.get("/api/v1/nowhere", headers=as_coord), 404)
    assert_error(client.delete("/api/v1/processes", headers=as_coord), 405)
    assert_error(client.post("/api/v1/processes/referral_triage/instances", data="not json", headers=as_coord), 422)
    assert_error(client.post("/api/v1/processes/unknown/instances", json={}, headers=as_coord), 404, "not_found")
    assert_error(client.get("/api/v1/tasks?instance=abc", headers=as_coord), 422)
    assert_error(client.post("/api/v1/processes", json={"files": {"x.bpmn": "<x/>"}}, headers=as_coord), 403)


def test_session_auth_needs_csrf_header_for_writes(client, people, triage):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "coord", "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    assert client.get("/api/v1/me").json["username"] == "coord"
    assert_error(client.post("/api/v1/processes/referral_triage/instances", json={"data": {}}), 403)
    ok = client.post("/api/v1/processes/referral_triage/instances", json={"data": {"reasons": ["cp"]}}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_manager_deploys_through_the_api_and_bad_diagrams_are_refused(client, people):
    manager = token_for(client, "boss")
    from tests.bpmn_builder import flow_diagram

    ok = client.post("/api/v1/processes", json={"files": {"checked.bpmn": flow_diagram()}, "note": "first"}, headers=manager)
    assert ok.status_code == 201 and ok.json["deployed"][0]["version"] == 1
    bad = client.post("/api/v1/processes", json={"files": {"bad.bpmn": flow_diagram(pid="bad", condition="__import__('os')")}}, headers=manager)
    assert_error(bad, 422, "invalid")
    problems = bad.json["error"]["details"]["problems"]
    assert problems and all(p["element"] == "Gateway_1" and p["fix"] for p in problems)
    assert [p["id"] for p in client.get("/api/v1/processes", headers=manager).json["processes"]] == ["checked"]


def test_task_list_is_paged(client, as_coord, triage):
    for _ in range(3):
        start(client, as_coord)
    first = client.get("/api/v1/tasks?limit=2", headers=as_coord).json
    assert len(first["tasks"]) == 2 and first["next_offset"] == 2
    rest = client.get("/api/v1/tasks?limit=2&offset=2", headers=as_coord).json
    assert len(rest["tasks"]) == 1 and "next_offset" not in rest
    assert {t["id"] for t in first["tasks"]}.isdisjoint(t["id"] for t in rest["tasks"])
    assert_error(client.get("/api/v1/tasks?limit=0", headers=as_coord), 422)
