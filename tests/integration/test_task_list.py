"""GET /api/v1/tasks' service: a page is built from one index walk per way of seeing a task
(assigned, delegated, role, manager); pages must add up to exactly the unpaged list, in order."""
from datetime import timedelta

from apflow.services import inbox, instances
from apflow.store.models import HumanTask
from tests.support import make_user


def ids(tasks):
    return [t["id"] for t in tasks]


def paged(core, user, size):
    found, offset = [], 0
    while True:
        page = instances.list_ready_tasks(core, user, limit=size, offset=offset)
        found += page
        if len(page) < size:
            return found
        offset += size


def test_pages_add_up_to_the_whole_list_for_every_kind_of_viewer(core, people, triage, frozen_clock):
    coordinator, coordinator2 = people["coordinator"], people["coordinator2"]
    for _ in range(6):
        instances.start_instance(core, coordinator, "referral_triage", {"reasons": ["attendance"]})
    frozen_clock.advance(timedelta(days=2, seconds=1))
    assert instances.fire_due_timers(core) == 6  # each now also waits on the headteacher's chase
    for _ in range(5):
        instances.start_instance(core, coordinator, "referral_triage", {"reasons": ["medical"]})
    triage_tasks = [t for t in instances.list_ready_tasks(core, coordinator) if t["name"] == "Triage referral"]
    inbox.claim(core, coordinator, triage_tasks[0]["id"])
    inbox.claim(core, coordinator, triage_tasks[1]["id"])
    inbox.assign(core, coordinator, triage_tasks[1]["id"], "coord2", delegate=True)  # coord keeps it as owner
    both = make_user(core, "both", "coordinator", "headteacher")

    viewers = {"coord": coordinator, "coord2": coordinator2, "head": people["headteacher"], "both": both,
               "boss": people["manager"], "parent": people["parent"]}
    everything = {name: instances.list_ready_tasks(core, user) for name, user in viewers.items()}
    assert len(everything["boss"]) == 17 and len(everything["both"]) == 17
    assert len(everything["coord"]) == 11 and len(everything["head"]) == 6 and everything["parent"] == []
    for name, user in viewers.items():
        for size in (1, 4, 200):
            assert ids(paged(core, user, size)) == ids(everything[name]), (name, size)
    # The delegated task: seen by its holder (by role too) and its owner; one row each, not two.
    assert ids(everything["coord"]).count(triage_tasks[1]["id"]) == 1


def test_a_task_delegated_outside_ones_roles_stays_visible_to_the_owner(core, people, triage):
    coordinator = people["coordinator"]
    owner = make_user(core, "owner", "senco")  # sees triage tasks only as the one who delegated them
    started = instances.start_instance(core, coordinator, "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, coordinator, started["id"])
    inbox.claim(core, coordinator, task["id"])
    inbox.assign(core, coordinator, task["id"], "coord2", delegate=True)
    with core.db.session() as s:
        s.get(HumanTask, task["id"]).owner_id = owner.id
    assert ids(instances.list_ready_tasks(core, owner, limit=10)) == [task["id"]]
    assert ids(instances.list_ready_tasks(core, owner)) == [task["id"]]
