"""What a web process keeps of the steps it wrote (services/written.py): bounded, one step per placement, each ready task
found by its id only while its placement's last kept step has it ready, and believed only while the stored row holds
exactly what was written."""
from types import SimpleNamespace

from apflow.engine.runtime import StepOutcome
from apflow.services.written import WrittenSteps


def outcome(state: dict, tasks: list[str], task_data=True) -> StepOutcome:
    return StepOutcome(state, False, {"n": state["n"]}, [], [], {},
                       task_data={t: {"n": state["n"]} for t in tasks} if task_data else None,
                       task_properties={t: {} for t in tasks} if task_data else None)


def row(task_id: str):
    return SimpleNamespace(id=task_id, spec_id="Task", role="coordinator", assignee_id=None)


def keep(steps: WrittenSteps, instance_id: int, n: int, tasks: list[str], lock_version: int = 1, **kwargs) -> SimpleNamespace:
    instance = SimpleNamespace(id=instance_id, process_version_id=7, lock_version=lock_version, state={"n": n})
    steps.keep(instance, "p:hash", outcome({"n": n}, tasks, **kwargs), [row(t) for t in tasks], {t: None for t in tasks})
    return instance


def test_a_placement_keeps_its_last_step_only_and_its_old_tasks_are_forgotten():
    steps = WrittenSteps()
    keep(steps, 1, 1, ["a", "b"])
    keep(steps, 1, 2, ["b", "c"], lock_version=2)
    assert steps.of_task("a") is None and steps.of_task("b").lock_version == 2 and set(steps.of_task("c").tasks) == {"b", "c"}
    keep(steps, 1, 3, ["d"], lock_version=3, task_data=False)  # an answer whose data would not read back the same
    assert steps.kept == {} and steps.by_task == {}


def test_the_kept_steps_are_bounded_and_the_oldest_placements_go_first():
    steps = WrittenSteps()
    for instance_id in range(WrittenSteps.SIZE + 5):
        keep(steps, instance_id, instance_id, [f"t{instance_id}"])
    assert len(steps.kept) == WrittenSteps.SIZE and set(steps.by_task) == {f"t{i}" for i in steps.kept}
    assert steps.of_task("t0") is None and steps.of_task(f"t{WrittenSteps.SIZE + 4}") is not None


def test_a_kept_step_is_used_only_while_the_stored_row_holds_exactly_what_was_written():
    steps = WrittenSteps()
    written = keep(steps, 1, 1, ["a"])
    same = SimpleNamespace(id=1, process_version_id=7, lock_version=1, state={"n": 1})  # read afresh: equal, not the same
    assert steps.matching(same) is steps.kept[1]
    for changed in ({"lock_version": 2}, {"process_version_id": 8}, {"state": {"n": 2}}):
        assert steps.matching(SimpleNamespace(**{**vars(same), **changed})) is None
    assert steps.matching(SimpleNamespace(**{**vars(written), "id": 2})) is None  # another placement
