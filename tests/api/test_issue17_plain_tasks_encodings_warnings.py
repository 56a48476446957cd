"""Diagrams from other tools through the API and the pages, on SQLite and PostgreSQL (issue 17): a plain bpmn:task is
a manual task in its lane's inbox with its instructions and Done; a user task without a form deploys with a
warning and is done the same way; a diagram in ISO-8859-1, windows-1252 or UTF-16 deploys, keeps its accented
names, opens in the editor and runs to its end; a set of broken diagrams is refused with every problem at once."""
from __future__ import annotations

import io
import re
from pathlib import Path

from click.testing import CliRunner

from apflow.cli import main
from apflow.services import drafts, processes
from apflow.store.models import ProcessVersion
from tests.support import PASSWORD, browser, make_user

CORPUS = Path(__file__).resolve().parents[1] / "interop" / "corpus"
REPR_OR_TRACEBACK = re.compile(r"0x[0-9a-f]+|<[A-Za-z_.]+ |Traceback|Exception|Error:")


def token(client, username):
    response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def people(core):
    return {"boss": make_user(core, "boss", "manager"), "coord": make_user(core, "coord", "coordinator"),
            "head": make_user(core, "head", "headteacher")}


def ready(client, headers, instance_id):
    return client.get(f"/api/v1/tasks?instance={instance_id}", headers=headers).json["tasks"]


def complete(client, headers, instance_id, name):
    [task] = [t for t in ready(client, headers, instance_id) if t["name"] == name]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=headers)
    assert done.status_code == 200, done.json
    return task


def test_issue17_a_plain_task_is_in_its_lanes_inbox_with_its_instructions_and_a_done_button(core, app):
    who = people(core)
    client = app.test_client()
    boss, coord, head = (token(client, name) for name in ("boss", "coord", "head"))
    source = (CORPUS / "plain_task" / "placement_sign_off.bpmn").read_text("utf-8")
    deployed = client.post("/api/v1/processes", json={"files": {"placement_sign_off.bpmn": source}}, headers=boss)
    assert deployed.status_code == 201, deployed.json
    instance = client.post("/api/v1/processes/placement_sign_off/instances", json={"data": {}}, headers=coord).json
    [task] = ready(client, coord, instance["id"])
    assert task["name"] == "Call the family" and ready(client, head, instance["id"]) == []  # the coordinators' lane only
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=coord).json
    assert detail["documentation"].startswith("Phone the parent or carer")

    page = browser(app, "coord").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Phone the parent or carer" in page and ">Done</button>" in page and "Complete task</button>" not in page
    assert who["coord"]  # the page was shown to a member of the lane's role

    complete(client, coord, instance["id"], "Call the family")
    complete(client, head, instance["id"], "Sign off the placement")
    assert client.get(f"/api/v1/instances/{instance['id']}", headers=boss).json["status"] == "completed"


def test_issue17_a_user_task_without_a_form_deploys_with_a_warning_and_is_done_with_no_answers(core, app):
    people(core)
    client = app.test_client()
    boss, coord = token(client, "boss"), token(client, "coord")
    files = {"welcome_pack.bpmn": (CORPUS / "formless_user_task" / "welcome_pack.bpmn").read_text("utf-8")}
    checked = client.post("/api/v1/processes/validate", json={"files": files}, headers=boss).json
    assert checked["ok"] is True and [p["severity"] for p in checked["problems"]] == ["warning"]
    deployed = client.post("/api/v1/processes", json={"files": files}, headers=boss)
    assert deployed.status_code == 201
    [warning] = deployed.json["deployed"][0]["warnings"]
    assert warning["element"] == "Task_read_pack" and warning["severity"] == "warning" and warning["fix"]
    instance = client.post("/api/v1/processes/welcome_pack/instances", json={"data": {}}, headers=coord).json
    [task] = ready(client, coord, instance["id"])
    page = browser(app, "coord").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Read the welcome pack the provider sent" in page and ">Done</button>" in page
    complete(client, coord, instance["id"], "Read the provider's welcome pack")
    assert client.get(f"/api/v1/instances/{instance['id']}", headers=boss).json["status"] == "completed"


def test_issue17_a_latin1_diagram_deploys_from_disk_opens_in_the_editor_and_runs_to_its_end(core, app):
    who = people(core)
    client = app.test_client()
    boss, coord, head = (token(client, name) for name in ("boss", "coord", "head"))
    folder = CORPUS / "iso_8859_1"
    assert b"R\xe9union de r\xe9vision" in (folder / "revision_placement.bpmn").read_bytes()  # Latin-1 bytes on disk
    [item] = processes.deploy_paths(core, [folder], by="test")
    with core.db.session(readonly=True) as session:
        stored = session.get(ProcessVersion, item.version_id)
        assert stored.name == "R\u00e9vision de placement"
        text = stored.sources["revision_placement.bpmn"]
    # What is stored, and what the editor opens, is a faithful UTF-8 transcoding whose declaration says so.
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "R\u00e9union de r\u00e9vision" in text
    assert drafts.get_draft(core, who["boss"], "revision_placement")["xml"] == text
    editor = client.get("/api/v1/processes/revision_placement/draft", headers=boss).json
    assert "V\u00e9rifier le compte rendu" in editor["xml"]

    instance = client.post("/api/v1/processes/revision_placement/instances", json={"data": {}}, headers=coord).json
    complete(client, coord, instance["id"], "R\u00e9union de r\u00e9vision")
    complete(client, head, instance["id"], "V\u00e9rifier le compte rendu")
    final = client.get(f"/api/v1/instances/{instance['id']}", headers=boss).json
    assert final["status"] == "completed" and final["data"]["compte_rendu"] == "r\u00e9vis\u00e9"


def test_issue17_utf16_and_windows1252_diagrams_upload_into_the_editor_and_deploy(core, app):
    who = people(core)
    latin = (CORPUS / "iso_8859_1" / "revision_placement.bpmn").read_bytes().decode("latin-1")
    utf16 = latin.replace('encoding="ISO-8859-1"', 'encoding="UTF-16"').encode("utf-16")  # with its byte-order mark
    result = drafts.upload(core, who["boss"], "revision_placement.bpmn", utf16)
    assert "R\u00e9union de r\u00e9vision" in result["xml"] and 'encoding="UTF-8"' in result["xml"]
    deployed = drafts.deploy_draft(core, who["boss"], "revision_placement", result["saved_revision"], "from a UTF-16 file")
    assert deployed["version"] == 1

    cp1252 = latin.replace('encoding="ISO-8859-1"', 'encoding="windows-1252"').replace("Réunion de révision", "Réunion – révision")
    client = browser(app, "boss")  # the library page's upload, as a manager's browser sends it
    response = client.post("/processes/upload", data={"csrf_token": client.csrf, "process_id": "revision_placement",
                                                      "revision": str(result["saved_revision"]),
                                                      "file": (io.BytesIO(cp1252.encode("cp1252")), "revision_placement.bpmn")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Réunion – révision" in drafts.get_draft(core, who["boss"], "revision_placement")["xml"]


def test_issue17_undeclared_latin1_bytes_are_refused_in_plain_words(core, app):
    who = people(core)
    latin = (CORPUS / "iso_8859_1" / "revision_placement.bpmn").read_bytes().replace(b' encoding="ISO-8859-1"', b"")
    try:
        drafts.upload(core, who["boss"], "revision_placement.bpmn", latin)
    except Exception as err:  # noqa: BLE001 - the service's Invalid, checked below
        problems = err.details["problems"]
    else:
        raise AssertionError("undeclared Latin-1 bytes were accepted")
    [problem] = problems
    assert "not UTF-8" in problem["message"] and "encoding=" in problem["fix"] and not REPR_OR_TRACEBACK.search(problem["message"])


def test_issue17_broken_diagrams_are_refused_with_every_problem_at_once_in_plain_words(core, app):
    people(core)
    client = app.test_client()
    boss = token(client, "boss")
    good = (CORPUS / "plain_task" / "placement_sign_off.bpmn").read_text("utf-8")
    files = {
        "no_script.bpmn": good.replace('<bpmn:task id="Activity_1call_family"', '<bpmn:scriptTask id="Activity_1call_family"')
                              .replace("</bpmn:task>\n    <bpmn:task id=\"Activity_0sign_off\"", "</bpmn:scriptTask>\n    <bpmn:task id=\"Activity_0sign_off\"")
                              .replace("placement_sign_off", "p_no_script"),
        "complex.bpmn": good.replace('<bpmn:task id="Activity_0sign_off"', '<bpmn:complexGateway id="Activity_0sign_off"')
                            .replace("</bpmn:task>\n    <bpmn:endEvent", "</bpmn:complexGateway>\n    <bpmn:endEvent").replace("placement_sign_off", "p_complex"),
        "get_env.bpmn": good.replace('<bpmn:task id="Activity_1call_family" name="Call the family">',
                                     '<bpmn:scriptTask id="Activity_1call_family" name="Call the family">')
                            .replace("</bpmn:outgoing>\n    </bpmn:task>\n    <bpmn:task id=\"Activity_0sign_off\"",
                                     "</bpmn:outgoing>\n      <bpmn:script>key = get_env('KEY')</bpmn:script>\n    </bpmn:scriptTask>\n    <bpmn:task id=\"Activity_0sign_off\"")
                            .replace("placement_sign_off", "p_get_env"),
        "broken.bpmn": "<bpmn:definitions",
    }
    refused = client.post("/api/v1/processes", json={"files": files}, headers=boss)
    assert refused.status_code == 422
    problems = refused.json["error"]["details"]["problems"]
    assert {p["file"] for p in problems} == set(files), problems
    assert all(p["fix"] and p["severity"] == "error" and not REPR_OR_TRACEBACK.search(p["message"] + p["fix"]) for p in problems)
    assert {p["element"] for p in problems if p["file"] != "broken.bpmn"} == {"Activity_1call_family", "Activity_0sign_off"}
    assert client.get("/api/v1/processes", headers=boss).json["processes"] == []


def test_issue17_validate_prints_warnings_apart_and_exits_0_when_there_are_only_warnings(tmp_path):
    env = {"APFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "APFLOW_INSTANCE_DIR": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["validate", str(CORPUS / "formless_user_task")], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("warning: welcome_pack.bpmn: Task_read_pack: ") and lines[-1] == "ok, with 1 warning(s)"
