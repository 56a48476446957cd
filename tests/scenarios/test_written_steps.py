"""What a web process keeps of the steps it wrote (services/written.py) is exactly what a restore of the stored state
gives, through a whole placement on the lifecycle diagrams; completions use it, and send their code early on it
(tests/integration/test_instances.py: when an early answer is taken)."""

from apflow.services import instances
from apflow.store.models import Instance, ProcessVersion


def test_what_a_step_keeps_is_what_a_restore_of_its_state_gives_through_a_whole_placement(provider_ready, monkeypatch):
    life = provider_ready
    core = life.core
    assert core.steps.isolated  # the engine's answers come from worker processes, as JSON
    checked, used = [], []
    keep, matching = core.written.keep, core.written.matching

    def checking_keep(instance, version_key, outcome, ready_rows, forms):
        keep(instance, version_key, outcome, ready_rows, forms)
        written = core.written.kept.get(instance.id)
        if written is None:
            return
        with core.db.session(readonly=True) as s:
            stored = s.get(Instance, instance.id)
            assert (stored.lock_version, stored.process_version_id) == (written.lock_version, written.version_id)
            assert written.matches(stored)
            workflow = core.host.load(stored.state, core.bundle(s.get(ProcessVersion, stored.process_version_id)))
        assert written.data == core.host.current_data(workflow)
        assert written.waiting == core.host.waiting_timers(workflow)
        assert set(written.tasks) == {t.id for t in core.host.ready_human_tasks(workflow)} == {r.id for r in ready_rows}
        for task_id, task in written.tasks.items():
            assert task.data == core.host.task_data(workflow, task_id)
            assert task.properties == core.host.task_properties(workflow, task_id)
        checked.append(instance.id)

    monkeypatch.setattr(core.written, "keep", checking_keep)
    monkeypatch.setattr(core.written, "matching", lambda instance: used.append(matching(instance)) or used[-1])
    plans = []  # each completion's code sent early (None: not sent), and whether its answer was taken
    complete_early = instances._complete_early
    monkeypatch.setattr(instances, "_complete_early", lambda *args: plans.append(complete_early(*args)) or plans[-1])

    def placement() -> list:
        """One placement from referral to its first review; the completions' early runs (None: not sent)."""
        plans.clear()
        iid = life.active_placement()
        life.to_running(iid)
        life.do("Invite everyone to the review", iid)
        life.do("Progress report for the review", iid)
        return list(plans)

    first = placement()
    assert len(checked) >= 20 and len([w for w in used if w is not None]) >= 19  # completions read what was kept
    taken = [plan for plan in first if plan is not None and not plan.early]
    assert len(taken) >= 5  # sent before the transaction, and the answer taken
    refused = [plan for plan in first if plan is not None and plan.early]
    assert refused  # the record handlers of these tasks changed the answers they were given ...
    assert {(plan.version_id, plan.written.tasks[plan.action["task_id"]].spec_id) for plan in refused} <= core.written.answers_changed
    second = placement()  # ... so for the next placement their code is not sent early, and every early answer is taken
    assert len(second) == len(first) and all(plan is None or not plan.early for plan in second)
    assert sum(plan is not None for plan in second) == len(taken)

    used.clear()
    life.advance(days=60)  # the scheduler's steps: not kept, so the next completion restores the state it reads
    iid = checked[-1]
    life.do(life.tasks(iid)[0]["name"], iid)
    assert used[-1] is None
