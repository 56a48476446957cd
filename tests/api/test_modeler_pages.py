"""The process library through the Flask test client: JSON endpoints the editor calls and the pages,
on SQLite and PostgreSQL."""
import io
import json
import re

import pytest

from apflow.config import ROOT
from apflow.services import instances
from tests.support import PASSWORD, browser, post

ORIGINAL = (ROOT / "bpmn" / "referral_triage.bpmn").read_text()


@pytest.fixture
def boss(app, people, triage):
    client = app.test_client()
    response = client.post("/api/v1/tokens", json={"username": "boss", "password": PASSWORD})
    client.headers = {"Authorization": f"Bearer {response.json['token']}"}
    return client


def test_the_editor_saves_validates_and_deploys_through_the_api(boss):
    draft = boss.get("/api/v1/processes/referral_triage/draft", headers=boss.headers).json
    assert (draft["revision"], draft["deployed_version"]) == (0, 1)
    saved = boss.put("/api/v1/processes/referral_triage/draft", headers=boss.headers,
                     json={"xml": draft["xml"].replace(">P2D<", ">P4D<"), "revision": 0, "note": "four days"})
    assert saved.status_code == 200 and saved.json["revision"] == 1 and saved.json["problems"] == []
    stale = boss.put("/api/v1/processes/referral_triage/draft", headers=boss.headers, json={"xml": draft["xml"], "revision": 0})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "conflict" and "newer draft (revision 1)" in stale.json["error"]["message"]
    bad = boss.post("/api/v1/processes/referral_triage/draft/validate", headers=boss.headers,
                    json={"xml": draft["xml"].replace('decision == "accept"', "decision ==")}).json
    assert not bad["ok"] and bad["problems"][0]["element"] == "Gateway_decision"
    assert boss.post("/api/v1/processes/referral_triage/deploy", headers=boss.headers, json={"revision": 1}).status_code == 422
    deployed = boss.post("/api/v1/processes/referral_triage/deploy", headers=boss.headers, json={"revision": 1, "note": "four days"})
    assert deployed.status_code == 201 and deployed.json["version"] == 2
    version = boss.get("/api/v1/processes/referral_triage/versions/2", headers=boss.headers).json
    assert ">P4D<" in version["xml"]
    detail = boss.get("/api/v1/processes/referral_triage", headers=boss.headers).json
    assert [v["version"] for v in detail["versions"]] == [2, 1] and detail["history"][0]["kind"] == "deployed"
    diff = boss.get("/api/v1/processes/referral_triage/diff?from=1&to=2", headers=boss.headers).json
    assert [c["id"] for c in diff["changed"]] == ["Timer_triage_late"]


def test_moving_and_rolling_back_through_the_api(boss, core, people):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    library_put = boss.put("/api/v1/processes/referral_triage/draft", headers=boss.headers,
                           json={"xml": ORIGINAL.replace('name="Record acceptance"', 'name="Record the acceptance"'), "revision": 0})
    assert library_put.status_code == 200
    assert boss.post("/api/v1/processes/referral_triage/deploy", headers=boss.headers, json={"revision": 1, "note": "wording"}).status_code == 201
    preview = boss.get("/api/v1/processes/referral_triage/migration", headers=boss.headers).json
    assert preview["to_version"] == 2 and preview["instances"][0]["can_move"]
    moved = boss.post("/api/v1/processes/referral_triage/migration", headers=boss.headers, json={"instance_ids": [started["id"]], "note": "wording"}).json
    assert moved["moved"] == [started["id"]]
    events = boss.get(f"/api/v1/instances/{started['id']}/events", headers=boss.headers).json["events"]
    assert events[-1]["kind"] == "instance_migrated" and events[-1]["detail"]["to_version"] == 2
    rolled = boss.post("/api/v1/processes/referral_triage/rollback", headers=boss.headers, json={"version": 1, "note": "undo"})
    assert rolled.status_code == 201 and rolled.json["version"] == 3


def test_uploads_through_the_api_are_checked(boss):
    refused = boss.post("/api/v1/processes/upload", headers=boss.headers, json={"filename": "x.bpmn", "xml": ORIGINAL.replace('decision == "accept"', "import os")})
    assert refused.status_code == 422 and refused.json["error"]["details"]["problems"]
    taken = boss.post("/api/v1/processes/upload", headers=boss.headers,
                      json={"filename": "triage.bpmn", "xml": ORIGINAL, "process_id": "referral_triage", "revision": 0})
    assert taken.status_code == 201 and taken.json["revision"] == 1


def test_form_preview_uses_the_task_form_renderer_and_forms_save_with_a_revision(boss):
    schema = json.loads((ROOT / "forms" / "triage_referral.schema.json").read_text())
    ui = (ROOT / "forms" / "triage_referral.uischema.json").read_text()
    preview = boss.post("/api/v1/forms/preview", headers=boss.headers, json={"schema": json.dumps(schema), "ui_schema": ui}).json
    assert preview["problems"] == []
    for prop in schema["properties"].values():
        assert prop.get("title", "") in preview["html"]
    broken = boss.post("/api/v1/forms/preview", headers=boss.headers, json={"schema": '{"type": "object", "properties": [1]}'}).json
    assert broken["html"] is None and broken["problems"]
    forms = boss.get("/api/v1/forms", headers=boss.headers).json["forms"]
    assert {"name": "triage_referral.uischema.json", "kind": "ui"}.items() <= next(f for f in forms if f["name"] == "triage_referral.uischema.json").items()
    saved = boss.put("/api/v1/forms/new_thing.schema.json", headers=boss.headers,
                     json={"content": '{"type": "object", "properties": {"a": {"type": "string"}}}', "revision": 0})
    assert saved.status_code == 200 and saved.json["revision"] == 1
    assert boss.put("/api/v1/forms/new_thing.schema.json", headers=boss.headers, json={"content": saved.json["content"], "revision": 0}).status_code == 409


def test_browser_session_writes_need_the_csrf_header(app, people, triage):
    client = browser(app, "boss")
    draft = client.get("/api/v1/processes/referral_triage/draft").json
    assert client.put("/api/v1/processes/referral_triage/draft", json={"xml": draft["xml"], "revision": 0}).status_code == 403
    assert client.put("/api/v1/processes/referral_triage/draft", json={"xml": draft["xml"], "revision": 0},
                      headers={"X-CSRF-Token": client.csrf}).status_code == 200


def test_library_pages_for_managers_only(app, core, people, triage):
    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    boss = browser(app, "boss")
    page = boss.get("/processes").get_data(as_text=True)
    assert "Referral triage" in page and "v1: 1" in page and 'href="/processes/referral_triage/edit"' in page
    assert 'href="/processes"' in boss.get("/inbox").get_data(as_text=True)  # the nav link
    editor = boss.get("/processes/referral_triage/edit").get_data(as_text=True)
    assert "/vendor/bpmn-js/bpmn-modeler.production.min.js" in editor and "triage_referral.schema.json" in editor
    coord = browser(app, "coord")
    assert coord.get("/processes").status_code == 403
    assert 'href="/processes"' not in coord.get("/inbox").get_data(as_text=True)


def test_download_upload_rollback_and_migrate_pages(app, core, people, triage):
    boss = browser(app, "boss")
    download = boss.get("/processes/referral_triage/versions/1/download")
    assert download.headers["Content-Disposition"].replace('"', "") == "attachment; filename=referral_triage.v1.bpmn"
    assert download.get_data(as_text=True) == ORIGINAL
    refused = post(boss, "/processes/upload", {"file": (io.BytesIO(b"<!DOCTYPE x><x/>"), "evil.bpmn")}, content_type="multipart/form-data")
    assert refused.status_code == 422 and "DOCTYPE" in refused.get_data(as_text=True)
    uploaded = post(boss, "/processes/upload", {"file": (io.BytesIO(ORIGINAL.replace(">P2D<", ">P4D<").encode()), "mine.bpmn"),
                                                 "process_id": "referral_triage", "revision": "0"}, content_type="multipart/form-data")
    assert uploaded.status_code == 302 and uploaded.headers["Location"].endswith("/processes/referral_triage/edit")
    from apflow.services import drafts

    drafts.deploy_draft(core, people["manager"], "referral_triage", 1, "four days")
    diff = boss.get("/processes/referral_triage/diff?from=1&to=2").get_data(as_text=True)
    assert "timer: &#39;duration P2D&#39; → &#39;duration P4D&#39;" in diff
    migrate = boss.get("/processes/referral_triage/migrate").get_data(as_text=True)
    assert "No running placement is on another version." in migrate
    assert post(boss, "/processes/referral_triage/rollback", {"version": "1", "note": ""}).status_code == 422
    done = post(boss, "/processes/referral_triage/rollback", {"version": "1", "note": "back to two days"})
    assert done.status_code == 302
    page = boss.get("/processes/referral_triage").get_data(as_text=True)
    assert "Rolled back to version 1: back to two days" in page and re.search(r"v3\s*<span class=\"badge badge-on_time\">Live", page)


def test_form_editor_page(app, people, triage):
    boss = browser(app, "boss")
    page = boss.get("/forms/triage_referral.schema.json").get_data(as_text=True)
    assert "Preview with UI schema" in page and "triage_referral.uischema.json" in page
    assert boss.get("/forms/nothing.schema.json").status_code == 404
    assert "New form" in boss.get("/forms/nothing.schema.json?new=1").get_data(as_text=True)
