"""Access gaps an attacker found against the running demo (issue 14), each closed and proved here: another
organisation's manager, assignment to people not entitled, long-lived and unrevocable tokens, session cookies that
outlive sign-out, missing browser protections, sign-in floods and lockouts that reveal accounts, non-Latin file
names, and a database file anyone on the machine could read."""
from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from apflow.clock import clock
from apflow.config import ROOT, Settings
from apflow.errors import Conflict, Invalid, NotFound
from apflow.placements.models import Pupil, PupilContact
from apflow.services import deadlines, documents, inbox, instances, processes, users
from apflow.services import people as staff
from apflow.store.db import Database
from apflow.store.models import Event, HumanTask
from apflow.web import create_app, throttle
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD, browser, post, token_for

NEST, HILLTOP, LA = "The Nest School", "Hilltop School", "Northshire County Council"


@pytest.fixture
def app(core):
    return create_app(core=core, run_scheduler=False)


@pytest.fixture
def orgs(core):
    """Two schools and an LA, each with its own staff; two parents with no organisation."""
    for name, kind in [(NEST, "school"), (HILLTOP, "school"), (LA, "la")]:
        users.ensure_organisation(core, name, kind)
    cast = [("coord", ["coordinator"], NEST), ("coord_b", ["coordinator"], NEST), ("boss", ["manager"], NEST),
            ("hill_coord", ["coordinator"], HILLTOP), ("hill_boss", ["manager"], HILLTOP), ("la1", ["la_officer"], LA),
            ("nest_la", ["la_officer"], NEST), ("mum", ["parent"], None), ("other_mum", ["parent"], None)]
    return {name: users.create_user(core, name, PASSWORD, roles, display_name=name.replace("_", " ").title(),
                                    organisations=[org] if org else []) for name, roles, org in cast}


def deploy(core, tmp_path, xml: str, name: str) -> None:
    path = tmp_path / f"{name}.bpmn"
    path.write_text(xml)
    processes.deploy_paths(core, [path], by="test")


def assigned_to(lane: str, pid: str) -> str:
    """A one-task diagram whose task sits in `lane` and goes to the user named in the variable `named` (assignTo)."""
    return flow_diagram(pid=pid, lane=lane).replace(
        "<spiffworkflow:properties>", '<spiffworkflow:properties><spiffworkflow:property name="assignTo" value="named" />', 1)


# -- another organisation's manager ------------------------------------------------------------

def test_another_organisations_manager_sees_no_deadline_or_escalation_and_cannot_retry(core, app, orgs, tmp_path, frozen_clock):
    deploy(core, tmp_path, flow_diagram(pid="due", due_in="P1D"), "due")
    iid = instances.start_instance(core, orgs["coord"], "due", {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142"})["id"]
    frozen_clock.advance(timedelta(days=1, minutes=1))
    deadlines.fire_due_alerts(core)

    [mine] = deadlines.list_escalations(core, orgs["boss"])  # The Nest's manager: the escalation, the overdue row
    assert [i["pupil"] for i in deadlines.dashboard(core, orgs["boss"])["items"]] == ["Jordan T."]

    outsider = orgs["hill_boss"]
    assert deadlines.dashboard(core, outsider)["items"] == []
    assert deadlines.list_escalations(core, outsider) == []
    assert deadlines.list_escalations(core, outsider, include_closed=True) == []
    with pytest.raises(NotFound):
        deadlines.acknowledge(core, outsider, mine["id"], "not mine to take")
    with pytest.raises(NotFound):
        instances.retry(core, outsider, iid)
    with pytest.raises(Conflict):  # The Nest's manager gets past the check (there is simply nothing to retry)
        instances.retry(core, orgs["boss"], iid)

    page = browser(app, "hill_boss").get("/dashboard").get_data(as_text=True)
    assert "Jordan T." not in page
    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"username": "hill_boss", "password": PASSWORD}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/escalations", headers=headers).json == {"escalations": []}
    assert api.post(f"/api/v1/escalations/{mine['id']}/acknowledge", json={"note": "x"}, headers=headers).status_code == 404
    assert api.post(f"/api/v1/instances/{iid}/retry", headers=headers).status_code == 404
    assert deadlines.acknowledge(core, orgs["boss"], mine["id"], "on it")["state"] == "acknowledged"


# -- assignment: the hand-over list, assign and assignTo ---------------------------------------

def test_assignment_goes_only_to_people_entitled_and_assign_to_falls_back_with_an_event(core, orgs, tmp_path):
    deploy(core, tmp_path, flow_diagram(pid="plain"), "plain")
    iid = instances.start_instance(core, orgs["coord"], "plain", {"pupil_name": "Jordan T."})["id"]
    [task] = instances.list_ready_tasks(core, orgs["coord"], iid)
    offered = {c["username"] for c in inbox.colleagues(core, orgs["boss"], task["id"])}
    assert offered == {"coord", "coord_b"}  # no parent, nobody of Hilltop, no LA officer
    for outsider in ("hill_coord", "mum", "la1"):
        with pytest.raises(Invalid):
            inbox.assign(core, orgs["boss"], task["id"], outsider)
    bulk = inbox.bulk(core, orgs["boss"], [task["id"]], "assign", "hill_coord")
    assert bulk["done"] == [] and task["id"] in bulk["failed"]
    inbox.assign(core, orgs["boss"], task["id"], "coord_b")

    # assignTo on a family task: only a parent or carer the school linked to the pupil
    with core.db.session() as s:
        school = _org_id(orgs["coord"])
        pupil = Pupil(ref="NEST-0142", name="Jordan T.", created_at=clock.now(), organisation_id=school)
        s.add(pupil)
        s.flush()
        s.add(PupilContact(pupil_id=pupil.id, name="Mum", relationship="mother", user_id=orgs["mum"].id, added_at=clock.now(),
                           added_by="coord", parental_responsibility=True))
    deploy(core, tmp_path, assigned_to("Parent", "consent"), "consent")
    for named, expected in [("other_mum", "mum"), ("mum", "mum"), ("coord", "mum")]:
        iid = instances.start_for(core, orgs["coord"], "consent", {"pupil_ref": "NEST-0142", "named": named}, school)["id"]
        assert _holder(core, iid) == expected, named  # not the other child's parent: the pupil's own linked parent
    refused = _refusals(core)
    assert [e.detail["named"] for e in refused] == ["other_mum", "coord"]
    assert "not a parent or carer linked to this pupil" in refused[0].detail["message"]

    # assignTo on staff tasks: the task's role, in the placement's organisations (an LA's officers work with any school)
    deploy(core, tmp_path, assigned_to("AP Coordinator", "staffed"), "staffed")
    deploy(core, tmp_path, assigned_to("LA officer", "po"), "po")
    for pid, named, expected in [("staffed", "hill_coord", None), ("staffed", "mum", None), ("staffed", "coord_b", "coord_b"),
                                 ("po", "la1", "la1"), ("po", "nest_la", "nest_la"), ("po", "hill_coord", None)]:
        iid = instances.start_for(core, orgs["coord"], pid, {"named": named}, school)["id"]
        assert _holder(core, iid) == expected, (pid, named)
    assert [e.detail["named"] for e in _refusals(core)][2:] == ["hill_coord", "mum", "hill_coord"]


def _org_id(user) -> int:
    [org] = user.organisation_ids
    return org


def _holder(core, instance_id: int) -> str | None:
    with core.db.session(readonly=True) as s:
        task = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "ready"))
        return users.usernames(s, [task.assignee_id]).get(task.assignee_id)


def _refusals(core) -> list[Event]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(Event).where(Event.kind == "assignment_refused").order_by(Event.id)))


# -- API tokens --------------------------------------------------------------------------------

def test_tokens_are_short_lived_end_at_a_password_change_and_can_be_revoked(core, app, people, frozen_clock):
    api = app.test_client()

    def token():
        response = api.post("/api/v1/tokens", json={"username": "coord", "password": PASSWORD})
        assert response.status_code == 201
        return {"Authorization": f"Bearer {response.json['token']}"}

    def works(headers) -> bool:
        return api.get("/api/v1/me", headers=headers).status_code == 200

    first = token()
    assert api.post("/api/v1/tokens", json={"username": "coord", "password": PASSWORD}).json["expires_in_hours"] == 8
    frozen_clock.advance(timedelta(hours=7, minutes=59))
    assert works(first)
    frozen_clock.advance(timedelta(minutes=2))
    assert not works(first)  # a sign-in token lasts a working day

    one, two = token(), token()
    assert api.delete("/api/v1/tokens/current", headers=one).json == {"revoked": 1}
    assert not works(one) and works(two)  # signing one script out leaves the others
    assert api.delete("/api/v1/tokens/current").status_code == 401

    session = browser(app, "coord")
    three = token()
    assert api.delete("/api/v1/tokens", headers=two).json == {"revoked": 2}  # sign out everywhere
    assert not works(two) and not works(three)
    assert session.get("/inbox").status_code == 302  # the browser session ended too

    four = token()
    post(browser(app, "coord"), "/logout", {"everywhere": "1"})  # the same from the account page's button
    assert not works(four)

    five = token()
    users.change_password(core, people["coordinator"].id, PASSWORD, "a brand new passphrase", "a brand new passphrase")
    assert not works(five)
    users.set_password(core, "coord", PASSWORD)
    assert works(token())


# -- browser sessions --------------------------------------------------------------------------

def _copy_of(app, client):
    """Another browser holding a copy of this one's session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def signed_in(client) -> bool:
    return client.get("/inbox").status_code == 200


def test_a_session_cookie_stops_working_at_sign_out_password_change_and_disable(core, app, people):
    mine = browser(app, "coord")
    thief = _copy_of(app, mine)
    assert signed_in(thief)
    post(mine, "/logout")
    assert not signed_in(thief) and not signed_in(mine)

    here, elsewhere = browser(app, "coord"), browser(app, "coord")
    changed = post(here, "/account/password", {"current": PASSWORD, "new": "another long passphrase", "confirm": "another long passphrase"})
    assert changed.status_code == 302
    assert signed_in(here) and not signed_in(elsewhere)  # the browser that changed it stays signed in
    users.set_password(core, "coord", PASSWORD)
    assert not signed_in(here)

    before = browser(app, "coord")
    staff.disable(core, people["manager"], people["coordinator"].id)
    staff.enable(core, people["manager"], people["coordinator"].id)
    assert not signed_in(before)  # enabled again: their old sessions stay ended
    assert signed_in(browser(app, "coord"))


# -- browser protections -----------------------------------------------------------------------

def test_every_response_carries_the_policy_and_cookies_are_secure_over_https(core, app, people, settings):
    client = browser(app, "coord")
    for path in ("/login", "/inbox", "/api/v1/openapi.json", "/vendor/pico/pico.min.css", "/no-such-page", "/api/v1/tasks"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
        assert re.search(r"script-src 'self';", policy), path  # no inline script anywhere
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "same-origin", path
    assert "unsafe-inline" not in client.get("/inbox").headers["Content-Security-Policy"]
    assert "Secure" not in app.test_client().get("/login").headers.get("Set-Cookie", "")

    settings.https = True
    secure = create_app(core=core, run_scheduler=False)
    page = secure.test_client().get("/login")
    assert "; Secure" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]
    assert secure.config["REMEMBER_COOKIE_SECURE"] is True
    assert Settings.from_env({"APFLOW_HTTPS": "1"}).https is True


def test_templates_have_no_inline_script_or_event_handlers():
    """What the policy would block: an inline <script> (data blocks of type application/json are not run) or an
    on...= handler attribute. Behaviour lives in the app's own files (static/page.js for small things)."""
    found = []
    for path in sorted((ROOT / "apflow" / "web" / "templates").glob("*.html")):
        text = path.read_text()
        for script in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in script and 'type="application/json"' not in script:
                found.append(f"{path.name}: {script}")
        found += [f"{path.name}: {m}" for m in re.findall(r"\son[a-z]+\s*=\s*[\"']", text)]
        found += [f"{path.name}: style attribute" for _ in re.findall(r"\sstyle\s*=", text)]
    assert found == []


# -- sign-in: the same answer for every username, limits before Argon2 ---------------------------

class CountingHasher(PasswordHasher):
    checks = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        CountingHasher.checks += 1
        return super().verify(hash, password)


@pytest.fixture
def counted(monkeypatch):
    CountingHasher.checks = 0
    monkeypatch.setattr(users, "_hasher", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return CountingHasher


def sign(client, username, password="wrong password", address="10.0.0.1"):
    return client.post("/api/v1/tokens", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address})


def test_unknown_usernames_take_the_same_path_and_limits_refuse_before_any_password_check(core, app, people, counted, frozen_clock):
    client = app.test_client()
    real, unknown = sign(client, "coord", address="10.0.0.2"), sign(client, "nobody-here", address="10.0.0.3")
    assert (real.status_code, real.json["error"]["message"]) == (unknown.status_code, unknown.json["error"]["message"]) == (
        401, "Wrong username or password.")
    assert counted.checks == 2  # one Argon2 check each: an unknown name costs what a real one does

    for _ in range(throttle.PAIR_LIMIT - 1):
        sign(client, "coord", address="10.0.0.2"), sign(client, "nobody-here", address="10.0.0.3")
    checks = counted.checks
    real, unknown = sign(client, "coord", PASSWORD, address="10.0.0.2"), sign(client, "nobody-here", PASSWORD, address="10.0.0.3")
    assert real.status_code == unknown.status_code == 429
    assert real.json["error"]["message"] == unknown.json["error"]["message"]  # a lockout says nothing about the account
    assert "locked" in real.json["error"]["message"]
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"] == str(int(throttle.PAIR_WINDOW))
    assert counted.checks == checks  # refused before Argon2 ran
    assert sign(client, "coord", PASSWORD, address="10.0.0.9").status_code == 201  # the owner elsewhere is not locked out
    frozen_clock.advance(timedelta(seconds=throttle.PAIR_WINDOW))
    assert sign(client, "coord", PASSWORD, address="10.0.0.2").status_code == 201  # and the lock lifts by itself

    # a flood from one address: only ADDRESS_LIMIT guesses reach Argon2, the rest are refused at once
    checks = counted.checks
    flood = [sign(client, f"guess{n}", address="10.6.6.6") for n in range(24)]
    assert [r.status_code for r in flood].count(401) == throttle.ADDRESS_LIMIT
    assert all(r.status_code == 429 and int(r.headers["Retry-After"]) <= throttle.ADDRESS_WINDOW for r in flood[throttle.ADDRESS_LIMIT:])
    assert counted.checks - checks == throttle.ADDRESS_LIMIT
    assert sign(client, "coord", PASSWORD, address="10.0.0.7").status_code == 201  # a real sign-in elsewhere goes through

    # the login page answers the same way
    page = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").get_data(as_text=True)).group(1)
    refused = page.post("/login", data={"username": "coord", "password": PASSWORD, "csrf_token": csrf},
                        environ_base={"REMOTE_ADDR": "10.6.6.6"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers and "locked" in refused.get_data(as_text=True)


def test_a_spread_attack_cannot_keep_the_owner_out_of_an_address_they_use(core, app, people, counted, frozen_clock):
    client = app.test_client()
    assert sign(client, "coord", PASSWORD, address="192.0.2.10").status_code == 201  # the owner's usual address
    for n in range(throttle.USERNAME_LIMIT):  # guesses from many addresses, one each
        assert sign(client, "coord", address=f"198.51.100.{n}").status_code == 401
    assert sign(client, "coord", PASSWORD, address="203.0.113.1").status_code == 429  # a new address waits
    assert sign(client, "nobody", PASSWORD, address="203.0.113.2").status_code == 401  # other accounts are unaffected
    assert sign(client, "coord", PASSWORD, address="192.0.2.10").status_code == 201  # the owner's own address does not
    frozen_clock.advance(timedelta(seconds=throttle.USERNAME_WINDOW))
    assert sign(client, "coord", PASSWORD, address="203.0.113.1").status_code == 201


def test_a_burst_in_flight_is_counted_before_any_finishes(frozen_clock):
    limits = throttle.SignInLimits()
    started = [limits.begin("10.1.1.1", f"name{n}") for n in range(throttle.ADDRESS_LIMIT)]  # none finished yet
    with pytest.raises(throttle.Refused):
        limits.begin("10.1.1.1", "one more")
    limits.succeeded(started[0], "10.1.1.1", "name0")  # a right password gives its place back
    limits.begin("10.1.1.1", "one more")


# -- downloads named in any script -------------------------------------------------------------

@pytest.mark.parametrize("name", ["Отчёт о посещаемости.pdf", "تقرير الحضور.pdf", "Zoë's plan 📄.pdf", 'report "final"\r\n.pdf'])
def test_documents_with_non_latin_names_download(core, app, people, triage, name):
    iid = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})["id"]
    doc = documents.upload(core, people["coordinator"], iid, None, name, "application/pdf", b"%PDF-1.4 test")
    response = browser(app, "coord").get(f"/placements/{iid}/documents/{doc}")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 test"
    disposition = response.headers["Content-Disposition"]
    clean = name.replace('"', "").replace("\r", "").replace("\n", "")
    assert disposition.startswith("attachment; filename=")
    if clean.isascii():
        assert clean in disposition
    else:
        assert f"filename*=UTF-8''{quote(clean, safe='')}" in disposition
        assert re.search(r'filename="?[ -~]+"?;', disposition)  # an ASCII name for older clients too


# -- the database file -------------------------------------------------------------------------

def test_the_sqlite_file_and_the_instance_folder_are_private(tmp_path):
    folder = tmp_path / "instance"
    database = Database(f"sqlite:///{folder / 'apflow.sqlite3'}")
    database.upgrade()
    assert _mode(folder) == 0o700
    assert _mode(folder / "apflow.sqlite3") == 0o600
    for companion in folder.glob("apflow.sqlite3-*"):  # -wal and -shm, while connections are open
        assert _mode(companion) & 0o077 == 0, companion.name
    database.dispose()

    loose = tmp_path / "loose.sqlite3"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    Database(f"sqlite:///{loose}").dispose()
    assert _mode(loose) & 0o007 == 0

    fresh = Settings.from_env({}, instance_dir=tmp_path / "fresh", secret_key="")
    fresh.ensure_secret_key()
    assert _mode(tmp_path / "fresh") == 0o700 and _mode(tmp_path / "fresh" / "secret_key") == 0o600


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_who_is_asking_is_read_afresh_on_every_request(core, app, people, triage):
    """The person behind a token or a browser session is built once and kept by the web process (building it costs
    more than reading it), but only while their rows hold exactly what the copy holds: a role, a custom role's
    meaning, an organisation or the account itself changed by anyone, here by another process, counts at once."""
    from apflow.store.models import CustomRole, User, UserOrganisation, UserRole

    api = app.test_client()
    coord = token_for(api, "coord")
    other = Database(core.db.url)  # another process's connection to the same database
    user_id = people["coordinator"].id

    def roles() -> list:
        response = api.get("/api/v1/me", headers=coord)
        return response.json["roles"] if response.status_code == 200 else response.status_code

    def change(*statements) -> None:
        with other.engine.begin() as connection:
            for statement in statements:
                connection.execute(statement)

    first = users.user_for_token(core, coord["Authorization"].split()[1])
    assert users.user_for_token(core, coord["Authorization"].split()[1]) is first  # kept while nothing changed
    assert roles() == ["coordinator"]
    assert api.post("/api/v1/processes/referral_triage/instances", json={"data": {}}, headers=coord).status_code == 201

    held = UserRole.__table__
    change(held.delete().where(held.c.user_id == user_id), held.insert().values(user_id=user_id, role="parent"))
    assert roles() == ["parent"]
    assert api.post("/api/v1/processes/referral_triage/instances", json={"data": {}}, headers=coord).status_code == 403
    assert users.user_for_token(core, coord["Authorization"].split()[1]) is not first

    [organisation_id] = first.organisation_ids
    custom = CustomRole.__table__
    with other.engine.begin() as connection:
        role_id = connection.execute(custom.insert().values(organisation_id=organisation_id, key="deputy_head", title="Deputy Head",
                                                             carries=["headteacher"], created_at=clock.now(), created_by="test")
                                     .returning(custom.c.id)).scalar_one()
    change(held.insert().values(user_id=user_id, role="deputy_head", custom_role_id=role_id))
    assert roles() == ["deputy_head", "headteacher", "parent"]
    change(custom.update().where(custom.c.id == role_id).values(carries=["coordinator"]))  # the role now means another
    assert roles() == ["coordinator", "deputy_head", "parent"]

    member = UserOrganisation.__table__
    change(member.delete().where(member.c.user_id == user_id))
    assert users.user_for_token(core, coord["Authorization"].split()[1]).organisation_ids == set()

    session = browser(app, "coord")
    assert session.get("/inbox").status_code == 200
    change(User.__table__.update().where(User.__table__.c.id == user_id).values(active=False))
    assert roles() == 401
    assert session.get("/inbox").status_code == 302  # the browser session's person is read the same way
    other.dispose()
