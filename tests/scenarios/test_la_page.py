"""The LA officer's page (R2, R3, issue 15): the placements they commission (as the named LA officer, or their local
authority's own), each with its purchase orders, and what is due, with links; nobody else's."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from apflow.errors import NotFound
from apflow.services import la, users
from apflow.store.models import Instance, Organisation
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, browser

SCHOOL, LA, OTHER_LA = "The Nest School", "Northshire CC", "Southshire CC"
PEOPLE = [("coord", "coordinator", SCHOOL), ("head", "headteacher", SCHOOL), ("dsl", "dsl", SCHOOL), ("senco", "senco", SCHOOL),
          ("boss", "manager", SCHOOL), ("tutor", "provider", "Bridges Learning"), ("la1", "la_officer", LA), ("la2", "la_officer", LA),
          ("la3", "la_officer", OTHER_LA), ("parent1", "parent", None), ("pupil1", "pupil", None)]
ROLES = {"coord": "coordinator", "head": "headteacher", "dsl": "dsl", "senco": "senco", "boss": "manager", "tutor": "provider",
         "la1": "la_officer", "parent1": "parent", "pupil1": "pupil"}


@pytest.fixture
def world(core, terms, lifecycle_deployed, frozen_clock):
    for name, kind in [(SCHOOL, "school"), (LA, "la"), (OTHER_LA, "la")]:
        users.ensure_organisation(core, name, kind)
    seed_approved_provider(core)
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=name.capitalize(), email=f"{name}@example.test",
                                      organisations=[org] if org else []) for name, role, org in PEOPLE}
    return Lifecycle(core, {ROLES[n]: people[n] for n in ROLES}, frozen_clock), people


def test_R2_R3_the_named_la_officer_sees_the_purchase_order_due_then_the_placement_with_its_order(core, world):
    life, people = world
    iid = life.refer()  # names la1 as the LA officer
    life.plan(iid)
    life.do("Approve the placement", iid)
    page = la.la_page(core, people["la1"])
    [row] = page["placements"]
    assert row["pupil"] == "Jordan T." and row["why"] == "You are the named LA officer" and row["purchase_orders"] == []
    assert [t["name"] for t in page["tasks"]] == ["Issue the purchase order"]
    assert [r["ref"] for r in page["without_order"]] == ["P-0001"]
    life.commission(iid)
    life.start(iid)
    life.to_running(iid)
    page = la.la_page(core, people["la1"])
    [row] = page["placements"]
    assert [o["number"] for o in row["purchase_orders"]] == ["PO-7781"] and row["purchase_orders"][0]["hours_per_week"] == 15
    assert page["tasks"] == [] and page["without_order"] == []
    life.do("Invite everyone to the review", iid, invited=["parents", "la"], meeting_on="2026-02-10")
    life.do("Progress report for the review", iid)
    page = la.la_page(core, people["la1"])
    assert [(r["on"], r["what"]) for r in page["reviews"]] == [("2026-02-10", "Review meeting (you are invited)"), ("2026-02-13", "Review to be held by")]
    from apflow.web import create_app

    app = create_app(core=core, run_scheduler=False)
    html = browser(app, "la1").get("/la").get_data(as_text=True)
    assert "Jordan T." in html and "PO-7781" in html and f'href="/placements/{iid}"' in html
    assert browser(app, "la1").get("/api/v1/la").json["placements"][0]["ref"] == "P-0001"


def test_R2_an_la_officer_sees_their_own_authoritys_placements_and_nobody_elses(core, world):
    life, people = world
    iid = life.refer()
    assert la.la_page(core, people["la2"])["placements"] == []  # same LA, not named, and the school commissioned it
    with core.db.session() as s:  # the local authority itself commissions this placement
        s.get(Instance, iid).organisation_id = s.scalar(select(Organisation.id).where(Organisation.name == LA))
    [row] = la.la_page(core, people["la2"])["placements"]
    assert row["why"] == "Commissioned by your local authority"
    assert la.la_page(core, people["la3"])["placements"] == []  # another authority's officer
    for who in ("coord", "tutor", "parent1"):
        with pytest.raises(NotFound):
            la.la_page(core, people[who])
    from apflow.web import create_app

    app = create_app(core=core, run_scheduler=False)
    assert browser(app, "parent1").get("/la").status_code == 404
    assert "Jordan" not in browser(app, "la3").get("/la").get_data(as_text=True)
