"""A due time or timer that calls a helper apflow does not know is refused at validation, naming the likely one,
instead of failing when the task first becomes ready (issue 13: `school_dayz(5)` was accepted)."""
from apflow.config import ROOT
from apflow.engine import validate
from tests.bpmn_builder import flow_diagram


def test_a_misspelt_helper_in_a_due_time_is_named_with_the_likely_one():
    checked = validate.check({"d.bpmn": flow_diagram(due_in="school_dayz(5)").encode()}, ROOT / "forms")
    [problem] = checked.problems
    assert "school_dayz" in problem.message and problem.fix.startswith("Did you mean school_days()?")


def test_helpers_and_builtins_pass():
    for expression in ("school_days(5)", "same_school_day(hours=1)", "max(days(1), weeks(1))", "'P5D'"):
        assert validate.check({"d.bpmn": flow_diagram(due_in=expression).encode()}, ROOT / "forms").ok, expression
