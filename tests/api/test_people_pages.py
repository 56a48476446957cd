"""Managers manage staff through the product: the People page and /api/v1/people. They add and invite staff of their
own organisations, change their roles, disable and enable them; nobody else can, and another organisation's manager
cannot even tell they exist."""
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from apflow.services import inbox, instances, users
from apflow.store.models import OutboxEmail
from tests.support import PASSWORD, browser, post


@pytest.fixture
def school(core):
    """Two schools: The Nest (manager boss, coordinator coord, a parent) and Hillside (manager other_boss, a SENCo)."""
    for name in ("The Nest", "Hillside"):
        users.ensure_organisation(core, name, "school")

    def person(username, role, org, **extra):
        return users.create_user(core, username, PASSWORD, [role], display_name=username.title(), organisations=[org], **extra)

    return {"boss": person("boss", "manager", "The Nest"), "coord": person("coord", "coordinator", "The Nest"),
            "parent": person("mum", "parent", "The Nest", email="mum@example.org"),
            "other_boss": person("other_boss", "manager", "Hillside"), "hill_senco": person("hill_senco", "senco", "Hillside")}


def _org_id(client, name):
    page = client.get("/people").get_data(as_text=True)
    return re.search(rf'<option value="(\d+)"[^>]*>{name}</option>', page).group(1)


def _mails(core, address):
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id)))


def _welcome(app, token, password="a-long-passphrase"):
    visitor = app.test_client()
    form = visitor.get(f"/welcome/staff/{token}")
    if form.status_code != 200:
        return form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    return visitor.post(f"/welcome/staff/{token}", data={"csrf_token": csrf, "password": password, "confirm": password})


def _can_sign_in(app, username, password):
    client = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf}).status_code == 302


def test_a_manager_adds_and_invites_a_member_of_staff_who_chooses_a_password_and_signs_in(app, core, school, triage):
    instances.start_instance(core, school["coord"], "referral_triage", {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142", "reasons": ["attendance"]})
    boss = browser(app, "boss")
    page = boss.get("/people").get_data(as_text=True)
    assert ">People</a>" in page and "Add a member of staff" in page and "Coord" in page
    assert "Hillside" not in page and "Hill_Senco" not in page and "Mum" not in page  # only The Nest's staff, never families
    assert 'value="parent"' not in page and 'value="pupil"' not in page and "SENCo" in page  # role checkboxes, with titles

    added = post(boss, "/people", {"username": "priya", "display_name": "Priya Shah", "email": "Priya.Shah@example.org",
                                   "organisation_id": _org_id(boss, "The Nest"), "roles": ["dsl", "senco"]})
    assert added.status_code == 302
    page = unescape(boss.get("/people").get_data(as_text=True))
    assert "Priya Shah was added with the username priya" in page
    row = page[page.index("Priya Shah<br>"):].split("</tr>")[0]
    assert "priya.shah@example.org" in row and "DSL, SENCo" in row and "The Nest" in row and "Invitation not yet used" in row

    [mail] = _mails(core, "priya.shah@example.org")
    assert "Jordan" not in mail.body and "NEST-0142" not in mail.body  # nothing about a pupil leaves the product
    assert "priya" in mail.body and "The Nest" in mail.body
    token = re.search(r"^/welcome/staff/(\S+)$", mail.body, re.MULTILINE).group(1)
    assert not _can_sign_in(app, "priya", "a-long-passphrase")  # no usable password until they choose one

    assert _welcome(app, token).status_code == 302
    assert _can_sign_in(app, "priya", "a-long-passphrase")
    assert _welcome(app, token).status_code == 404  # the link works once
    assert "Invitation not yet used" not in boss.get("/people").get_data(as_text=True)


def test_the_add_form_refuses_what_a_manager_may_not_give_and_keeps_the_values(app, core, school):
    boss = browser(app, "boss")
    hillside = str(school["other_boss"].memberships[0].organisation_id)
    good = {"username": "newbie", "display_name": "New Person", "email": "new@example.org", "organisation_id": _org_id(boss, "The Nest"),
            "roles": ["coordinator"]}
    cases = [({"roles": ["wizard"]}, "There is no role called wizard"),
             ({"roles": ["parent"]}, "Parents and pupils are added on the pupil's page"),
             ({"roles": []}, "Choose at least one role"),
             ({"username": "coord"}, "The username coord is taken"),
             ({"email": ""}, "Give an e-mail address"),
             ({"email": "mum@example.org"}, "Another account uses this e-mail address"),
             ({"organisation_id": hillside}, "Choose one of your own organisations")]
    for change, message in cases:
        response = post(boss, "/people", {**good, **change})
        page = unescape(response.get_data(as_text=True))
        assert response.status_code == 422, change
        assert message in page and "nobody was added" in page and 'aria-invalid="true"' in page, change
        assert 'value="New Person"' in page, change  # what was typed is kept
    assert "Hillside" not in boss.get("/people").get_data(as_text=True)  # not even offered
    assert not _mails(core, "new@example.org")
    assert users.find_user(core, "newbie") is None


def test_the_api_adds_lists_and_refuses_with_field_errors(app, core, school):
    boss = browser(app, "boss")
    headers = {"X-CSRF-Token": boss.csrf}
    nest = int(_org_id(boss, "The Nest"))
    refused = boss.post("/api/v1/people", json={"username": "coord", "display_name": "X", "email": "x@example.org", "roles": ["pupil"],
                                                "organisation_id": nest}, headers=headers)
    assert refused.status_code == 422
    assert set(refused.json["error"]["details"]["fields"]) == {"username", "roles"}
    assert boss.post("/api/v1/people", json={}, headers={}).status_code == 403  # a browser session's write needs the CSRF header

    added = boss.post("/api/v1/people", json={"username": "lee", "display_name": "Lee Ng", "email": "lee@example.org", "roles": ["headteacher"],
                                              "organisation_id": nest}, headers=headers)
    assert added.status_code == 201
    assert added.json["invited"] and added.json["active"] and [r["title"] for r in added.json["roles"]] == ["Headteacher"]
    listing = boss.get("/api/v1/people").json
    assert {p["username"] for p in listing["staff"]} == {"boss", "coord", "lee"}
    assert [o["name"] for o in listing["organisations"]] == ["The Nest"]
    assert "parent" not in {r["slug"] for r in listing["roles"]}

    changed = boss.put(f"/api/v1/people/{added.json['id']}/roles", json={"roles": ["headteacher", "dsl"]}, headers=headers)
    assert changed.status_code == 200 and [r["slug"] for r in changed.json["roles"]] == ["dsl", "headteacher"]
    assert boss.put(f"/api/v1/people/{added.json['id']}/roles", json={"roles": ["parent"]}, headers=headers).status_code == 422


def test_a_coordinator_cannot_see_or_change_staff(app, core, school):
    coord = browser(app, "coord")
    assert ">People</a>" not in coord.get("/inbox").get_data(as_text=True)
    assert coord.get("/people").status_code == 403
    assert post(coord, "/people", {"username": "sneaky", "display_name": "S", "email": "s@example.org", "roles": ["manager"]}).status_code == 403
    assert post(coord, f"/people/{school['boss'].id}/disable").status_code == 403
    assert post(coord, f"/people/{school['coord'].id}/roles", {"roles": ["manager"]}).status_code == 403
    headers = {"X-CSRF-Token": coord.csrf}
    assert coord.get("/api/v1/people").status_code == 403
    assert coord.put(f"/api/v1/people/{school['coord'].id}/roles", json={"roles": ["manager"]}, headers=headers).status_code == 403
    assert coord.post(f"/api/v1/people/{school['boss'].id}/disable", headers=headers).status_code == 403
    assert users.find_user(core, "sneaky") is None and users.find_user(core, "coord").role_names == {"coordinator"}
    assert users.find_user(core, "boss").active


def test_another_schools_manager_cannot_tell_our_staff_exist(app, core, school):
    other = browser(app, "other_boss")
    listing = other.get("/api/v1/people").json
    assert {p["username"] for p in listing["staff"]} == {"other_boss", "hill_senco"}
    coord_id = school["coord"].id
    for path in (f"/people/{coord_id}/disable", f"/people/{coord_id}/invite", f"/people/{coord_id}/enable"):
        assert post(other, path).status_code == 404, path
    assert post(other, f"/people/{coord_id}/roles", {"roles": ["senco"]}).status_code == 404
    headers = {"X-CSRF-Token": other.csrf}
    missing = other.post(f"/api/v1/people/{coord_id}/disable", headers=headers)
    nobody = other.post("/api/v1/people/99999/disable", headers=headers)
    assert missing.status_code == nobody.status_code == 404 and missing.json == nobody.json  # the same answer as for nobody at all
    assert other.put(f"/api/v1/people/{school['parent'].id}/roles", json={"roles": ["senco"]}, headers=headers).status_code == 404
    coord = users.find_user(core, "coord")
    assert coord.active and coord.role_names == {"coordinator"}


def test_a_disabled_person_is_signed_out_cannot_sign_in_and_their_tasks_go_back(app, core, school, triage):
    started = instances.start_instance(core, school["coord"], "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, school["coord"], started["id"])
    inbox.claim(core, school["coord"], task["id"])
    coord = browser(app, "coord")
    token = app.test_client().post("/api/v1/tokens", json={"username": "coord", "password": PASSWORD}).json["token"]
    assert coord.get("/inbox").status_code == 200

    boss = browser(app, "boss")
    done = post(boss, f"/people/{school['coord'].id}/disable")
    assert done.status_code == 302
    page = unescape(boss.get("/people").get_data(as_text=True))
    assert "Coord can no longer sign in. The 1 task(s) they held are back with their role" in page
    assert "Disabled" in page and ">Enable<" in page

    refused = coord.get("/inbox")  # the session they already had
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert not _can_sign_in(app, "coord", PASSWORD)
    assert instances.list_ready_tasks(core, school["boss"], started["id"])[0]["assignee"] is None

    assert post(boss, f"/people/{school['coord'].id}/enable").status_code == 302
    assert _can_sign_in(app, "coord", PASSWORD)
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401  # tokens stay revoked


def test_a_manager_cannot_disable_themselves_or_drop_their_own_manager_role(app, core, school):
    boss = browser(app, "boss")
    me = school["boss"].id
    assert f'/people/{me}/disable"' not in boss.get("/people").get_data(as_text=True)  # no button for it
    refused = post(boss, f"/people/{me}/disable")
    assert refused.status_code == 422 and "You cannot disable your own account" in unescape(refused.get_data(as_text=True))
    dropped = post(boss, f"/people/{me}/roles", {"roles": ["coordinator"]})
    page = unescape(dropped.get_data(as_text=True))
    assert dropped.status_code == 422 and "You cannot remove your own manager role" in page and 'aria-invalid="true"' in page
    api = boss.put(f"/api/v1/people/{me}/roles", json={"roles": ["senco"]}, headers={"X-CSRF-Token": boss.csrf})
    assert api.status_code == 422 and "roles" in api.json["error"]["details"]["fields"]
    assert boss.post(f"/api/v1/people/{me}/disable", headers={"X-CSRF-Token": boss.csrf}).status_code == 422
    me_now = users.find_user(core, "boss")
    assert me_now.active and me_now.role_names == {"manager"}
    assert post(boss, f"/people/{me}/roles", {"roles": ["manager", "coordinator"]}).status_code == 302  # adding one is fine
    assert users.find_user(core, "boss").role_names == {"manager", "coordinator"}


def test_roles_change_on_the_page_and_a_new_invitation_replaces_the_old(app, core, school, frozen_clock):
    boss = browser(app, "boss")
    post(boss, "/people", {"username": "sam", "display_name": "Sam Lee", "email": "sam@example.org",
                           "organisation_id": _org_id(boss, "The Nest"), "roles": ["senco"]})
    sam = users.find_user(core, "sam")
    assert post(boss, f"/people/{sam.id}/roles", {"roles": ["senco", "deputy_dsl"]}).status_code == 302
    assert users.find_user(core, "sam").role_names == {"senco", "deputy_dsl"}
    assert "roles are now: Deputy DSL, SENCo" in unescape(boss.get("/people").get_data(as_text=True))

    [first] = _mails(core, "sam@example.org")
    first_token = re.search(r"/welcome/staff/(\S+)", first.body).group(1)
    frozen_clock.advance(timedelta(days=8))
    assert _welcome(app, first_token).status_code == 404  # lapsed after 7 days
    assert "Invitation lapsed" in boss.get("/people").get_data(as_text=True)
    assert post(boss, f"/people/{sam.id}/invite").status_code == 302
    second = _mails(core, "sam@example.org")[-1]
    second_token = re.search(r"/welcome/staff/(\S+)", second.body).group(1)
    assert second_token != first_token
    assert _welcome(app, second_token).status_code == 302 and _can_sign_in(app, "sam", "a-long-passphrase")


def test_disabling_withdraws_an_unused_invitation(app, core, school):
    boss = browser(app, "boss")
    post(boss, "/people", {"username": "kim", "display_name": "Kim", "email": "kim@example.org",
                           "organisation_id": _org_id(boss, "The Nest"), "roles": ["provider"]})
    token = re.search(r"/welcome/staff/(\S+)", _mails(core, "kim@example.org")[0].body).group(1)
    post(boss, f"/people/{users.find_user(core, 'kim').id}/disable")
    assert _welcome(app, token).status_code == 404
    refused = post(boss, f"/people/{users.find_user(core, 'kim').id}/invite")
    assert refused.status_code == 422 and "enable it before sending an invitation" in unescape(refused.get_data(as_text=True))


def test_issue17_a_single_school_manager_adds_staff_to_the_installations_own_organisation(app, core, people):
    """A single-school install: everyone is in the installation's own organisation (people made with none join it), and
    its manager adds staff to it without choosing."""
    boss = browser(app, "boss")
    listing = boss.get("/api/v1/people").json
    assert {p["username"] for p in listing["staff"]} == {"coord", "coord2", "head", "boss"}
    own = [{"id": o["id"], "name": o["name"]} for o in listing["organisations"]]
    assert len(own) == 1
    added = boss.post("/api/v1/people", json={"username": "ali", "display_name": "Ali", "email": "ali@example.org", "roles": ["coordinator"]},
                      headers={"X-CSRF-Token": boss.csrf})
    assert added.status_code == 201 and added.json["organisations"] == own
