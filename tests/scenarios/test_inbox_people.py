"""The inbox opens where each person's work is (issue 13): parents and pupils on the tasks assigned to them (they have
no role tasks to claim), staff on their roles' tasks unless something is assigned to them."""
from apflow.services import inbox


def test_a_parent_lands_on_their_assigned_consent_and_has_no_unassigned_tab(core, provider_ready):
    life = provider_ready
    iid = life.refer()
    life.do("Choose the provider", iid)
    for name in ("Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers"):
        life.do(name, iid)
    listing = inbox.inbox(core, life.people["parent"], inbox.InboxQuery.from_args({}))
    assert listing["query"].tab == "mine" and "available" not in listing["counts"]
    assert [r["name"] for r in listing["rows"]] == ["Give written consent"]
    staff = inbox.inbox(core, life.people["coordinator"], inbox.InboxQuery.from_args({}))
    assert staff["query"].tab == "available"


def test_a_familys_task_is_never_offered_or_handed_to_another_family(core, provider_ready):
    import pytest

    from apflow.errors import Invalid
    from tests.support import make_user

    life = provider_ready
    make_user(core, "parent2", "parent")
    iid = life.refer()
    life.do("Choose the provider", iid)
    for name in ("Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers"):
        life.do(name, iid)
    consent = life.task("Give written consent", iid)
    assert inbox.colleagues(core, life.people["manager"], consent["id"]) == []
    with pytest.raises(Invalid, match="cannot be handed"):
        inbox.assign(core, life.people["manager"], consent["id"], "parent2")
    choose = [t for t in life.tasks(iid)]
    assert all(p["username"] not in ("parent1", "parent2", "pupil1")
               for t in choose for p in inbox.colleagues(core, life.people["manager"], t["id"]))
