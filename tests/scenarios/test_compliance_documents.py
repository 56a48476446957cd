"""Provider compliance over time (R25, with R20-R23 and R80): each provider's insurance, safeguarding confirmation,
registration, information sharing agreement and site assessments, with expiry dates. A document due for renewal opens
one renewal task ahead of time; an expired one blocks new starts with the provider, and an expired insurance or
safeguarding confirmation runs the safeguarding cascade for the commissioning schools of that provider's placements
only; a renewal lifts the block. The commissioning side keeps them, the provider's own staff upload renewals, another
school and another provider see nothing."""
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import gates
from apflow.placements.models import ComplianceDocument, LogEntry, Placement, Provider
from apflow.services import compliance, instances, users
from apflow.store.models import HumanTask, Instance, Notification, Organisation, OutboxEmail
from tests.scenarios.conftest import seed_approved_provider
from tests.support import PASSWORD, browser, post

RENEW = "Renew a provider's compliance document"
INVITE = "Invite everyone to the review"


def staff(core, username, role, organisation, kind="school"):
    users.ensure_organisation(core, organisation, kind)
    with core.db.session() as s:
        return users.add_user(s, username, PASSWORD, [role], username.title(), f"{username}@example.org", [organisation])


def _today(life) -> date:
    from apflow.placements.common import today

    return today()


def _provider_id(core, name="Bridges Learning") -> int:
    with core.db.session(readonly=True) as s:
        return s.scalar(select(Provider.id).where(Provider.name == name))


def _record(life, kind="public_liability", days=40, user=None, **extra) -> dict:
    values = {"kind": kind, "expires_on": (_today(life) + timedelta(days=days)).isoformat(), "title": "Zurich policy ZP-1",
              "reference": "Shared drive: Providers/Bridges/Insurance", **extra}
    return compliance.record(life.core, user or life.people["coordinator"], _provider_id(life.core), values)


def _renewal_tasks(core) -> list[HumanTask]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.form_schema == "compliance_renewal.schema.json")))


def test_R25_a_document_due_for_renewal_opens_one_task_30_days_ahead_that_escalates(provider_ready):
    life = provider_ready
    doc = _record(life, days=40)
    assert doc["status"] == "accepted" and doc["state"] == "valid" and doc["state_words"].startswith("Valid until")
    assert compliance.open_renewals(life.core) == 0  # 40 days ahead: too early
    life.clock.advance(timedelta(days=9))
    assert compliance.open_renewals(life.core) == 0  # 31 days ahead
    life.clock.advance(timedelta(days=1))
    assert compliance.open_renewals(life.core) == 1  # 30 days ahead: the task opens
    assert compliance.open_renewals(life.core) == 0  # the next run (or a second scheduler) opens nothing more
    [task] = _renewal_tasks(life.core)
    assert task.name == RENEW and task.role == "coordinator" and task.provider_name == "Bridges Learning"
    assert task.escalate_to == "headteacher" and task.due_at.date() == date.fromisoformat(doc["expires_on"])
    [shown] = compliance.overview(life.core, life.people["coordinator"], _provider_id(life.core))["in_force"]
    assert shown["state"] == "due" and shown["state_words"].startswith("Due for renewal: expires on") and "(in 30 days)" in shown["state_words"]
    assert compliance.for_task(life.core, life.people["coordinator"], task.id)["document"]["id"] == doc["id"]

    # the task cannot be closed as renewed until a renewed document is in force
    coordinator = life.people["coordinator"]
    with pytest.raises(Invalid, match="No renewed public liability insurance is in force yet"):
        instances.complete_task(life.core, coordinator, task.id, {"renewal_outcome": "renewed"})
    _record(life, days=400, title="Zurich policy ZP-2")
    instances.complete_task(life.core, coordinator, task.id, {"renewal_outcome": "renewed"})
    assert _renewal_tasks(life.core)[0].state == "completed"
    life.clock.advance(timedelta(days=1))
    assert compliance.open_renewals(life.core) == 0  # the replaced document opens nothing more


def test_R25_R23_R80_an_expired_insurance_blocks_new_starts_and_cascades_to_that_providers_schools_only_until_renewed(provider_ready):
    life = provider_ready
    core = life.core
    seed_approved_provider(core, "Greenfield Farm")
    north = {"coord": staff(core, "ncoord", "coordinator", "North School"), "dsl": staff(core, "ndsl", "dsl", "North School")}
    south = {"coord": staff(core, "scoord", "coordinator", "South School"), "dsl": staff(core, "sdsl", "dsl", "South School")}
    life.join("North School", "South School")  # the people driving the lifecycle work for both schools
    bridges_iid = life.active_placement(pupil_ref="P-0001", pupil_name="Jordan T.")
    life.to_running(bridges_iid)
    farm_iid = life.refer(pupil_ref="P-0002", pupil_name="Sam K.")
    life.plan(farm_iid, provider="Greenfield Farm")
    life.do("Approve the placement", farm_iid)
    life.commission(farm_iid)
    life.start(farm_iid)
    life.to_running(farm_iid)
    waiting_iid = life.refer(pupil_ref="P-0003", pupil_name="Alex W.")  # planned with Bridges, not started yet
    life.plan(waiting_iid)
    life.do("Approve the placement", waiting_iid)
    life.commission(waiting_iid)
    with core.db.session() as s:  # North commissions the Bridges placements, South the Greenfield one
        orgs = dict(s.execute(select(Organisation.name, Organisation.id)).all())
        s.execute(update(Instance).where(Instance.id.in_([bridges_iid, waiting_iid])).values(organisation_id=orgs["North School"]))
        s.execute(update(Instance).where(Instance.id == farm_iid).values(organisation_id=orgs["South School"]))
    reviews_before = {iid: life.names(iid).count(INVITE) for iid in (bridges_iid, farm_iid)}
    doc = _record(life, days=5)
    life.clock.advance(timedelta(days=5))
    assert compliance.apply_expiries(core) == 0  # valid to the end of its last day
    life.clock.advance(timedelta(days=1))
    assert compliance.apply_expiries(core) == 1
    assert compliance.apply_expiries(core) == 0  # once

    with core.db.session(readonly=True) as s:
        provider = s.get(Provider, _provider_id(core))
        assert not gates.provider_ready(s, provider)
        told = {u: list(s.scalars(select(Notification).where(Notification.user_id == who.id,
                                                             Notification.kind == "provider_compliance_expired")))
                for u, who in [("ncoord", north["coord"]), ("ndsl", north["dsl"]), ("scoord", south["coord"]), ("sdsl", south["dsl"])]}
        mail = list(s.scalars(select(OutboxEmail).where(OutboxEmail.to_address.in_(["ncoord@example.org", "ndsl@example.org"]))))
        bridges_pid = s.scalar(select(Placement.id).where(Placement.instance_id == bridges_iid))
        history = [e.summary for e in s.scalars(select(LogEntry).where(LogEntry.placement_id == bridges_pid, LogEntry.kind == "cascade_review"))]
    assert told["ncoord"] and told["ndsl"] and not told["scoord"] and not told["sdsl"]
    assert "public liability insurance expired on" in told["ndsl"][0].message and "1 running placement" in told["ndsl"][0].message
    assert len(mail) == 2 and all("Jordan" not in m.body and "P-0001" not in m.body and "Bridges" not in m.body for m in mail)
    assert history and "expired on" in history[0]
    # a review opened on the running placement with Bridges only
    assert life.names(bridges_iid).count(INVITE) == reviews_before[bridges_iid] + 1
    assert life.names(farm_iid).count(INVITE) == reviews_before[farm_iid]

    # no new start with Bridges: not at the choice of provider, not at the start of a placement planned before
    new_iid = life.refer(pupil_ref="P-0004", pupil_name="Robin P.")
    with pytest.raises(Invalid, match="Bridges Learning cannot take new placements: its public liability insurance expired on"):
        life.do("Choose the provider", new_iid, provider_name="Bridges Learning")
    with pytest.raises(Invalid, match="the provider cannot take new placements: its public liability insurance expired on"):
        life.start(waiting_iid)
    page = compliance.overview(core, life.people["coordinator"], _provider_id(core))
    assert page["blocked"] and page["in_force"][0]["state"] == "expired" and page["in_force"][0]["state_words"].startswith("Expired on")

    # the renewal lifts the block
    renewed = _record(life, days=365, title="Zurich policy ZP-2")
    assert renewed["state"] == "valid"
    page = compliance.overview(core, life.people["coordinator"], _provider_id(core))
    assert not page["blocked"] and [d["id"] for d in page["history"]] == [doc["id"]]
    life.do("Choose the provider", new_iid, provider_name="Bridges Learning")
    assert "Draw up the personalised plan" in life.names(new_iid)
    life.start(waiting_iid)
    assert "Commencement review: agree targets" in life.names(waiting_iid)


def test_R25_an_expired_registration_blocks_new_starts_but_runs_no_cascade(provider_ready, running):
    life, iid, _ = running
    _record(life, kind="registration", days=2, title="Ofsted URN 123456")
    life.clock.advance(timedelta(days=3))
    before = life.names(iid).count(INVITE)
    assert compliance.apply_expiries(life.core) == 1
    assert life.names(iid).count(INVITE) == before
    with life.core.db.session(readonly=True) as s:
        assert not gates.provider_ready(s, s.get(Provider, _provider_id(life.core)))


@pytest.fixture
def scoped(app, provider_ready):
    """Bridges approved by North School (its approval process belongs to North); South School has nothing to do with it;
    Ann works for Bridges, Gina for Greenfield Farm."""
    life = provider_ready
    core = life.core
    approval = life.approve_provider("Bridges Learning")  # replaces nothing: the seeded Bridges is the same provider
    seed_approved_provider(core, "Greenfield Farm")
    people = {"ncoord": staff(core, "ncoord", "coordinator", "North School"), "nhead": staff(core, "nhead", "headteacher", "North School"),
              "scoord": staff(core, "scoord", "coordinator", "South School"),
              "ann": staff(core, "ann", "provider", "Bridges Learning", "provider"),
              "gina": staff(core, "gina", "provider", "Greenfield Farm", "provider")}
    with core.db.session() as s:
        north = s.scalar(select(Organisation.id).where(Organisation.name == "North School"))
        s.execute(update(Instance).where(Instance.id == approval).values(organisation_id=north))
    return life, people


def test_R25_the_provider_uploads_a_renewal_the_school_accepts_it_and_another_school_or_provider_sees_nothing(app, scoped):
    life, p = scoped
    core, pid = life.core, _provider_id(life.core)
    _record(life, kind="safeguarding", days=20, user=p["ncoord"], title="DBS confirmation letter")

    # the provider's own staff see their documents and upload the renewal (a file), waiting for the school
    ann = browser(app, "ann")
    assert "DBS confirmation letter" in ann.get(f"/providers/{pid}/compliance").get_data(as_text=True)
    expires = (_today(life) + timedelta(days=380)).isoformat()
    sent = post(ann, f"/providers/{pid}/compliance", {"kind": "safeguarding", "expires_on": expires, "title": "DBS letter 2027",
                                                        "file": (io.BytesIO(b"%PDF-1.4 letter"), "dbs.pdf", "application/pdf")},
                content_type="multipart/form-data")
    assert sent.status_code == 302
    [waiting] = compliance.overview(core, p["ncoord"], pid)["waiting"]
    assert waiting["status"] == "submitted" and waiting["has_file"] and waiting["filename"] == "dbs.pdf"
    with pytest.raises(Forbidden):  # the provider cannot accept its own document
        compliance.decide(core, p["ann"], pid, waiting["id"], "accept")
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(Notification.id).where(Notification.user_id == p["ncoord"].id, Notification.kind == "provider_compliance_due"))

    # the school accepts it: in force, the old one kept as history; a second click changes nothing
    north = browser(app, "ncoord")
    assert "Accept: it is in force from now" in north.get(f"/providers/{pid}/compliance").get_data(as_text=True)
    refused = post(north, f"/providers/{pid}/compliance/{waiting['id']}/decision", {"decision": "reject", "notes": ""})
    assert refused.status_code == 422 and "Say why it is not accepted" in refused.get_data(as_text=True)
    assert post(north, f"/providers/{pid}/compliance/{waiting['id']}/decision", {"decision": "accept"}).status_code == 302
    assert post(north, f"/providers/{pid}/compliance/{waiting['id']}/decision", {"decision": "accept"}).status_code == 302
    found = compliance.overview(core, p["ncoord"], pid)
    assert [d["title"] for d in found["in_force"]] == ["DBS letter 2027"] and len(found["history"]) == 1
    assert north.get(f"/providers/{pid}/compliance/{waiting['id']}/file").data == b"%PDF-1.4 letter"
    provider_page = north.get(f"/providers/{pid}").get_data(as_text=True)
    assert "Compliance documents" in provider_page and "Valid until" in provider_page
    assert "Valid until" in browser(app, "nhead").get(f"/providers/{pid}/compliance").get_data(as_text=True)  # sees, cannot record
    assert post(browser(app, "nhead"), f"/providers/{pid}/compliance", {"kind": "registration", "reference": "x"}).status_code == 403

    # another school and another provider: 404 that says nothing, on the page, the file and the API
    for who in ("scoord", "gina", "parent1"):
        client = browser(app, who)
        assert client.get(f"/providers/{pid}/compliance").status_code == 404
        assert client.get(f"/providers/{pid}/compliance/{waiting['id']}/file").status_code == 404
        assert client.get(f"/api/v1/providers/{pid}/compliance").status_code == 404
        assert post(client, f"/providers/{pid}/compliance", {"kind": "registration", "reference": "x"}).status_code == 404
        assert post(client, f"/providers/{pid}/compliance/{waiting['id']}/decision", {"decision": "reject"}).status_code == 404
    assert "Compliance documents" not in browser(app, "scoord").get(f"/providers/{pid}").get_data(as_text=True)
    with pytest.raises(NotFound):
        compliance.record(core, p["gina"], pid, {"kind": "registration", "reference": "Greenfield's own"})


def test_R25_bad_input_is_refused_field_by_field_and_a_double_submit_records_once(app, scoped):
    life, p = scoped
    core, pid = life.core, _provider_id(life.core)
    north = browser(app, "ncoord")
    bad = post(north, f"/providers/{pid}/compliance", {"kind": "public_liability", "expires_on": "31/03/2027"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Give a date like 2027-03-31." in text and "say where it is kept" in text
    past = post(north, f"/providers/{pid}/compliance", {"kind": "employers_liability", "reference": "Drawer 2",
                                                         "expires_on": (_today(life) - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and "already expired" in past.get_data(as_text=True)
    with pytest.raises(Invalid) as err:
        compliance.record(core, p["ncoord"], pid, {"kind": "safeguarding", "reference": "Drawer 2"})
    assert "expires_on" in err.value.details["fields"]
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(ComplianceDocument.id)) is None  # nothing half-written

    # the API records an information sharing agreement with no expiry; the same one sent twice is recorded once
    body = {"kind": "information_sharing", "reference": "Signed ISA, filed in the LA's DPO folder", "issued_on": _today(life).isoformat()}
    api = browser(app, "ncoord")
    first = api.post(f"/api/v1/providers/{pid}/compliance", json=body, headers={"X-CSRF-Token": api.csrf})
    again = api.post(f"/api/v1/providers/{pid}/compliance", json=body, headers={"X-CSRF-Token": api.csrf})
    assert first.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert first.get_json()["state_words"] == "Valid: no expiry date"
    listed = api.get(f"/api/v1/providers/{pid}/compliance").get_json()
    assert [d["kind"] for d in listed["in_force"]] == ["information_sharing"]
    assert "Information sharing agreement (R25)" not in [m["label"] for m in listed["missing"]]
