"""A pupil's family through the product (R7, R40): the school records parents and carers, invites them to an
account, links them to the family's tasks, and records a family's answer given on paper when they have none."""
import re

from sqlalchemy import select

from apflow.services import families, placement_file, users
from apflow.store.models import Event, OutboxEmail
from tests.support import PASSWORD, browser, post

CONSENT = "Give written consent"


def _to_consent(life, **referral):
    iid = life.refer(parent_username="", **referral)
    for name in ("Choose the provider", "Draw up the personalised plan", "Assess the placement risks",
                 "Arrange transport and equipment", "Consult the parents or carers"):
        life.do(name, iid)
    return iid


def test_R40_without_a_parent_account_the_school_records_the_signed_paper_consent(app, core, provider_ready):
    life = provider_ready
    iid = _to_consent(life)
    task = life.task(CONSENT, iid)
    assert task["assignee"] is None
    coord = browser(app, "coord")
    page = coord.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Record the family's answer" in page
    answers = {"consent": "given", "signed_name": "Sam T.", "consent_signed_on": "2026-01-12"}
    refused = post(coord, f"/tasks/{task['id']}", {**answers, "action": "for_family", "recorded_how": ""})
    assert refused.status_code == 422 and "Say how the family gave this answer" in refused.get_data(as_text=True)
    assert life.task(CONSENT, iid)  # nothing was completed
    done = post(coord, f"/tasks/{task['id']}", {**answers, "action": "for_family", "recorded_how": "Signed paper form handed in at reception."})
    assert done.status_code == 302
    assert CONSENT not in life.names(iid) and "Approve the placement" in life.names(iid)
    with core.db.session(readonly=True) as s:
        [event] = s.scalars(select(Event).where(Event.instance_id == iid, Event.task_name == CONSENT, Event.kind == "task_completed")).all()
    assert event.actor == "coord" and event.detail["recorded_for_family"] == "Signed paper form handed in at reception."
    entry = next(e for e in placement_file.placement_file(core, life.people["coordinator"], iid)["entries"] if e["name"] == CONSENT)
    assert {a["title"]: a["text"] for a in entry["answers"]}["Your full name"] == "Sam T."


def test_R40_only_the_pupils_school_records_a_familys_answer(app, core, provider_ready):
    life = provider_ready
    iid = _to_consent(life)
    task = life.task(CONSENT, iid)
    for who in ("tutor", "la1", "senco"):
        sent = post(browser(app, who), f"/tasks/{task['id']}", {"consent": "given", "signed_name": "Sam T.", "consent_signed_on": "2026-01-12",
                                                              "action": "for_family", "recorded_how": "Paper form."})
        assert sent.status_code in (403, 404), who
    tutor = browser(app, "tutor")
    api = tutor.post(f"/api/v1/tasks/{task['id']}/record-for-family", json={"data": {}, "recorded_how": "Paper form."},
                     headers={"X-CSRF-Token": tutor.csrf})
    assert api.status_code in (403, 404)
    assert CONSENT in life.names(iid)


def test_R7_R40_the_coordinator_adds_and_invites_a_parent_who_then_holds_the_childs_consent(app, core, provider_ready):
    life = provider_ready
    iid = _to_consent(life)
    coord = browser(app, "coord")
    added = post(coord, "/pupils/P-0001/contacts", {"name": "Sam Taylor", "relationship": "mother", "email": "Sam.Taylor@example.org",
                                                    "phone": "07700 900123", "parental_responsibility": "1", "invite": "1"})
    assert added.status_code == 302
    page = coord.get("/pupils/P-0001").get_data(as_text=True)
    assert "Sam Taylor" in page and "invitation not yet used" in page and page.count("Parents and carers") == 1
    with core.db.session(readonly=True) as s:
        [mail] = s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "sam.taylor@example.org")).all()
    assert "Jordan" not in mail.body and "P-0001" not in mail.body  # nothing about the child leaves the product
    token = re.search(r"/welcome/(\S+)", mail.body).group(1)
    [contact] = families.list_contacts(core, life.people["coordinator"], "P-0001")["contacts"]
    assert life.task(CONSENT, iid)["assignee"] == contact["username"]  # the waiting consent is theirs now

    visitor = app.test_client()
    form = visitor.get(f"/welcome/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert visitor.post(f"/welcome/{token}", data={"csrf_token": csrf, "password": "a-long-passphrase", "confirm": "different"}).status_code == 422
    assert visitor.post(f"/welcome/{token}", data={"csrf_token": csrf, "password": "a-long-passphrase", "confirm": "a-long-passphrase"}).status_code == 302
    assert visitor.get(f"/welcome/{token}").status_code == 404  # the link works once
    login = visitor.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    assert visitor.post("/login", data={"username": contact["username"], "password": "a-long-passphrase", "csrf_token": csrf}).status_code == 302
    assert CONSENT in visitor.get("/inbox").get_data(as_text=True)


def test_R7_a_parent_linked_before_the_consent_stage_receives_it_and_removal_takes_it_back(core, provider_ready):
    life = provider_ready
    iid = life.refer(parent_username="")
    coordinator = life.people["coordinator"]
    added = families.add_contact(core, coordinator, "P-0001", "Sam Taylor", "mother", email="sam@example.org", invite=True)
    for name in ("Choose the provider", "Draw up the personalised plan", "Assess the placement risks",
                 "Arrange transport and equipment", "Consult the parents or carers"):
        life.do(name, iid)
    assert life.task(CONSENT, iid)["assignee"] == added["username"]
    families.remove_contact(core, coordinator, "P-0001", added["id"])
    assert life.task(CONSENT, iid)["assignee"] is None
    assert families.list_contacts(core, coordinator, "P-0001")["contacts"] == []


def test_R81_another_school_and_the_family_cannot_read_or_change_the_family_details(app, core, provider_ready):
    life = provider_ready
    life.refer(parent_username="")  # the only contact is the one added here
    families.add_contact(core, life.people["coordinator"], "P-0001", "Sam Taylor", "mother", phone="07700 900123")
    users.ensure_organisation(core, "Other School", "school")
    users.create_user(core, "coord2", PASSWORD, ["coordinator"], organisations=["Other School"])
    for who in ("coord2", "parent1", "tutor"):
        client = browser(app, who)
        assert client.get("/api/v1/pupils/P-0001/contacts").status_code == 404, who
        assert client.post("/api/v1/pupils/P-0001/contacts", json={"name": "X Y", "relationship": "father", "phone": "1"},
                           headers={"X-CSRF-Token": client.csrf}).status_code == 404
        assert "07700 900123" not in client.get("/pupils/P-0001").get_data(as_text=True)
    api = browser(app, "coord").get("/api/v1/pupils/P-0001/contacts").get_json()
    assert [c["phone"] for c in api["contacts"]] == ["07700 900123"]
    coord = browser(app, "coord")
    bad = coord.post("/api/v1/pupils/P-0001/contacts", json={"name": "X", "relationship": "uncle"}, headers={"X-CSRF-Token": coord.csrf})
    assert bad.status_code == 422 and set(bad.get_json()["error"]["details"]["fields"]) == {"name", "relationship", "phone"}


def test_R7_the_parent_named_on_the_referral_joins_the_pupils_contacts_once_and_their_account_is_linked(core, provider_ready):
    life = provider_ready
    users.create_user(core, "sam.t", PASSWORD, ["parent"], email="sam@example.org")
    iid = life.refer(parent_username="", parent_name="Sam Taylor", parent_relationship="mother", parent_phone="07700 900123",
                     parent_email="Sam@example.org")
    life.refer(parent_username="", parent_name="sam taylor")  # a second referral of the same pupil: nobody typed twice
    [contact] = families.list_contacts(core, life.people["coordinator"], "P-0001")["contacts"]
    assert (contact["name"], contact["relationship_label"], contact["phone"], contact["username"]) == ("Sam Taylor", "Mother", "07700 900123", "sam.t")
    for name in ("Choose the provider", "Draw up the personalised plan", "Assess the placement risks",
                 "Arrange transport and equipment", "Consult the parents or carers"):
        life.do(name, iid)
    assert life.task(CONSENT, iid)["assignee"] == "sam.t"  # the family's task reaches the linked account
