"""A file uploaded in a restricted form field is a child-protection attachment from its first moment: kept out of
process data and out of other staff's document lists, opened only by the DSL, each opening in the read log (R81, R111)."""
import io
import json

from sqlalchemy import select

from apflow.clock import clock
from apflow.placements.models import CpRead, CpRecord, Pupil
from apflow.services import instances, processes
from tests.bpmn_builder import flow_diagram
from tests.support import browser, make_user

SCHEMA = {"type": "object", "title": "Record the disclosure", "required": ["account"], "properties": {
    "account": {"type": "string", "title": "What the child said", "x-apflow-restricted": True},
    "evidence": {"type": "integer", "title": "Photo of the note", "x-apflow-restricted": True},
    "seen_on": {"type": "string", "title": "Seen on"}}}


def _deploy(core):
    bpmn = flow_diagram(pid="disclosure", lane="DSL", form="cp_upload.schema.json").replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="cp_upload.schema.json" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="cp_upload.schema.json" />'
        '<spiffworkflow:property name="formUiSchemaFilename" value="cp_upload.uischema.json" />')
    checked = processes.check_sources(core, {"disclosure.bpmn": bpmn.encode()}, form_overrides={
        "cp_upload.schema.json": json.dumps(SCHEMA).encode(), "cp_upload.uischema.json": json.dumps({"evidence": {"ui:widget": "file"}}).encode()})
    assert checked.ok, checked.problems
    processes.deploy_checked(core, checked, by="test", note="")


def test_R81_a_restricted_upload_reaches_only_the_dsl_and_each_opening_is_logged(app, core):
    dsl, coordinator = make_user(core, "dsl", "dsl"), make_user(core, "coord", "coordinator")
    _deploy(core)
    with core.db.session() as s:  # the pupil of the school both work for (the installation's own, issue 17)
        pupil = Pupil(ref="P-1", name="Jordan T.", created_at=clock.now(), organisation_id=min(coordinator.organisation_ids))
        s.add(pupil)
        s.flush()
        pupil_id = pupil.id
    started = instances.start_for(core, coordinator, "disclosure", {"pupil_name": "Jordan T.", "pupil_id": pupil_id}, None)
    [task] = instances.list_ready_tasks(core, dsl, started["id"])
    client = browser(app, "dsl")
    response = client.post(
        f"/tasks/{task['id']}", data={"csrf_token": client.csrf, "account": "He said his uncle hit him.", "seen_on": "today",
                                      "evidence": (io.BytesIO(b"%PDF-1.4 note"), "note.pdf", "application/pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    whole = instances.get_instance(core, coordinator, started["id"])
    assert whole["data"].get("seen_on") == "today" and "account" not in whole["data"] and "evidence" not in whole["data"]
    assert instances.instance_overview(core, coordinator, started["id"])["documents"] == []
    [document] = instances.instance_overview(core, dsl, started["id"])["documents"]
    assert document["restricted"] and document["filename"] == "note.pdf"
    assert browser(app, "coord").get(f"/placements/{started['id']}/documents/{document['id']}").status_code == 404
    assert client.get(f"/placements/{started['id']}/documents/{document['id']}").status_code == 200
    with core.db.session(readonly=True) as s:
        kinds = sorted((r.kind, r.pupil_id) for r in s.scalars(select(CpRecord)))
        reads = [(r.username, r.what) for r in s.scalars(select(CpRead))]
    assert kinds == [("answers", pupil_id), ("document", pupil_id)]
    assert reads == [("dsl", "Document: note.pdf")]
