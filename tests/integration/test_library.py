"""The process library: drafts, validation, deploy, comparison, moving running instances, rollback,
upload and download, on SQLite and PostgreSQL. Only managers may change anything, a draft is never
live, and nothing becomes live without passing the checks of `apflow validate`."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from apflow.config import ROOT
from apflow.engine.validate import check
from apflow.errors import Conflict, Forbidden, Invalid
from apflow.services import drafts, form_library, instances, library, migration
from apflow.services.records import KNOWN_KINDS
from apflow.store.models import Event, HumanTask, Instance, PendingTimer, ProcessChange, ProcessDraft, ProcessVersion
from tests.bpmn_builder import flow_diagram
from tests.security.test_malicious_diagrams import BILLION_LAUGHS, XXE

TRIAGE = "referral_triage"
ORIGINAL = (ROOT / "bpmn" / "referral_triage.bpmn").read_text()
CHASE_TASK = """    <bpmn:userTask id="Task_notify" name="Tell the family">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formless" value="true" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_to_end_accepted</bpmn:incoming><bpmn:outgoing>Flow_notified</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_notified" sourceRef="Task_notify" targetRef="End_accepted" />
"""


def with_new_step(xml: str) -> str:
    """Version 2 adds 'Tell the family' between recording the acceptance and the end (nothing running is touched)."""
    xml = xml.replace('<bpmn:sequenceFlow id="Flow_to_end_accepted" sourceRef="Task_record_acceptance" targetRef="End_accepted" />',
                      '<bpmn:sequenceFlow id="Flow_to_end_accepted" sourceRef="Task_record_acceptance" targetRef="Task_notify" />' + CHASE_TASK)
    xml = xml.replace("<bpmn:incoming>Flow_to_end_accepted</bpmn:incoming>\n    </bpmn:endEvent>", "<bpmn:incoming>Flow_notified</bpmn:incoming>\n    </bpmn:endEvent>")
    return xml.replace("<bpmn:flowNodeRef>End_accepted</bpmn:flowNodeRef>",
                       "<bpmn:flowNodeRef>End_accepted</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>Task_notify</bpmn:flowNodeRef>")


def save(core, user, xml, note="edit"):
    revision = drafts.get_draft(core, user, TRIAGE)["revision"]
    return drafts.save_draft(core, user, TRIAGE, xml, revision, note)


def deploy(core, user, xml, note="change"):
    saved = save(core, user, xml)
    return drafts.deploy_draft(core, user, TRIAGE, saved["revision"], note)


def start(core, people, **data):
    return instances.start_instance(core, people["coordinator"], TRIAGE, {"reasons": ["attendance"], **data})


def test_the_library_lists_versions_who_when_why_and_instances_per_version(core, people, triage):
    start(core, people)
    deploy(core, people["manager"], ORIGINAL.replace(">P2D<", ">P4D<"), note="chase after four days")
    start(core, people)
    [entry] = library.library(core, people["manager"])
    assert [(v["version"], v["deployed_by"], v["note"], v["running"]) for v in entry["versions"]] == [
        (2, "boss", "chase after four days", 1), (1, "test", "", 1)]
    assert entry["draft"]["undeployed_changes"] is False


def test_a_draft_is_never_live_until_deployed(core, people, triage):
    save(core, people["manager"], ORIGINAL.replace(">P2D<", ">P9D<"))
    assert start(core, people)["version"] == 1
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessVersion)) == 1


def test_saving_over_someone_elses_newer_save_is_refused_not_silently_overwritten(core, people, triage):
    from tests.support import make_user

    other = make_user(core, "boss2", "manager")
    drafts.save_draft(core, people["manager"], TRIAGE, ORIGINAL.replace(">P2D<", ">P5D<"), 0)
    with pytest.raises(Conflict) as refused:
        drafts.save_draft(core, other, TRIAGE, ORIGINAL.replace(">P2D<", ">P6D<"), 0)
    assert "boss saved a newer draft (revision 1)" in refused.value.message
    assert refused.value.details["revision"] == 1
    assert ">P5D<" in drafts.get_draft(core, people["manager"], TRIAGE)["xml"]
    drafts.save_draft(core, other, TRIAGE, ORIGINAL.replace(">P2D<", ">P6D<"), 1)  # having seen revision 1
    assert drafts.get_draft(core, other, TRIAGE)["revision"] == 2


def test_every_save_and_deploy_is_recorded_with_who_when_and_the_content(core, people, triage):
    saved = save(core, people["manager"], ORIGINAL.replace(">P2D<", ">P4D<"), note="try four days")
    drafts.deploy_draft(core, people["manager"], TRIAGE, saved["revision"], "four days")
    history = library.history(core, people["manager"], TRIAGE)
    assert [(h["kind"], h["by"], h["note"], h["revision"], h["version"]) for h in history] == [
        ("deployed", "boss", "four days", 1, 2), ("saved", "boss", "try four days", 1, None)]
    with core.db.session() as s:
        assert ">P4D<" in s.scalar(select(ProcessChange.content).where(ProcessChange.kind == "saved"))


def test_validation_is_the_same_as_apflow_validate_and_points_at_the_element(core, people, triage):
    bad = ORIGINAL.replace('decision == "accept"', "decision.__class__ == 'accept'")
    result = drafts.validate_draft(core, people["manager"], TRIAGE, bad)
    expected = check({"referral_triage.bpmn": bad.encode()}, ROOT / "forms", record_kinds=KNOWN_KINDS).problems
    assert not result["ok"]
    assert result["problems"] == [p.as_dict() for p in expected]
    assert result["problems"][0]["element"] == "Gateway_decision"


def test_a_diagram_never_becomes_live_without_passing_validation(core, people, triage):
    saved = save(core, people["manager"], ORIGINAL.replace('decision == "accept"', "import os"))
    assert saved["problems"]
    with pytest.raises(Invalid) as refused:
        drafts.deploy_draft(core, people["manager"], TRIAGE, saved["revision"], "try it")
    assert refused.value.details["problems"][0]["element"] == "Gateway_decision"
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessVersion)) == 1


def test_deploy_needs_a_change_note_and_the_revision_that_was_checked(core, people, triage):
    saved = save(core, people["manager"], ORIGINAL.replace(">P2D<", ">P4D<"))
    with pytest.raises(Invalid):
        drafts.deploy_draft(core, people["manager"], TRIAGE, saved["revision"], "  ")
    with pytest.raises(Conflict):
        drafts.deploy_draft(core, people["manager"], TRIAGE, saved["revision"] - 1, "stale")


def test_deploy_makes_a_version_new_instances_use_while_running_ones_keep_theirs(core, people, triage, frozen_clock):
    old = start(core, people)
    result = deploy(core, people["manager"], ORIGINAL.replace(">P2D<", ">P4D<"), note="chase after four days")
    assert (result["version"], result["created"]) == (2, True)
    new = start(core, people)
    assert (new["version"], instances.get_instance(core, people["manager"], old["id"])["version"]) == (2, 1)
    with core.db.session() as s:
        due = dict(s.execute(select(PendingTimer.instance_id, PendingTimer.due_at)).all())
    assert due[old["id"]] == frozen_clock.now() + timedelta(days=2)
    assert due[new["id"]] == frozen_clock.now() + timedelta(days=4)
    again = drafts.deploy_draft(core, people["manager"], TRIAGE, drafts.get_draft(core, people["manager"], TRIAGE)["revision"], "same")
    assert again["created"] is False


def test_an_edited_form_goes_live_with_the_next_deploy_and_not_before(core, people, triage):
    import json

    schema = json.loads((ROOT / "forms" / "chase_triage.schema.json").read_text())
    schema["properties"]["outcome"]["title"] = "What did you agree?"
    form = form_library.get_form(core, people["manager"], "chase_triage.schema.json")
    form_library.save_form(core, people["manager"], "chase_triage.schema.json", json.dumps(schema), form["revision"])
    with core.db.session() as s:
        assert s.scalar(select(ProcessVersion.forms)).get("chase_triage.schema.json")["properties"]["outcome"]["title"] != "What did you agree?"
    deploy(core, people["manager"], ORIGINAL.replace(">P2D<", ">P3D<"))
    with core.db.session() as s:
        newest = s.scalar(select(ProcessVersion).order_by(ProcessVersion.version.desc()).limit(1))
        assert newest.forms["chase_triage.schema.json"]["properties"]["outcome"]["title"] == "What did you agree?"
    with pytest.raises(Invalid):
        form_library.save_form(core, people["manager"], "chase_triage.schema.json", '{"type": "object", "properties": 3}', 1)
    with pytest.raises(Conflict):
        form_library.save_form(core, people["manager"], "chase_triage.schema.json", json.dumps(schema), 0)
    with pytest.raises(Invalid):
        form_library.save_form(core, people["manager"], "../pyproject.json", "{}", 0)


def test_the_comparison_lists_added_removed_and_changed_elements(core, people, triage):
    v2 = with_new_step(ORIGINAL.replace(">P2D<", ">P4D<").replace('name="Headteacher"', 'name="DSL"'))
    v2 = v2.replace('<spiffworkflow:property name="dueIn" value="P3D" />', '<spiffworkflow:property name="dueIn" value="school_days(3)" />')
    deploy(core, people["manager"], v2)
    result = library.diff(core, people["manager"], TRIAGE, 1, 2)
    assert {a["id"] for a in result["added"]} == {"Task_notify", "Flow_notified"}
    assert result["removed"] == []
    changed = {c["id"]: c["changes"] for c in result["changed"]}
    assert changed["Timer_triage_late"] == ["timer: 'duration P2D' → 'duration P4D'"]
    assert changed["Task_triage"] == ["property dueIn: 'P3D' → 'school_days(3)'"]
    assert changed["Lane_headteacher"] == ["name: 'Headteacher' → 'DSL'"]
    assert changed["Task_chase_triage"] == ["lane: 'Headteacher' → 'DSL'"]
    assert changed["Flow_to_end_accepted"] == ["attribute targetRef: 'End_accepted' → 'Task_notify'"]
    back = library.diff(core, people["manager"], TRIAGE, 2, 1)
    assert {r["id"] for r in back["removed"]} == {"Task_notify", "Flow_notified"}


def test_instances_that_are_safe_move_in_bulk_and_the_move_is_in_their_history(core, people, triage, frozen_clock):
    waiting = start(core, people, pupil_name="Ada")
    deploy(core, people["manager"], with_new_step(ORIGINAL))
    preview = migration.migration_preview(core, people["manager"], TRIAGE)
    assert [(i["instance_id"], i["can_move"]) for i in preview["instances"]] == [(waiting["id"], True)]
    assert preview["instances"][0]["at"] == ["Triage referral", "waiting: Not triaged in 2 days"]
    moved = migration.move_instances(core, people["manager"], TRIAGE, None, [waiting["id"]], note="new family step")
    assert moved["moved"] == [waiting["id"]] and moved["refused"] == {}
    assert instances.get_instance(core, people["manager"], waiting["id"])["version"] == 2
    with core.db.session() as s:
        event = s.scalar(select(Event).where(Event.instance_id == waiting["id"], Event.kind == "instance_migrated"))
        assert (event.actor, event.detail["from_version"], event.detail["to_version"], event.detail["message"]) == ("boss", 1, 2, "new family step")
        assert s.scalar(select(PendingTimer.due_at).where(PendingTimer.instance_id == waiting["id"])) == frozen_clock.now() + timedelta(days=2)
    [task] = instances.list_ready_tasks(core, people["coordinator"], waiting["id"])
    done = instances.complete_task(core, people["coordinator"], task["id"], {"decision": "accept", "rationale": "Needs a fresh start with support"})
    assert [t["name"] for t in done["next_tasks"]] == ["Tell the family"]  # the moved instance follows version 2


def test_instances_that_cannot_move_are_told_why_and_stay(core, people, triage, frozen_clock):
    from apflow.services.instances import fire_due_timers

    chasing = start(core, people)
    frozen_clock.advance(timedelta(days=2, minutes=1))
    fire_due_timers(core)
    removed = ORIGINAL.replace('name="Headteacher"', 'name="DSL"')
    deploy(core, people["manager"], removed.replace(">P2D<", ">P4D<"))
    [check_] = migration.migration_preview(core, people["manager"], TRIAGE)["instances"]
    assert not check_["can_move"]
    text = " ".join(check_["reasons"])
    assert "'Chase late triage', whose lane changed from 'Headteacher' to 'DSL'" in text
    assert "Not triaged in 2 days" not in text  # a timer that has fired is done: its new expression changes nothing
    result = migration.move_instances(core, people["manager"], TRIAGE, None, [chasing["id"]])
    assert result["moved"] == [] and result["refused"][str(chasing["id"])] == check_["reasons"]
    assert instances.get_instance(core, people["manager"], chasing["id"])["version"] == 1


def test_an_instance_cannot_move_to_a_version_without_a_step_it_has_taken(core, people, triage):
    started = start(core, people)
    without_timer = ORIGINAL
    for fragment in ['<bpmn:flowNodeRef>Timer_triage_late</bpmn:flowNodeRef>']:
        without_timer = without_timer.replace(fragment, "")
    start_at = without_timer.index('<bpmn:boundaryEvent id="Timer_triage_late"')
    end_at = without_timer.index("</bpmn:boundaryEvent>") + len("</bpmn:boundaryEvent>")
    without_timer = without_timer[:start_at] + without_timer[end_at:]
    without_timer = without_timer.replace('<bpmn:sequenceFlow id="Flow_to_chase" sourceRef="Timer_triage_late" targetRef="Task_chase_triage" />', "")
    without_timer = without_timer.replace("<bpmn:incoming>Flow_to_chase</bpmn:incoming>", "")
    deploy(core, people["manager"], without_timer)
    [found] = migration.migration_preview(core, people["manager"], TRIAGE)["instances"]
    assert found["instance_id"] == started["id"] and not found["can_move"]
    assert any("no longer has" in reason for reason in found["reasons"]), found["reasons"]


def test_a_failed_instance_moved_to_a_fixed_version_stays_failed_and_can_be_retried(core, people, tmp_path):
    broken = flow_diagram(pid="fixable", script="result = missing_name")
    drafts.upload(core, people["manager"], "fixable.bpmn", broken.encode())
    draft = drafts.get_draft(core, people["manager"], "fixable")
    drafts.deploy_draft(core, people["manager"], "fixable", draft["revision"], "first")
    started = instances.start_instance(core, people["coordinator"], "fixable", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    from apflow.errors import WorkflowFailed

    with pytest.raises(WorkflowFailed):
        instances.complete_task(core, people["coordinator"], task["id"], {"outcome": "go ahead"})
    fixed = broken.replace("result = missing_name", "result = 'done'")
    drafts.save_draft(core, people["manager"], "fixable", fixed, draft["revision"])
    drafts.deploy_draft(core, people["manager"], "fixable", draft["revision"] + 1, "fix the script")
    assert migration.move_instances(core, people["manager"], "fixable", None, [started["id"]])["moved"] == [started["id"]]
    assert instances.get_instance(core, people["manager"], started["id"])["status"] == "error"
    assert instances.retry(core, people["manager"], started["id"])["status"] == "completed"


def test_rollback_makes_an_earlier_versions_content_the_newest_version(core, people, triage):
    on_v1 = start(core, people)
    deploy(core, people["manager"], with_new_step(ORIGINAL))
    on_v2 = start(core, people)
    result = library.rollback(core, people["manager"], TRIAGE, 1, "the family step was premature")
    assert (result["version"], result["content_of"], result["draft_reset"]) == (3, 1, True)
    with core.db.session() as s:
        v1, v3 = (s.scalar(select(ProcessVersion).where(ProcessVersion.version == n)) for n in (1, 3))
        assert v3.sources == v1.sources and v3.forms == v1.forms and v3.deployed_by == "boss"
        assert v3.note == "Rolled back to version 1: the family step was premature"
    assert start(core, people)["version"] == 3
    assert drafts.get_draft(core, people["manager"], TRIAGE)["xml"] == ORIGINAL
    preview = {i["instance_id"]: i for i in migration.migration_preview(core, people["manager"], TRIAGE)["instances"]}
    assert preview[on_v1["id"]]["can_move"] and preview[on_v2["id"]]["can_move"]  # instances on v2 are like any others
    with pytest.raises(Conflict):
        library.rollback(core, people["manager"], TRIAGE, 3, "already newest")
    with pytest.raises(Invalid):
        library.rollback(core, people["manager"], TRIAGE, 1, "")


def test_download_gives_each_versions_bpmn_and_upload_round_trips(core, people, triage):
    deploy(core, people["manager"], ORIGINAL.replace(">P2D<", ">P4D<"))
    name, text = library.version_xml(core, people["manager"], TRIAGE, 1)
    assert (name, text) == ("referral_triage.bpmn", ORIGINAL)
    saved = drafts.upload(core, people["manager"], "from-spiffarena.bpmn", text.encode(), process_id=TRIAGE,
                           revision=drafts.get_draft(core, people["manager"], TRIAGE)["revision"])
    assert saved["xml"] == ORIGINAL and saved["source_file"] == "referral_triage.bpmn"
    assert library.history(core, people["manager"], TRIAGE)[0]["kind"] == "uploaded"


def test_a_new_process_can_be_uploaded_then_deployed(core, people):
    saved = drafts.upload(core, people["manager"], "new_process.bpmn", flow_diagram(pid="brand_new").encode(), note="from SpiffArena")
    assert (saved["process_id"], saved["revision"], saved["problems"]) == ("brand_new", 1, [])
    assert drafts.deploy_draft(core, people["manager"], "brand_new", 1, "first version")["version"] == 1
    with pytest.raises(Conflict):  # the library page does not replace an existing draft unseen
        drafts.upload(core, people["manager"], "new_process.bpmn", flow_diagram(pid="brand_new").encode())


MALICIOUS = {
    "xxe": XXE,
    "billion laughs": BILLION_LAUGHS,
    "import os": flow_diagram(pid="evil", script="import os\nos.system('id')"),
    "subclasses": flow_diagram(pid="evil", script="x = ().__class__.__base__.__subclasses__()"),
    "format string": flow_diagram(pid="evil", script="leak = '{0.__globals__}'.format(len)"),
    "infinite loop": flow_diagram(pid="evil", script="while True:\n    pass"),
    "huge value": flow_diagram(pid="evil", script="x = 'a' * (10 ** 10)"),
    "huge file": flow_diagram(pid="evil", extra="<!-- " + "x" * (3 * 1024 * 1024) + " -->"),
    "unknown element": flow_diagram(pid="evil", extra='<bpmn:teleportTask id="Task_teleport" />'),
    "not executable": flow_diagram(pid="evil", executable=False),
    "no start event": flow_diagram(pid="evil", start=False),
    "gateway without default": flow_diagram(pid="evil", default=False),
    "not xml": "\x00\x01 definitely not a diagram",
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_a_malicious_or_broken_upload_is_refused_and_changes_nothing(core, people, triage, kind):
    with core.db.session() as s:
        before = (s.scalar(select(func.count()).select_from(ProcessChange)), s.scalar(select(func.count()).select_from(ProcessVersion)))
    with pytest.raises(Invalid) as refused:
        drafts.upload(core, people["manager"], "evil.bpmn", MALICIOUS[kind].encode("utf-8"))
    assert "nothing was" in refused.value.message
    with pytest.raises(Invalid):  # nor can it be pushed into an existing process's draft
        drafts.upload(core, people["manager"], "evil.bpmn", MALICIOUS[kind].encode("utf-8"), process_id=TRIAGE, revision=0)
    with core.db.session() as s:
        after = (s.scalar(select(func.count()).select_from(ProcessChange)), s.scalar(select(func.count()).select_from(ProcessVersion)))
        assert s.get(ProcessDraft, "evil") is None and s.get(ProcessDraft, TRIAGE) is None
    assert after == before


def test_an_unsafe_draft_save_is_refused_before_anything_is_stored(core, people, triage):
    for xml in (XXE, BILLION_LAUGHS, "not xml", "<x/>"):
        with pytest.raises(Invalid):
            drafts.save_draft(core, people["manager"], TRIAGE, xml, 0)
    with pytest.raises(Invalid):  # the process must keep its id
        drafts.save_draft(core, people["manager"], TRIAGE, ORIGINAL.replace('id="referral_triage"', 'id="renamed"'), 0)
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessChange)) == 0


def test_only_managers_edit_deploy_move_or_roll_back(core, people, triage):
    coordinator = people["coordinator"]
    for call in (lambda: library.library(core, coordinator),
                 lambda: drafts.get_draft(core, coordinator, TRIAGE),
                 lambda: drafts.save_draft(core, coordinator, TRIAGE, ORIGINAL, 0),
                 lambda: drafts.deploy_draft(core, coordinator, TRIAGE, 0, "x"),
                 lambda: drafts.upload(core, coordinator, "x.bpmn", ORIGINAL.encode()),
                 lambda: library.diff(core, coordinator, TRIAGE, 1, 1),
                 lambda: migration.migration_preview(core, coordinator, TRIAGE),
                 lambda: migration.move_instances(core, coordinator, TRIAGE, None, []),
                 lambda: library.rollback(core, coordinator, TRIAGE, 1, "x"),
                 lambda: form_library.save_form(core, coordinator, "chase_triage.schema.json", "{}", 0),
                 lambda: library.version_xml(core, coordinator, TRIAGE, 1)):
        with pytest.raises(Forbidden):
            call()


def test_moving_recomputes_nothing_people_see(core, people, triage):
    started = start(core, people, pupil_name="Ada")
    with core.db.session() as s:
        before = [(t.id, t.role, t.due_at, t.state) for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == started["id"]))]
    deploy(core, people["manager"], with_new_step(ORIGINAL))
    migration.move_instances(core, people["manager"], TRIAGE, 2, [started["id"]])
    with core.db.session() as s:
        after = [(t.id, t.role, t.due_at, t.state) for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == started["id"]))]
        assert s.get(Instance, started["id"]).version.version == 2
    assert after == before
