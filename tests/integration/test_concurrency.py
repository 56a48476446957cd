"""Real threads racing on one instance, on SQLite and PostgreSQL: one winner, clear conflicts, no lost update."""
import threading
from datetime import timedelta

from apflow.errors import Conflict, Forbidden
from apflow.services import instances

ANSWERS = {"decision": "decline", "rationale": "Needs can be met in school"}
HANG_GUARD = 300  # seconds: only turns a stuck thread into a clear failure; a busy machine never comes near it


def race(functions):
    """Run the functions at the same moment in threads; return (result or exception) for each."""
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def run(i, fn):
        barrier.wait()
        try:
            outcomes[i] = fn()
        except Exception as err:  # collected and asserted on below
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=HANG_GUARD)
    assert not any(t.is_alive() for t in threads), "a racing thread never finished"
    return outcomes


def test_two_completions_of_one_task_exactly_one_succeeds(core, people, triage):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    users = [people["coordinator"], people["coordinator2"]] * 3
    outcomes = race([lambda u=u: instances.complete_task(core, u, task["id"], ANSWERS) for u in users])
    wins = [o for o in outcomes if isinstance(o, dict)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1, outcomes
    assert len(conflicts) == len(users) - 1, outcomes
    assert all("already completed by" in c.message for c in conflicts)
    events = instances.list_events(core, people["manager"], started["id"])
    assert [e["kind"] for e in events].count("task_completed") == 1


def test_concurrent_work_on_two_tasks_of_one_instance_loses_no_update(core, people, triage, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    frozen_clock.advance(timedelta(days=2, minutes=1))
    instances.fire_due_timers(core)
    [triage_task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    [chase_task] = instances.list_ready_tasks(core, people["headteacher"], started["id"])
    outcomes = race([
        lambda: instances.complete_task(core, people["coordinator"], triage_task["id"], ANSWERS),
        lambda: instances.complete_task(core, people["headteacher"], chase_task["id"], {"outcome": "Spoke to Priya"}),
    ])
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    instance = instances.get_instance(core, people["manager"], started["id"])
    assert instance["status"] == "completed"
    events = instances.list_events(core, people["manager"], started["id"])
    assert {e["task_name"] for e in events if e["kind"] == "task_completed"} == {"Triage referral", "Chase late triage"}


def test_two_people_claiming_one_task_at_once_exactly_one_gets_it(core, people, triage):
    from apflow.services import inbox

    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    claimers = [people["coordinator"], people["coordinator2"]] * 3
    outcomes = race([lambda u=u: inbox.claim(core, u, task["id"]) for u in claimers])
    failures = [o for o in outcomes if isinstance(o, Exception)]
    winners = {u.username for u, o in zip(claimers, outcomes) if not isinstance(o, Exception)}
    assert len(winners) == 1, outcomes
    assert all(isinstance(f, (Conflict, Forbidden)) for f in failures), failures
    [held] = instances.list_ready_tasks(core, people["manager"], started["id"])
    assert held["assignee"] in winners
