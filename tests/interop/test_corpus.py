"""Diagrams in the style of other BPMN tools deploy and run to their end through the JSON API (issue 17).

For every folder of tests/interop/corpus/ (one per convention: bpmn.io's demo, Camunda 7 candidate groups, formKey
with Camunda Forms, SpiffArena forms, service tasks, ...), on SQLite and on PostgreSQL:

1. a manager deploys the folder's diagrams and form files with POST /api/v1/processes;
2. a user holding run.json's `start_as` role starts the process with POST /api/v1/processes/<id>/instances;
3. for each step, a user holding the step's role (or the named `as_user`) finds the ready task by its name in
   GET /api/v1/tasks?instance=<id> and completes it with POST /api/v1/tasks/<id>/complete;
4. the instance is completed (and holds `expect.data`, when given).

tests/interop/README.md describes run.json.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from lxml import etree

from apflow.services import users
from apflow.web import create_app
from tests.support import PASSWORD

CORPUS = Path(__file__).resolve().parent / "corpus"
FOLDERS = sorted(path for path in CORPUS.iterdir() if path.is_dir()) if CORPUS.is_dir() else []
DIAGRAM = (".bpmn",)
FORMS = (".json", ".form")
NOT_FORMS = {"run.json", "process_model.json"}  # the run's script, SpiffArena's model metadata
WAIT_SECONDS = 15  # how long a task may take to appear after the step before it (a service task's worker, say)
MANAGER = "corpus_manager"


def _text(data: bytes) -> str:
    """A file's text in the encoding its XML declaration names (any the XML standard allows), else UTF-8."""
    if data.lstrip().startswith(b"<"):
        declared = etree.fromstring(data).getroottree().docinfo.encoding or "UTF-8"
        return data.decode(declared)
    return data.decode("utf-8")


def _files(folder: Path) -> dict[str, str]:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in NOT_FORMS and path.suffix.lower() in DIAGRAM + FORMS:
            files[path.name] = _text(path.read_bytes())
    return files


def _username(role_or_user: str) -> str:
    return "corpus_" + (re.sub(r"[^a-z0-9]+", "_", role_or_user.lower()).strip("_") or "user")


class Runner:
    """One folder's run through the API: the users it needs, made as they are first asked for."""

    def __init__(self, core, client, declared: list[dict] | None = None):
        self.core, self.client, self.tokens = core, client, {}
        self.declared = {entry["username"]: list(entry.get("roles", [])) for entry in declared or []}  # run.json's "users"
        self._user(MANAGER, ["manager"])

    def _user(self, username: str, roles: list[str]) -> str:
        if username not in self.tokens:
            with self.core.db.session() as s:
                users.add_user(s, username, PASSWORD, roles)
            response = self.client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, (username, response.json)
            self.tokens[username] = {"Authorization": f"Bearer {response.json['token']}"}
        return username

    def person(self, role: str | None = None, username: str | None = None) -> str:
        """Who acts: the user named by `as_user` (or by `as`, when run.json's "users" declares that name), holding the
        roles declared for them (else the role given); otherwise one user holding the role, the same each time."""
        if not username and role in self.declared:
            username, role = role, None
        if username:
            return self._user(username, self.declared.get(username) or ([role] if role else []))
        assert role, "Each step names the role (`as`) or the user (`as_user`) who completes it."
        return self._user(_username(role), [role])

    def call(self, method: str, path: str, username: str, body=None, expect=(200, 201)):
        response = self.client.open(path, method=method, json=body, headers=self.tokens[username])
        assert response.status_code in expect, f"{method} {path} as {username}: {response.status_code} {response.get_data(as_text=True)}"
        return response.json

    def ready_task(self, instance_id: int, name: str, username: str) -> dict:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            tasks = self.call("GET", f"/api/v1/tasks?instance={instance_id}", username)["tasks"]
            found = [t for t in tasks if (t.get("name") or "").strip() == name.strip()]
            if found:
                return found[0]
            instance = self.call("GET", f"/api/v1/instances/{instance_id}", MANAGER)
            if instance["status"] != "running" or time.monotonic() > deadline:
                pytest.fail(f"No ready task named {name!r} for {username} in instance {instance_id} "
                            f"(status {instance['status']}, error {instance.get('error')}); "
                            f"their ready tasks: {[t.get('name') for t in tasks]}")
            time.sleep(0.2)


def _process_to_start(run: dict, deployed: list[dict]) -> str:
    if run.get("process"):
        return run["process"]
    ids = [d["process_id"] for d in deployed]
    assert len(ids) == 1, f"The folder deploys {ids}: name the one to start in run.json's \"process\"."
    return ids[0]


def _holds(data, expected) -> bool:
    if isinstance(expected, dict):
        return isinstance(data, dict) and all(key in data and _holds(data[key], value) for key, value in expected.items())
    return data == expected


@pytest.fixture
def client(core):
    return create_app(core=core, run_scheduler=False).test_client()


def test_issue17_the_corpus_has_folders_and_each_says_how_to_run_it():
    assert FOLDERS, "tests/interop/corpus/ holds no folders"
    for folder in FOLDERS:
        assert (folder / "run.json").is_file(), f"{folder.name}: add run.json (see tests/interop/README.md)"
        assert any(p.suffix == ".bpmn" for p in folder.iterdir()), f"{folder.name}: no .bpmn file"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda path: path.name)
def test_issue17_corpus_diagram_deploys_and_runs_to_its_end_through_the_api(core, client, folder: Path):
    run_file = folder / "run.json"
    if not run_file.is_file():
        pytest.fail(f"{folder.name}: no run.json yet, so there is nothing to run (see tests/interop/README.md)")
    run = json.loads(run_file.read_text("utf-8"))
    runner = Runner(core, client, run.get("users"))

    deployed = runner.call("POST", "/api/v1/processes", MANAGER, {"files": _files(folder), "note": f"corpus: {folder.name}"})
    process_id = _process_to_start(run, deployed["deployed"])

    starter = runner.person(run.get("start_as"), run.get("start_as_user"))
    instance = runner.call("POST", f"/api/v1/processes/{process_id}/instances", starter, {"data": run.get("start_data") or {}})
    instance_id = instance["id"]

    for number, step in enumerate(run.get("steps", []), 1):
        person = runner.person(step.get("as"), step.get("as_user"))
        task = runner.ready_task(instance_id, step["task"], person)
        runner.call("POST", f"/api/v1/tasks/{task['id']}/complete", person, {"data": step.get("data") or {}})

    expect = run.get("expect", {"completed": True})
    deadline = time.monotonic() + WAIT_SECONDS
    final = runner.call("GET", f"/api/v1/instances/{instance_id}", MANAGER)
    while expect.get("completed", True) and final["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        final = runner.call("GET", f"/api/v1/instances/{instance_id}", MANAGER)
    if expect.get("completed", True):
        left = runner.call("GET", f"/api/v1/tasks?instance={instance_id}", MANAGER)["tasks"]
        assert final["status"] == "completed", (folder.name, final["status"], final.get("error"), [t["name"] for t in left])
    if "data" in expect:
        assert _holds(final["data"], expect["data"]), (folder.name, final["data"])
