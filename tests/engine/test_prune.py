"""Issue 18: a long-running instance's stored state leaves out the subprocesses that have finished, so a process that
calls a review every half term does not carry every past review, nor every earlier round of its loops, in each step,
and it still runs exactly as before."""
import json

from apflow.engine.diagrams import parse_sources
from apflow.engine.prune import drop_finished_subprocesses
from apflow.engine.runtime import WorkflowHost

# A parent that calls the "review" process three times in a loop, counting the rounds with the data the review
# passes back; then a last task. The review: one user task and an end.
LOOP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="parent" isExecutable="true">
    <bpmn:startEvent id="P_start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Init" name="Init"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>rounds = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Merge"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>again</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:callActivity id="Call_review" name="Review" calledElement="review"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:callActivity>
    <bpmn:scriptTask id="Count" name="Count"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="More" default="done"><bpmn:incoming>f5</bpmn:incoming><bpmn:outgoing>again</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Last" name="Last"><bpmn:incoming>done</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="P_end"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="P_start" targetRef="Init" />
    <bpmn:sequenceFlow id="f2" sourceRef="Init" targetRef="Merge" />
    <bpmn:sequenceFlow id="f3" sourceRef="Merge" targetRef="Call_review" />
    <bpmn:sequenceFlow id="f4" sourceRef="Call_review" targetRef="Count" />
    <bpmn:sequenceFlow id="f5" sourceRef="Count" targetRef="More" />
    <bpmn:sequenceFlow id="again" sourceRef="More" targetRef="Merge">
      <bpmn:conditionExpression>rounds &lt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="More" targetRef="Last" />
    <bpmn:sequenceFlow id="f6" sourceRef="Last" targetRef="P_end" />
  </bpmn:process>
  <bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="R_start"><bpmn:outgoing>r1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Hold" name="Hold the review"><bpmn:incoming>r1</bpmn:incoming><bpmn:outgoing>r2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="R_end"><bpmn:incoming>r2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="r1" sourceRef="R_start" targetRef="Hold" />
    <bpmn:sequenceFlow id="r2" sourceRef="Hold" targetRef="R_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _size(state: dict) -> int:
    return len(json.dumps(state["subprocesses"], separators=(",", ":")))


def test_issue18_finished_reviews_are_not_stored_and_the_loop_runs_to_its_end():
    host = WorkflowHost()
    bundle = parse_sources({"loop.bpmn": LOOP}).bundle("parent")
    state = host.dump(host.start(bundle, {}))
    sizes, outcomes, tasks = [], [], []
    for n in range(3):
        workflow = host.load(state, bundle)  # every step starts from the stored state, as the services do
        [task] = host.ready_human_tasks(workflow)
        assert task.name == "Hold the review"
        host.complete(workflow, task.id, {"outcome": f"round {n + 1}"})
        state = host.dump(workflow)
        outcomes.append(host.current_data(workflow).get("outcome"))
        # only the review now waiting is stored, never the ones that have finished
        assert len(state["subprocesses"]) == (1 if n < 2 else 0)
        sizes.append(_size(state))
        tasks.append(len(state["tasks"]))
    assert abs(sizes[1] - sizes[0]) < 50  # the second round stores what the first did (its data differs by a digit)
    assert tasks[0] == tasks[1]  # and the parent's loop keeps only its latest round: the earlier one is cut out
    workflow = host.load(state, bundle)
    assert host.current_data(workflow)["rounds"] == 3 and outcomes == ["round 1", "round 2", "round 3"]
    [last] = host.ready_human_tasks(workflow)
    host.complete(workflow, last.id, {})
    assert host.is_completed(workflow)


def test_issue18_a_running_subprocess_and_those_inside_it_are_kept_finished_ones_dropped():
    done, running, nested = "0" * 8, "1" * 8, "2" * 8
    state = {"tasks": {done: {"state": 64}, running: {"state": 32}},
             "subprocesses": {done: {"completed": True, "tasks": {"a": {"state": 64}, nested: {"state": 64}}},
                              nested: {"completed": True, "tasks": {"b": {"state": 64}}},
                              running: {"completed": False, "tasks": {"c": {"state": 16}}}}}
    assert set(drop_finished_subprocesses(state)["subprocesses"]) == {running}
    # a call activity that is cancelled takes its subprocess with it; one still waiting keeps it, finished or not
    cancelled = {"tasks": {done: {"state": 256}, running: {"state": 32}},
                 "subprocesses": {done: {"completed": True, "tasks": {}}, running: {"completed": True, "tasks": {}}}}
    assert set(drop_finished_subprocesses(cancelled)["subprocesses"]) == {running}


# A loop of a user task and a script beside a branch that waits the whole time, joined at the end by a parallel gateway.
LOOP_BESIDE_A_WAIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs2" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="absences" isExecutable="true">
    <bpmn:startEvent id="A_start"><bpmn:outgoing>a1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Split"><bpmn:incoming>a1</bpmn:incoming><bpmn:outgoing>a2</bpmn:outgoing><bpmn:outgoing>w1</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:scriptTask id="Init"><bpmn:incoming>a2</bpmn:incoming><bpmn:outgoing>a3</bpmn:outgoing><bpmn:script>absences = []</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Merge"><bpmn:incoming>a3</bpmn:incoming><bpmn:incoming>again</bpmn:incoming><bpmn:outgoing>a4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Follow" name="Follow up the absence"><bpmn:incoming>a4</bpmn:incoming><bpmn:outgoing>a5</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="Note"><bpmn:incoming>a5</bpmn:incoming><bpmn:outgoing>a6</bpmn:outgoing><bpmn:script>absences = absences + [reason]</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="More" default="done"><bpmn:incoming>a6</bpmn:incoming><bpmn:outgoing>again</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Wait" name="End the placement"><bpmn:incoming>w1</bpmn:incoming><bpmn:outgoing>w2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>done</bpmn:incoming><bpmn:incoming>w2</bpmn:incoming><bpmn:outgoing>a7</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="A_end"><bpmn:incoming>a7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="a1" sourceRef="A_start" targetRef="Split" />
    <bpmn:sequenceFlow id="a2" sourceRef="Split" targetRef="Init" />
    <bpmn:sequenceFlow id="a3" sourceRef="Init" targetRef="Merge" />
    <bpmn:sequenceFlow id="a4" sourceRef="Merge" targetRef="Follow" />
    <bpmn:sequenceFlow id="a5" sourceRef="Follow" targetRef="Note" />
    <bpmn:sequenceFlow id="a6" sourceRef="Note" targetRef="More" />
    <bpmn:sequenceFlow id="again" sourceRef="More" targetRef="Merge"><bpmn:conditionExpression>len(absences) &lt; 20</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="More" targetRef="Join" />
    <bpmn:sequenceFlow id="w1" sourceRef="Split" targetRef="Wait" />
    <bpmn:sequenceFlow id="w2" sourceRef="Wait" targetRef="Join" />
    <bpmn:sequenceFlow id="a7" sourceRef="Join" targetRef="A_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_issue18_twenty_rounds_of_a_loop_store_no_more_than_two_and_keep_every_answer():
    """Each round's answers reach the data the loop builds; the stored task tree stops growing after the second round;
    the branch waiting beside the loop and the parallel join after it still work."""
    host = WorkflowHost()
    bundle = parse_sources({"absences.bpmn": LOOP_BESIDE_A_WAIT}).bundle("absences")
    state = host.dump(host.start(bundle, {}))
    stored = []
    for n in range(20):
        workflow = host.load(state, bundle)
        [task] = [t for t in host.ready_human_tasks(workflow) if t.name == "Follow up the absence"]
        host.complete(workflow, task.id, {"reason": f"day {n + 1}"})
        state = host.dump(workflow)
        stored.append(len(state["tasks"]))
    assert stored[2:] == [stored[1]] * 18, stored  # bounded: the same number of tasks from the second round on
    workflow = host.load(state, bundle)
    assert host.current_data(workflow)["absences"] == [f"day {n + 1}" for n in range(20)]
    [wait] = host.ready_human_tasks(workflow)
    assert wait.name == "End the placement"
    host.complete(workflow, wait.id, {})
    assert host.is_completed(workflow)
