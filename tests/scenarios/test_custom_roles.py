"""Roles as data (issue 17, point 1), on SQLite and PostgreSQL: a manager defines their organisation's own roles, which
carry built-in roles' permissions, gives them to people, and diagrams' lanes name them."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.engine.problems import InvalidDiagram
from apflow.errors import Invalid, NotFound
from apflow.placements.models import Pupil
from apflow.services import deadlines, inbox, instances, processes, roles, users
from apflow.store import outbox
from apflow.store.models import Notification, Organisation
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD, browser, post

NEST, HILL = "The Nest School", "Hilltop School"


def _org(core, name: str) -> int:
    users.ensure_organisation(core, name, "school")
    with core.db.session(readonly=True) as s:
        return s.scalar(select(Organisation.id).where(Organisation.name == name))


def _person(core, username: str, *role_names: str, org: str = NEST):
    return users.create_user(core, username, PASSWORD, list(role_names), email=f"{username}@school.example", organisations=[org])


def _fresh(core, username: str):
    return users.find_user(core, username)


def _notes(core, user) -> list[str]:
    with core.db.session(readonly=True) as s:
        return [n.message for n in s.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))]


def _deploy(core, tmp_path, xml: str, pid: str):
    path = tmp_path / f"{pid}.bpmn"
    path.write_text(xml)
    return processes.deploy_paths(core, [path], by="test")


@pytest.fixture
def nest(core):
    _org(core, NEST)
    return {"boss": _person(core, "boss", "manager"), "coord": _person(core, "coord", "coordinator"),
            "deputy": _person(core, "deputy", "senco"), "head": _person(core, "head", "headteacher")}


def test_issue17_custom_role_receives_the_level_two_escalation(app, core, nest, tmp_path):
    """A manager defines 'Deputy Head' carrying the headteacher's permissions through the API and gives it to a SENCo;
    when a task's deadline is missed twice, the deputy head is told of the second escalation as the headteacher is."""
    boss = browser(app, "boss")
    headers = {"X-CSRF-Token": boss.csrf}
    made = boss.post("/api/v1/roles", json={"title": "Deputy Head", "carries": ["Headteacher"]}, headers=headers)
    assert made.status_code == 201, made.json
    assert made.json["key"] == "deputy_head" and [c["key"] for c in made.json["carries"]] == ["headteacher"]
    given = boss.post(f"/api/v1/roles/{made.json['id']}/members", json={"username": "deputy"}, headers=headers)
    assert given.status_code == 200 and [h["username"] for h in given.json["holders"]] == ["deputy"]

    deputy = _fresh(core, "deputy")
    assert deputy.held_role_names == {"senco", "deputy_head"} and {"headteacher", "senco", "deputy_head"} <= deputy.role_names
    _deploy(core, tmp_path, flow_diagram(pid="due", due_in="P2D"), "due")
    instances.start_instance(core, nest["coord"], "due", {"pupil_name": "Mia K."})
    clock.advance(timedelta(hours=36))
    assert deadlines.fire_due_alerts(core) == 1  # the reminder, to the coordinators
    clock.advance(timedelta(hours=12, minutes=1))
    assert deadlines.fire_due_alerts(core) == 1  # level 1: the managers
    assert _notes(core, deputy) == []
    clock.advance(timedelta(hours=24))
    assert deadlines.fire_due_alerts(core) == 1  # level 2: the headteacher role, and whoever holds a role carrying it
    assert _notes(core, deputy)[0].startswith("Still overdue and not taken on by a manager")
    assert len(_notes(core, nest["head"])) == 1
    [second] = deadlines.list_escalations(core, deputy)
    assert second["level"] == 2


def test_issue17_assistant_dsl_reads_child_protection_of_their_own_school_only(app, core, nest):
    hill, nest_id = _org(core, HILL), _org(core, NEST)
    with core.db.session() as s:
        s.add_all([Pupil(ref="NEST-1", name="Jordan T.", created_at=clock.now(), organisation_id=nest_id),
                   Pupil(ref="HILL-1", name="Sam P.", created_at=clock.now(), organisation_id=hill)])
    role = roles.create(core, nest["boss"], "Assistant DSL", ["dsl"])
    before = browser(app, "coord")
    assert before.get("/api/v1/pupils/NEST-1/child-protection").status_code in (403, 404)
    roles.give(core, nest["boss"], role["id"], "coord")
    assistant = browser(app, "coord")
    assert assistant.get("/api/v1/pupils/NEST-1/child-protection").status_code == 200
    assert assistant.get("/api/v1/pupils/HILL-1/child-protection").status_code in (403, 404)
    with core.db.session(readonly=True) as s:  # the DSL's alerts about their school's pupils reach them; not another school's
        assert "coord" in {u.username for u in outbox.role_members(s, "dsl", nest_id)}
        assert "coord" not in {u.username for u in outbox.role_members(s, "dsl", hill)}
    roles.take(core, nest["boss"], role["id"], "coord")
    assert browser(app, "coord").get("/api/v1/pupils/NEST-1/child-protection").status_code in (403, 404)


def test_issue17_lane_named_after_a_custom_role_is_refused_until_the_role_exists(app, core, nest, tmp_path):
    xml = flow_diagram(pid="attendance", lane="Attendance Officer")
    with pytest.raises(InvalidDiagram) as refused:
        _deploy(core, tmp_path, xml, "attendance")
    [problem] = [p for p in refused.value.problems if "Attendance Officer" in p.message]
    assert problem.element == "Task_check" and "'Check'" in problem.message
    assert "Roles page" in problem.fix and "apflow roles add" in problem.fix and "'AP Coordinator'" in problem.fix

    boss = browser(app, "boss")
    page = post(boss, "/roles", {"title": "Attendance Officer", "carries": ["coordinator"]})
    assert page.status_code == 302
    [made] = roles.list_roles(core, nest["boss"])["custom"]
    assert post(boss, f"/roles/{made['id']}/members", {"user_id": str(nest["deputy"].id)}).status_code == 302

    _deploy(core, tmp_path, xml, "attendance")
    deputy = _fresh(core, "deputy")
    started = instances.start_instance(core, deputy, "attendance", {"pupil_name": "Mia K."})
    client = browser(app, "deputy")
    [task] = [t for t in client.get("/api/v1/tasks").json["tasks"] if t["instance_id"] == started["id"]]
    assert task["role"] == "attendance_officer" and task["name"] == "Check"
    assert "Attendance Officer" in client.get("/inbox").get_data(as_text=True)
    # a manager filters their inbox by their organisation's own role as by a built-in one
    listing = inbox.inbox(core, _fresh(core, "boss"), inbox.InboxQuery(tab="all", role="attendance_officer"))
    assert "attendance_officer" in listing["roles"] and [r["id"] for r in listing["rows"]] == [task["id"]]
    manager_page = browser(app, "boss").get("/inbox?tab=all&role=attendance_officer").get_data(as_text=True)
    assert '<option value="attendance_officer" selected>Attendance Officer</option>' in manager_page
    _org(core, HILL)
    other_manager = _person(core, "hillboss", "manager", org=HILL)  # another school's manager is not offered it
    assert "attendance_officer" not in inbox.inbox(core, other_manager, inbox.InboxQuery(tab="all"))["roles"]
    _person(core, "officer", "senco")
    roles.give(core, nest["boss"], made["id"], "officer")
    assert [c["username"] for c in inbox.colleagues(core, nest["boss"], task["id"])] == ["deputy", "officer"]
    done = instances.complete_task(core, deputy, task["id"], {"outcome": "Called home"})
    assert done["instance"]["status"] == "completed"
    # the SENCo who does not hold the role does not see such tasks
    assert instances.list_ready_tasks(core, nest["head"]) == []


def test_issue17_managers_manage_roles_on_the_page_with_plain_refusals(app, core, nest, tmp_path):
    boss = browser(app, "boss")
    assert post(boss, "/roles", {"title": "Attendance Officer", "carries": ["coordinator"]}).status_code == 302
    shown = boss.get("/roles").get_data(as_text=True)
    assert "Attendance Officer" in shown and "attendance_officer" in shown and "Headteacher" in shown
    [role] = roles.list_roles(core, nest["boss"])["custom"]

    for title, words in [("Headteacher", "built-in role"), ("attendance officer", "already has the role"), ("", "Give the role a title")]:
        refused = post(boss, "/roles", {"title": title})
        assert refused.status_code == 422 and words in refused.get_data(as_text=True)
    assert post(boss, "/roles", {"title": "Finance", "carries": ["parent"]}).status_code == 422
    assert boss.post("/roles", data={"title": "No token"}).status_code == 400  # CSRF like every other page

    assert post(boss, f"/roles/{role['id']}/members", {"user_id": str(nest["coord"].id)}).status_code == 302
    held = post(boss, f"/roles/{role['id']}/delete")
    assert held.status_code == 422 and "while people hold it" in held.get_data(as_text=True) and "coord" in held.get_data(as_text=True)
    assert post(boss, f"/roles/{role['id']}/rename", {"title": "Attendance Lead"}).status_code == 302
    assert roles.list_roles(core, nest["boss"])["custom"][0]["title"] == "Attendance Lead"
    assert post(boss, f"/roles/{role['id']}/members/{nest['coord'].id}/remove").status_code == 302

    _deploy(core, tmp_path, flow_diagram(pid="att", lane="attendance_officer"), "att")  # the key still names it after the rename
    named = post(boss, f"/roles/{role['id']}/delete")
    assert named.status_code == 422 and "Checked att" in named.get_data(as_text=True)


def test_issue17_a_manager_manages_only_their_own_organisations_roles(app, core, nest):
    _org(core, HILL)
    hill_boss = _person(core, "hillboss", "manager", org=HILL)
    hill_role = roles.create(core, hill_boss, "Finance", [])
    with pytest.raises(NotFound):
        roles.rename(core, nest["boss"], hill_role["id"], "Money")
    with pytest.raises(NotFound):
        roles.give(core, nest["boss"], hill_role["id"], "coord")
    mine = roles.create(core, nest["boss"], "Finance", [])  # the same title in another organisation is its own role
    with pytest.raises(NotFound):  # the other school's staff are not this manager's to give roles to
        roles.give(core, nest["boss"], mine["id"], "hillboss")
    client = browser(app, "coord")
    assert client.get("/api/v1/roles").status_code == 403
    assert client.post("/api/v1/roles", json={"title": "X"}, headers={"X-CSRF-Token": client.csrf}).status_code == 403
    assert client.get("/roles").status_code == 403


def test_issue17_a_manager_of_several_organisations_chooses_which(app, core, nest):
    _org(core, HILL)
    both = users.create_user(core, "both", PASSWORD, ["manager"], organisations=[NEST, HILL])
    with pytest.raises(Invalid, match="several organisations"):
        roles.create(core, both, "Finance", [])
    hill = _org(core, HILL)
    made = roles.create(core, both, "Finance", [], organisation_id=hill)
    assert made["organisation_id"] == hill
    listing = browser(app, "both").get(f"/api/v1/roles?organisation_id={hill}").json
    assert listing["organisation"]["name"] == HILL and [r["title"] for r in listing["custom"]] == ["Finance"]
    assert {o["name"] for o in listing["organisations"]} == {NEST, HILL}


def test_issue17_users_are_created_with_role_titles_and_custom_roles(core, nest):
    assert users.create_user(core, "ap", PASSWORD, ["AP Coordinator"], organisations=[NEST]).held_role_names == {"coordinator"}
    roles.create(core, nest["boss"], "Attendance Officer", ["coordinator"])
    officer = users.create_user(core, "att", PASSWORD, ["Attendance Officer"], organisations=[NEST])
    assert officer.held_role_names == {"attendance_officer"} and "coordinator" in officer.role_names
    with pytest.raises(Invalid, match="Unknown role"):
        users.create_user(core, "nobody", PASSWORD, ["Finance"], organisations=[NEST])


def test_issue17_resolving_built_in_lanes_costs_no_query(core, nest, tmp_path):
    """A step whose lanes are built-in roles asks the database nothing more; a custom lane costs one small query."""
    from sqlalchemy import event

    seen = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)
    with core.db.session(readonly=True) as s:
        engine = core.db.engine
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert roles.lane_role(s, "AP Coordinator") == "coordinator" and seen == []
            assert roles.lane_role(s, "Finance") is None
            assert [q for q in seen if q.lstrip().upper().startswith("SELECT")] == [seen[-1]] and "FROM roles" in seen[-1]
        finally:
            event.remove(engine, "before_cursor_execute", listener)
