"""Two schools and a provider on one installation (issue 17): everyone belongs to an organisation, sees only its
placements, and managers manage only their own organisation's people and processes.

School A's placement is walked with the same route list as tests/api/test_authorization_walk.py (ROUTES, with its
sign_in and outcome helpers): school B's coordinator, DSL and manager and a provider that does not deliver the
placement are refused every page and API call about it, while school A's own coordinator is not."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

from apflow.cli import main
from apflow.config import ROOT
from apflow.services import calendars, deadlines, documents, instances, organisations, processes, users
from apflow.store import outbox
from apflow.store.models import Instance, Organisation, User, UserOrganisation
from apflow.web import create_app
from tests.api.test_authorization_walk import EVERYONE, ROUTES, outcome
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD, browser, make_user

SCHOOL_A, SCHOOL_B, PROVIDER = "Ashdown Academy", "Brook School", "Skyline Learning"
PLACEMENT_KEYS = ("{task}", "{instance}", "{doc}", "{esc}", "NEST-0142")


def _add_organisations(core):
    with core.db.session() as s:
        s.add_all([Organisation(name=SCHOOL_A, kind="school"), Organisation(name=SCHOOL_B, kind="school"),
                   Organisation(name=PROVIDER, kind="provider")])


def _org_id(core, name: str) -> int:
    with core.db.session() as s:
        return next(o.id for o in s.query(Organisation).filter(Organisation.name == name))


@pytest.fixture
def app(core):
    return create_app(core=core, run_scheduler=False)


@pytest.fixture
def schools(core, tmp_path, frozen_clock):
    """School A with its coordinator's triage placement (a task, an upload, an escalation); school B's staff; a
    provider's tutor who does not deliver the placement."""
    _add_organisations(core)
    people = {
        "a_coordinator": make_user(core, "a_coord", "coordinator", organisations=[SCHOOL_A]),
        "a_manager": make_user(core, "a_boss", "manager", organisations=[SCHOOL_A]),
        "b_coordinator": make_user(core, "b_coord", "coordinator", organisations=[SCHOOL_B]),
        "b_dsl": make_user(core, "b_dsl", "dsl", organisations=[SCHOOL_B]),
        "b_manager": make_user(core, "b_boss", "manager", organisations=[SCHOOL_B]),
        "tutor": make_user(core, "tutor", "provider", organisations=[PROVIDER]),
    }
    processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")
    due = tmp_path / "due.bpmn"
    due.write_text(flow_diagram(pid="due", due_in="P1D"))
    processes.deploy_paths(core, [due], by="test")
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    coordinator = people["a_coordinator"]
    started = instances.start_instance(core, coordinator, "referral_triage",
                                       {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142", "reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, coordinator, started["id"])
    doc = documents.upload(core, coordinator, started["id"], None, "kid.pdf", "application/pdf", b"%PDF")
    instances.start_instance(core, coordinator, "due", {})
    frozen_clock.advance(timedelta(days=1, minutes=1))
    deadlines.fire_due_alerts(core)
    [esc] = deadlines.list_escalations(core, people["a_manager"])
    return {"people": people, "task": task["id"], "instance": started["id"], "doc": doc, "esc": esc["id"], "filter": 999,
            "staff": coordinator.id, "role": 999, "org": _org_id(core, SCHOOL_A)}


def _placement_routes():
    """The routes about school A's placement, its pupil, task, upload and escalation (not those every person may open
    whatever the placement, such as the 'concern raised' confirmation, which shows nothing of it)."""
    return [(m, t) for m, t, allowed in ROUTES if any(k in t for k in PLACEMENT_KEYS) and not EVERYONE <= allowed]


def _walk(app, schools, username: str) -> dict[str, str]:
    got = {}
    for method, template in _placement_routes():
        client = app.test_client()
        token = _sign_in_as(client, username)
        path = template.format(**{k: schools[k] for k in ("task", "instance", "doc", "esc", "filter", "staff", "role", "org")})
        if path.startswith("/api/v1/"):
            kwargs = {"json": {"data": {}, "note": "walk", "task_ids": [], "action": "claim"}, "headers": {"X-CSRF-Token": token}}
        else:
            kwargs = {"data": {"csrf_token": token, "note": "walk", "task": schools["task"], "action": "claim"}}
        response = client.open(path, method=method, **kwargs)
        got[f"{method} {template}"] = outcome(client, response)
    return got


def _sign_in_as(client, username: str) -> str:
    """The walk's sign_in signs in u_<role>; these people have usernames of their own."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    return token


@pytest.mark.parametrize("username", ["b_coord", "b_dsl", "b_boss", "tutor"])
def test_issue17_another_schools_staff_and_a_provider_not_delivering_are_refused_every_route_of_the_placement(core, schools, username):
    app = create_app(core=core, run_scheduler=False)
    assert len(_placement_routes()) > 40  # the walk really covers the placement's pages and API
    allowed = [route for route, got in _walk(app, schools, username).items() if got != "refused"]
    assert allowed == [], f"{username} reached school A's placement through: {allowed}"


def test_issue17_the_placements_own_coordinator_is_not_refused(core, schools):
    """The control for the walk above: the same requests as school A's coordinator reach the placement."""
    app = create_app(core=core, run_scheduler=False)
    got = _walk(app, schools, "a_coord")
    for route in ("GET /placements/{instance}", "GET /api/v1/instances/{instance}", "GET /tasks/{task}", "GET /api/v1/tasks/{task}",
                  "GET /placements/{instance}/documents/{doc}"):
        assert got[route] == "allowed", route


def test_issue17_a_person_created_without_an_organisation_joins_the_default_one_and_sees_only_its_placements(core, triage):
    _add_organisations(core)
    ours = make_user(core, "ours", "coordinator")  # no organisation named: the installation's own
    theirs = make_user(core, "theirs", "coordinator", organisations=[SCHOOL_B])
    with core.db.session() as s:
        default = organisations.default_organisation(s)
        assert default.is_default and ours.organisation_ids == {default.id}
        assert s.query(Organisation).filter(Organisation.is_default.is_(True)).count() == 1
    mine = instances.start_instance(core, ours, "referral_triage", {"pupil_name": "Amir H.", "pupil_ref": "P-1", "reasons": ["attendance"]})
    other = instances.start_instance(core, theirs, "referral_triage", {"pupil_name": "Mia K.", "pupil_ref": "P-2", "reasons": ["attendance"]})
    assert {t["instance_id"] for t in instances.list_ready_tasks(core, ours)} == {mine["id"]}
    assert {t["instance_id"] for t in instances.list_ready_tasks(core, theirs)} == {other["id"]}
    with pytest.raises(Exception) as refused:
        instances.get_instance(core, ours, other["id"])
    assert getattr(refused.value, "status", None) in (403, 404)


def test_issue17_someone_in_no_organisation_sees_nothing(core, triage):
    """Defence in depth: were a membership ever lost, the person sees no placement, rather than every one."""
    coordinator = make_user(core, "coord", "coordinator")
    started = instances.start_instance(core, coordinator, "referral_triage",
                                       {"pupil_name": "Amir H.", "pupil_ref": "P-1", "reasons": ["attendance"]})
    lost = make_user(core, "lost", "coordinator", "manager")
    with core.db.session() as s:
        s.query(UserOrganisation).filter(UserOrganisation.user_id == lost.id).delete()
    with core.db.session() as s:
        lost = s.get(User, lost.id)
        assert lost.organisation_ids == set()
    assert instances.list_ready_tasks(core, lost) == []
    with pytest.raises(Exception) as refused:
        instances.get_instance(core, lost, started["id"])
    assert getattr(refused.value, "status", None) in (403, 404)


def test_issue17_role_members_never_reaches_another_organisations_staff(core):
    _add_organisations(core)
    a = make_user(core, "a_coord", "coordinator", organisations=[SCHOOL_A])
    b = make_user(core, "b_coord", "coordinator", organisations=[SCHOOL_B])
    ours = make_user(core, "ours", "coordinator")
    a_id, b_id = _org_id(core, SCHOOL_A), _org_id(core, SCHOOL_B)
    with core.db.session() as s:
        assert [u.username for u in outbox.role_members(s, "coordinator", a_id)] == ["a_coord"]
        assert [u.username for u in outbox.role_members(s, "coordinator", [b_id, None])] == ["b_coord"]
        assert outbox.role_members(s, "coordinator", None) == []  # no organisation given: nobody, never everyone
        assert outbox.role_members(s, "coordinator", []) == []
        installation = outbox.installation_organisation(s)
        assert [u.username for u in outbox.role_members(s, "coordinator", installation)] == ["ours"]
    assert {a.id, b.id, ours.id}


def test_issue17_a_manager_of_school_b_cannot_deploy_or_edit_school_as_process(app, core):
    _add_organisations(core)
    make_user(core, "a_boss", "manager", "coordinator", organisations=[SCHOOL_A])
    make_user(core, "b_boss", "manager", "coordinator", organisations=[SCHOOL_B])
    make_user(core, "b_coord", "coordinator", organisations=[SCHOOL_B])
    a_boss, b_boss = browser(app, "a_boss"), browser(app, "b_boss")
    first = {"files": {"ashdown.bpmn": flow_diagram(pid="ashdown_review")}, "note": "ours"}
    created = a_boss.post("/api/v1/processes", json=first, headers={"X-CSRF-Token": a_boss.csrf})
    assert created.status_code == 201, created.get_data(as_text=True)
    a_id, b_id = _org_id(core, SCHOOL_A), _org_id(core, SCHOOL_B)
    with core.db.session() as s:
        assert processes.owner_of(s, "ashdown_review") == a_id
    changed = {"files": {"ashdown.bpmn": flow_diagram(pid="ashdown_review", script="result = 'changed'")}, "note": "theirs"}
    refused = b_boss.post("/api/v1/processes", json=changed, headers={"X-CSRF-Token": b_boss.csrf})
    assert refused.status_code == 403
    assert f"belongs to {SCHOOL_A}" in refused.json["error"]["message"]
    with core.db.session() as s:
        assert processes.latest(s, "ashdown_review").version == 1  # nothing deployed
    assert b_boss.get("/api/v1/processes/ashdown_review/draft").status_code == 403  # nor edited in the browser editor
    assert b_boss.get("/processes/ashdown_review/edit").status_code == 403
    assert a_boss.get("/api/v1/processes/ashdown_review/draft").status_code == 200
    again = a_boss.post("/api/v1/processes", json=changed, headers={"X-CSRF-Token": a_boss.csrf})
    assert again.status_code == 201 and again.json["deployed"][0]["version"] == 2
    # school B's people cannot start school A's own process; school A's can; shared processes stay shared
    started = browser(app, "b_coord").post("/api/v1/processes/ashdown_review/instances", json={"data": {}},
                                           headers={"X-CSRF-Token": browser(app, "b_coord").csrf})
    assert started.status_code == 403
    with core.db.session() as s:
        b_user, a_user = (s.query(User).filter(User.username == n).one() for n in ("b_boss", "a_boss"))
    assert "ashdown_review" not in {p["id"] for p in processes.startable(core, b_user)}
    assert "ashdown_review" in {p["id"] for p in processes.startable(core, a_user)}
    # a new process deployed by school B's manager is school B's
    mine = b_boss.post("/api/v1/processes", json={"files": {"brook.bpmn": flow_diagram(pid="brook_review")}, "note": "ours"},
                       headers={"X-CSRF-Token": b_boss.csrf})
    assert mine.status_code == 201
    with core.db.session() as s:
        assert processes.owner_of(s, "brook_review") == b_id


def test_issue17_shipped_processes_belong_to_the_installations_own_organisation_and_are_shared(core, triage):
    _add_organisations(core)
    b_coord = make_user(core, "b_coord", "coordinator", organisations=[SCHOOL_B])
    with core.db.session() as s:
        assert processes.owner_of(s, "referral_triage") == organisations.default_organisation_id(s)
    assert "referral_triage" in {p["id"] for p in processes.startable(core, b_coord)}
    started = instances.start_instance(core, b_coord, "referral_triage", {"pupil_name": "Mia K.", "pupil_ref": "P-2", "reasons": ["attendance"]})
    b_id = _org_id(core, SCHOOL_B)
    with core.db.session() as s:
        assert s.get(Instance, started["id"]).organisation_id == b_id


def test_issue17_managers_manage_only_their_own_organisations_people(app, core):
    _add_organisations(core)
    make_user(core, "a_boss", "manager", organisations=[SCHOOL_A])
    a_coord = make_user(core, "a_coord", "coordinator", organisations=[SCHOOL_A])
    b_coord = make_user(core, "b_coord", "coordinator", organisations=[SCHOOL_B])
    boss = browser(app, "a_boss")
    headers = {"X-CSRF-Token": boss.csrf}
    listing = boss.get("/api/v1/people").json
    assert {p["username"] for p in listing["staff"]} == {"a_boss", "a_coord"}
    assert [o["name"] for o in listing["organisations"]] == [SCHOOL_A]
    assert boss.put(f"/api/v1/people/{b_coord.id}/roles", json={"roles": ["dsl"]}, headers=headers).status_code == 404
    assert boss.post(f"/api/v1/people/{b_coord.id}/disable", headers=headers).status_code == 404
    into_b = boss.post("/api/v1/people", json={"username": "kim", "display_name": "Kim", "email": "kim@example.org", "roles": ["coordinator"],
                                               "organisation_id": _org_id(core, SCHOOL_B)}, headers=headers)
    assert into_b.status_code == 422 and "your own organisations" in str(into_b.json)
    # members: not into school B, not school B's people, and never out of someone's last organisation
    b_id, a_id = _org_id(core, SCHOOL_B), _org_id(core, SCHOOL_A)
    assert boss.post(f"/api/v1/organisations/{b_id}/members", json={"user_id": a_coord.id}, headers=headers).status_code == 404
    assert boss.post(f"/api/v1/organisations/{a_id}/members", json={"user_id": b_coord.id}, headers=headers).status_code == 404
    assert boss.get(f"/api/v1/organisations/{b_id}/members").status_code == 404
    last = boss.delete(f"/api/v1/organisations/{a_id}/members/{a_coord.id}", headers=headers)
    assert last.status_code == 422 and "belongs to no other organisation" in last.json["error"]["message"]
    page = boss.post(f"/organisations/{a_id}/members/remove", data={"csrf_token": boss.csrf, "user_id": a_coord.id})
    assert page.status_code == 422 and "belongs to no other organisation" in page.get_data(as_text=True)
    with core.db.session() as s:
        assert s.get(User, a_coord.id).organisation_ids == {a_id}


def test_issue17_someone_who_also_works_for_another_organisation_is_not_managed_by_one_of_them_alone(app, core):
    """Roles hold in every organisation a person works for: a provider's manager must not make a tutor who also works
    for school A a DSL (which school A would then see); school A's manager alone must not either. The installation's
    own managers still can."""
    _add_organisations(core)
    make_user(core, "p_boss", "manager", organisations=[PROVIDER])
    make_user(core, "a_boss", "manager", organisations=[SCHOOL_A])
    both = make_user(core, "both", "provider", organisations=[PROVIDER, SCHOOL_A])
    installer_id = make_user(core, "installer", "manager").id  # no organisation given: the installation's own
    provider_id = _org_id(core, PROVIDER)
    with core.db.session() as s:  # the installation's manager works with the provider too
        s.add(UserOrganisation(user_id=installer_id, organisation_id=provider_id))
    for username in ("p_boss", "a_boss"):
        boss = browser(app, username)
        listed = {p["username"] for p in boss.get("/api/v1/people").json["staff"]}
        assert "both" not in listed, username
        refused = boss.put(f"/api/v1/people/{both.id}/roles", json={"roles": ["dsl"]}, headers={"X-CSRF-Token": boss.csrf})
        assert refused.status_code == 404, username
    assert users.find_user(core, "both").role_names == {"provider"}
    installer = browser(app, "installer")
    assert "both" in {p["username"] for p in installer.get("/api/v1/people").json["staff"]}
    changed = installer.put(f"/api/v1/people/{both.id}/roles", json={"roles": ["provider", "coordinator"]},
                            headers={"X-CSRF-Token": installer.csrf})
    assert changed.status_code == 200, changed.json


def test_issue17_the_installations_managers_add_organisations_and_their_first_members(app, core):
    make_user(core, "boss", "manager")  # the installation's own organisation
    colleague = make_user(core, "colleague", "coordinator")
    boss = browser(app, "boss")
    headers = {"X-CSRF-Token": boss.csrf}
    added = boss.post("/api/v1/organisations", json={"name": "  Riverside   Primary ", "kind": "school"}, headers=headers)
    assert added.status_code == 201 and added.json["name"] == "Riverside Primary" and not added.json["is_default"]
    again = boss.post("/api/v1/organisations", json={"name": "riverside primary", "kind": "school"}, headers=headers)
    assert again.status_code == 422 and "already an organisation called" in again.json["error"]["message"]
    wrong = boss.post("/api/v1/organisations", json={"name": "Hilltop", "kind": "club"}, headers=headers)
    assert wrong.status_code == 422 and "kind" in wrong.json["error"]["details"]["fields"]
    page = boss.post("/organisations", data={"csrf_token": boss.csrf, "name": "Oak Tutors", "kind": "provider"})
    assert page.status_code == 302
    listing = boss.get("/api/v1/organisations").json
    assert listing["can_add"] and {"Riverside Primary", "Oak Tutors"} <= {o["name"] for o in listing["organisations"]}
    assert "Oak Tutors" in boss.get("/organisations").get_data(as_text=True)
    # the colleague joins the new school as well, then leaves the installation's own organisation
    riverside = added.json["id"]
    joined = boss.post(f"/api/v1/organisations/{riverside}/members", json={"user_id": colleague.id}, headers=headers)
    assert joined.status_code == 200 and riverside in joined.json["organisations"]
    members_page = boss.get(f"/organisations/{riverside}").get_data(as_text=True)
    assert "Members of Riverside Primary" in members_page and "colleague" in members_page
    with core.db.session() as s:
        own = organisations.default_organisation_id(s)
    left = boss.delete(f"/api/v1/organisations/{own}/members/{colleague.id}", headers=headers)
    assert left.status_code == 200 and left.json["organisations"] == [riverside]
    # a manager of another school adds no organisation
    make_user(core, "rboss", "manager", organisations=["Riverside Primary"])
    other = browser(app, "rboss")
    assert other.post("/api/v1/organisations", json={"name": "Elm", "kind": "school"}, headers={"X-CSRF-Token": other.csrf}).status_code == 403
    assert other.get("/api/v1/organisations").json["can_add"] is False


def test_issue17_organisations_from_the_command_line(tmp_path):
    env = {"APFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "APFLOW_INSTANCE_DIR": str(tmp_path / "instance"),
           "APFLOW_ORGANISATION_NAME": "St Anne's School"}

    def run(*args, input=None):
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    added = run("organisations", "add", "Northshire Council", "--kind", "la")
    assert added.exit_code == 0 and "Northshire Council" in added.output
    assert run("organisations", "add", "Northshire Council", "--kind", "la").exit_code == 1
    created = run("users", "create", "priya", "--role", "coordinator", "--password-stdin", input="a long enough secret\n")
    assert created.exit_code == 0, created.output
    officer = run("users", "create", "graham", "--role", "la_officer", "--organisation", "Northshire Council", "--password-stdin",
                  input="a long enough secret\n")
    assert officer.exit_code == 0, officer.output
    missing = run("users", "create", "sam", "--role", "coordinator", "--organisation", "Nowhere", "--password-stdin",
                  input="a long enough secret\n")
    assert missing.exit_code == 1 and "no organisation named 'Nowhere'" in missing.output
    listed = run("organisations", "list")
    assert listed.exit_code == 0
    lines = {line.split("\t")[2]: line for line in listed.output.splitlines()}
    assert "installation's own" in lines["St Anne's School"] and "1 member(s)" in lines["St Anne's School"]
    assert "1 member(s)" in lines["Northshire Council"] and "installation's own" not in lines["Northshire Council"]
    from apflow.config import Settings
    from apflow.services.core import Core

    core = Core(Settings.from_env(env))
    try:
        assert users.find_user(core, "priya").organisation_ids == {
            next(o["id"] for o in organisations.all_organisations(core) if o["is_default"])}
    finally:
        core.db.dispose()
