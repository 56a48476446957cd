"""Service tasks (issue 17, point 3): apflow's four built-in operations, written the SpiffArena, Camunda 7 and Camunda 8
way, deploy and run to the end through the API and have their effect; anything else is refused at validation.
On SQLite and PostgreSQL, with real SMTP (aiosmtpd) and a real HTTP receiver for webhooks."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from apflow.placements.models import Placement, Pupil
from apflow.services import notifications, webhooks
from apflow.services import users as user_service
from apflow.store.models import Event, Notification, Organisation, OutboxWebhook, User
from tests.support import PASSWORD, free_port, token_for

CONVENTIONS = ("spiffarena", "camunda7", "zeebe")
START = {"pupil_name": "Sam Carter", "pupil_ref": "A123", "status": "placed", "referred_by": "school",
         "referrer_name": "Ms Hill", "reasons": ["attendance"], "reason_details": "Below 50% this term",
         "la_officer_name": "Mr Shah", "la_officer_role": "Inclusion officer"}
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Defs_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" name="Service {pid}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{lane}">
      <bpmn:flowNodeRef>Start_1</bpmn:flowNodeRef>{refs}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
"""


def service_task(convention: str, operation: str, params: dict, attributes: str = "", result: str | None = None) -> str:
    """The service task as each tool writes it; params are texts or lists of texts."""
    if convention == "spiffarena":
        body = "".join(f'<spiffworkflow:parameter id="{k}" type="str" value={quoteattr(repr(v))}/>' for k, v in params.items())
        result_attr = f' resultVariable="{result}"' if result else ""
        ext = (f'<spiffworkflow:serviceTaskOperator id="{operation}"{result_attr}><spiffworkflow:parameters>{body}'
               "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>")
        return f'<bpmn:serviceTask id="Task_service" name="Do it"{attributes}><bpmn:extensionElements>{ext}</bpmn:extensionElements>'
    if convention == "camunda7":
        def value(v):
            if isinstance(v, list):
                return "<camunda:list>" + "".join(f"<camunda:value>{escape(i)}</camunda:value>" for i in v) + "</camunda:list>"
            return escape(v)
        body = "".join(f'<camunda:inputParameter name="{k}">{value(v)}</camunda:inputParameter>' for k, v in params.items())
        return (f'<bpmn:serviceTask id="Task_service" name="Do it" camunda:type="external" camunda:topic="{operation}"{attributes}>'
                f"<bpmn:extensionElements><camunda:inputOutput>{body}</camunda:inputOutput></bpmn:extensionElements>")
    def source(v):
        return "=[" + ", ".join(json.dumps(i) for i in v) + "]" if isinstance(v, list) else "=" + json.dumps(v)
    body = "".join(f"<zeebe:input source={quoteattr(source(v))} target=\"{k}\"/>" for k, v in params.items())
    return (f'<bpmn:serviceTask id="Task_service" name="Do it"{attributes}><bpmn:extensionElements>'
            f'<zeebe:taskDefinition type="{operation}"/><zeebe:ioMapping>{body}</zeebe:ioMapping></bpmn:extensionElements>')


def diagram(pid: str, convention: str, operation: str, params: dict, before: str = "", lane: str = "AP Coordinator", **kw) -> str:
    """start -> [a user task] -> the service task -> end."""
    refs = "<bpmn:flowNodeRef>Task_check</bpmn:flowNodeRef>" if before else ""
    first = "Task_check" if before else "Task_service"
    xml = HEAD.format(pid=pid, lane=lane, refs=refs + "<bpmn:flowNodeRef>Task_service</bpmn:flowNodeRef>")
    xml += f'<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="{first}"/>'
    if before:
        xml += (f'<bpmn:userTask id="Task_check" name="Check"><bpmn:extensionElements><spiffworkflow:properties>{before}'
                '</spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>Flow_1</bpmn:incoming>'
                '<bpmn:outgoing>Flow_0</bpmn:outgoing></bpmn:userTask>'
                '<bpmn:sequenceFlow id="Flow_0" sourceRef="Task_check" targetRef="Task_service"/>')
    xml += service_task(convention, operation, params, **kw)
    xml += f'<bpmn:incoming>{"Flow_0" if before else "Flow_1"}</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:serviceTask>'
    xml += ('<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task_service" targetRef="End_1"/></bpmn:process></bpmn:definitions>')
    return xml


FORMLESS = '<spiffworkflow:property name="formless" value="true"/>'


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def staff(core):
    """Two schools, each with AP coordinators who have e-mail addresses; a manager at the first."""
    with core.db.session() as s:
        s.add_all([Organisation(name="North School", kind="school"), Organisation(name="South School", kind="school")])
    with core.db.session() as s:
        for name, org, roles in [("coord_n", "North School", ["coordinator"]), ("coord_n2", "North School", ["coordinator"]),
                                 ("coord_s", "South School", ["coordinator"]), ("boss", "North School", ["manager"])]:
            user_service.add_user(s, name, PASSWORD, roles, email=f"{name}@school.example", organisations=[org])
    return {"manager": "boss", "starter": "coord_n", "north": {"coord_n", "coord_n2"}, "south": {"coord_s"}}


def deploy(client, staff, xml: str, name: str):
    response = client.post("/api/v1/processes", json={"files": {name: xml}}, headers=token_for(client, staff["manager"]))
    assert response.status_code == 201, response.get_data(as_text=True)


def run_to_end(client, staff, pid: str, before: bool = False) -> dict:
    """Start as the coordinator and complete every task until the instance ends; its final state."""
    headers = token_for(client, staff["starter"])
    response = client.post(f"/api/v1/processes/{pid}/instances", json={"data": START}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    instance = response.json
    if before:
        [task] = client.get(f"/api/v1/tasks?instance={instance['id']}", headers=headers).json["tasks"]
        done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=headers)
        assert done.status_code == 200, done.get_data(as_text=True)
    instance = client.get(f"/api/v1/instances/{instance['id']}", headers=headers).json
    assert instance["status"] == "completed", instance
    return instance


def events(core, instance_id: int, kind: str) -> list[dict]:
    with core.db.session(readonly=True) as s:
        return [e.detail for e in s.scalars(select(Event).where(Event.instance_id == instance_id, Event.kind == kind))]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_issue17_notify_service_task_tells_the_roles_people_of_that_organisation_only(core, client, staff, convention):
    pid = f"notify_{convention}"
    operation = {"spiffarena": "apflow:notify", "camunda7": "notify", "zeebe": "notify"}[convention]
    xml = diagram(pid, convention, operation, {"role": "AP Coordinator", "message": "{pupil_name} ({pupil_ref}) needs a visit"},
                  before=FORMLESS if convention == "spiffarena" else "")
    deploy(client, staff, xml, f"{pid}.bpmn")
    instance = run_to_end(client, staff, pid, before=convention == "spiffarena")
    with core.db.session(readonly=True) as s:
        told = s.execute(select(User.username, Notification.message, Notification.instance_id).join(User, User.id == Notification.user_id)
                         .where(Notification.kind == "process_message")).all()
    assert {row.username for row in told} == staff["north"]  # South School's coordinator is told nothing
    assert {row.message for row in told} == {"Sam Carter (A123) needs a visit"}
    assert {row.instance_id for row in told} == {instance["id"]}
    [detail] = events(core, instance["id"], "service_task")
    assert detail["operation"] == "apflow:notify" and detail["recipients"] == 2


@pytest.fixture
def smtp(core):
    core.settings.smtp_host, core.settings.smtp_port = "127.0.0.1", free_port()

    class Inbox:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    inbox = Inbox()
    inbox.messages = []
    controller = Controller(inbox, hostname="127.0.0.1", port=core.settings.smtp_port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_issue17_email_service_task_reaches_the_roles_people_through_smtp(core, client, staff, smtp, convention):
    pid = f"email_{convention}"
    operation = {"spiffarena": "apflow:email", "camunda7": "send-email", "zeebe": "email"}[convention]
    xml = diagram(pid, convention, operation, {"to": "AP Coordinator", "subject": "Visit for {pupil_name}",
                                               "body": "Please visit {pupil_name} ({pupil_ref}) this week."})
    deploy(client, staff, xml, f"{pid}.bpmn")
    instance = run_to_end(client, staff, pid)
    assert notifications.deliver_outbox(core) == (2, 0)
    assert sorted(r[0] for r, _ in smtp.messages) == ["coord_n2@school.example", "coord_n@school.example"]
    assert all("Subject: Visit for Sam Carter" in body and "Please visit Sam Carter (A123) this week." in body for _, body in smtp.messages)
    [detail] = events(core, instance["id"], "service_task")
    assert detail["recipients"] == 2


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_issue17_record_service_task_writes_the_record(core, client, staff, convention):
    pid = f"record_{convention}"
    fields = ["pupil_ref", "pupil_name", "referred_by", "referrer_name", "reasons", "reason_details", "la_officer_name",
              "la_officer_role"]
    xml = diagram(pid, convention, "record", {"kind": "referral", "fields": fields})
    deploy(client, staff, xml, f"{pid}.bpmn")
    instance = run_to_end(client, staff, pid)
    with core.db.session(readonly=True) as s:
        placement = s.scalar(select(Placement).where(Placement.instance_id == instance["id"]))
        assert placement is not None and placement.referrer_name == "Ms Hill" and placement.reasons == ["attendance"]
        assert s.get(Pupil, placement.pupil_id).ref == "A123"
    [detail] = events(core, instance["id"], "service_task")
    assert detail["kind"] == "referral"


class Receiver:
    """A local HTTP server that answers each POST with the next status of `answers` (then 200)."""

    def __init__(self, answers=()):
        self.answers, self.received = list(answers), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, dict(self.headers), json.loads(body)))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(core):
    server = Receiver(answers=[500])
    core.settings.webhook_allowlist = f"{server.base}/hooks/"
    yield server
    server.close()


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_issue17_webhook_service_task_is_posted_by_the_outbox_and_retried_after_a_failure(core, client, staff, receiver,
                                                                                         frozen_clock, convention):
    pid = f"webhook_{convention}"
    xml = diagram(pid, convention, "webhook", {"url": f"{receiver.base}/hooks/placed", "fields": ["pupil_ref", "status"]})
    deploy(client, staff, xml, f"{pid}.bpmn")
    instance = run_to_end(client, staff, pid)
    assert receiver.received == []  # nothing is posted inside the step
    assert webhooks.deliver_webhooks(core) == (0, 1)  # the receiver answers 500
    assert webhooks.deliver_webhooks(core) == (0, 0)  # not yet due again
    frozen_clock.advance(timedelta(seconds=6))
    assert webhooks.deliver_webhooks(core) == (1, 0)
    assert [(path, payload) for path, _, payload in receiver.received] == [("/hooks/placed", {"pupil_ref": "A123", "status": "placed"})] * 2
    assert receiver.received[0][1]["X-Apflow-Instance"] == str(instance["id"])
    with core.db.session(readonly=True) as s:
        [hook] = s.scalars(select(OutboxWebhook))
        assert hook.sent_at is not None and hook.attempts == 2 and hook.last_status == 200


def test_issue17_webhook_no_longer_allowlisted_is_not_posted(core, client, staff, receiver):
    pid = "webhook_removed"
    deploy(client, staff, diagram(pid, "zeebe", "webhook", {"url": f"{receiver.base}/hooks/x", "fields": ["pupil_ref"]}), f"{pid}.bpmn")
    run_to_end(client, staff, pid)
    core.settings.webhook_allowlist = ""  # the administrator withdrew it after the step queued it
    assert webhooks.deliver_webhooks(core) == (0, 1)
    assert receiver.received == []
    with core.db.session(readonly=True) as s:
        [hook] = s.scalars(select(OutboxWebhook))
        assert hook.dead_at is not None and "APFLOW_WEBHOOK_ALLOWLIST" in hook.last_error


def validate(client, staff, xml: str, name: str = "refused.bpmn") -> list[dict]:
    response = client.post("/api/v1/processes/validate", json={"files": {name: xml}}, headers=token_for(client, staff["manager"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    deployed = client.post("/api/v1/processes", json={"files": {name: xml}}, headers=token_for(client, staff["manager"]))
    assert deployed.status_code == 422  # what validation refuses is never deployed
    problems = response.json["problems"]
    for problem in problems:
        assert problem["message"] and problem["fix"] and "<" not in problem["message"] and "Traceback" not in problem["message"]
    return problems


def test_issue17_service_tasks_apflow_cannot_run_are_refused_at_validation(client, staff, core):
    core.settings.webhook_allowlist = "https://hooks.example.org/apflow/"
    [unknown] = validate(client, staff, diagram("unknown", "spiffarena", "http/GetRequestV2", {"url": "https://x.example"}))
    assert unknown["element"] == "Task_service" and "'http/GetRequestV2', which apflow does not have" in unknown["message"]
    assert "apflow:notify" in unknown["fix"] and "apflow:webhook" in unknown["fix"]

    java = diagram("java", "camunda7", "notify", {}).replace('camunda:type="external" camunda:topic="notify"',
                                                             'camunda:class="org.example.SendMail"')
    [problem] = validate(client, staff, java)
    assert problem["element"] == "Task_service" and 'camunda:class="org.example.SendMail"' in problem["message"]
    assert 'camunda:type="external"' in problem["fix"]

    [outside] = validate(client, staff, diagram("outside", "zeebe", "webhook", {"url": "https://evil.example/x", "fields": ["pupil_ref"]}))
    assert "not on this installation's webhook allowlist" in outside["message"] and "APFLOW_WEBHOOK_ALLOWLIST" in outside["fix"]
    [lookalike] = validate(client, staff, diagram("lookalike", "spiffarena", "webhook",
                                                  {"url": "https://hooks.example.org/apflowx", "fields": "pupil_ref"}))
    assert "allowlist" in lookalike["message"]

    [missing] = validate(client, staff, diagram("missing", "camunda7", "notify", {"role": "AP Coordinator"}))
    assert "has no parameter 'message'" in missing["message"]
    [unknown_param] = validate(client, staff, diagram("extra", "zeebe", "notify", {"role": "DSL", "message": "x", "colour": "red"}))
    assert "'colour'" in unknown_param["message"]

    [address] = validate(client, staff, diagram("address", "spiffarena", "email", {"to": "someone@outside.example", "subject": "s",
                                                                                    "body": "{pupil_name}"}))
    assert "not on this installation's e-mail allowlist" in address["message"]
    [from_data] = validate(client, staff, diagram("fromdata", "spiffarena", "notify", {"role": "DSL", "message": "x"})
                           .replace("value=\"'x'\"", 'value="pupil_name"'))
    assert "not fixed text" in from_data["message"]
    zeebe_role = diagram("roledata", "zeebe", "notify", {"role": "x", "message": "m"}).replace("source='=\"x\"'", 'source="=role_name"')
    [role_from_data] = validate(client, staff, zeebe_role)
    assert "takes 'role' from process data" in role_from_data["message"] and "fixed text" in role_from_data["message"]
    [feel] = validate(client, staff, diagram("feel", "zeebe", "notify", {"role": "DSL", "message": "m"})
                      .replace("source='=\"m\"'", 'source="=upper case(pupil_name)"'))
    assert "FEEL expression apflow does not evaluate" in feel["message"]
    [result] = validate(client, staff, diagram("hookresult", "spiffarena", "webhook",
                                               {"url": "https://hooks.example.org/apflow/in", "fields": "pupil_ref"}, result="answer"))
    assert "result variable" in result["message"]


def test_issue17_restricted_field_in_a_service_task_template_is_refused(client, staff):
    before = '<spiffworkflow:property name="formJsonSchemaFilename" value="concern_response.schema.json"/>'
    for convention in CONVENTIONS:
        xml = diagram(f"leak_{convention}", convention, "email", {"to": "DSL", "subject": "Concern", "body": "Assessment: {assessment}"},
                      before=before, lane="DSL")
        problems = validate(client, staff, xml)
        assert [p["element"] for p in problems] == ["Task_service"], problems
        assert "reads 'assessment', which concern_response.schema.json marks restricted" in problems[0]["message"]


def test_issue17_fixed_address_on_the_allowlist_may_be_sent_to(core, client, staff, smtp):
    core.settings.email_allowlist = "@la.example.gov.uk"
    xml = diagram("to_la", "camunda7", "email", {"to": "inclusion@la.example.gov.uk", "subject": "Placement ${pupil_ref}",
                                                 "body": "A placement started for ${pupil_ref}."})
    deploy(client, staff, xml, "to_la.bpmn")
    run_to_end(client, staff, "to_la")
    assert notifications.deliver_outbox(core) == (1, 0)
    [(to, body)] = smtp.messages
    assert to == ["inclusion@la.example.gov.uk"] and "Subject: Placement A123" in body


WAITING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_waiting" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:signal id="Signal_go" name="go"/>
  <bpmn:process id="waiting" name="Waiting" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="AP Coordinator"><bpmn:flowNodeRef>Start_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait_go" name="Go"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="Signal_go"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Wait_go"/><bpmn:sequenceFlow id="Flow_2" sourceRef="Wait_go" targetRef="End_1"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_issue17_record_service_task_sends_the_signals_its_record_handler_queues(core, client, staff, monkeypatch):
    """A record handler may signal another placement (a concern's response asks for an emergency removal): from a
    service task too, that signal goes once the step is committed."""
    from apflow.placements.records import HANDLERS

    def handler(ctx):
        ctx.signal_after(int(ctx.answers["other_instance"]), "go", {"from": ctx.instance.id})
    monkeypatch.setitem(HANDLERS, "referral", handler)
    deploy(client, staff, WAITING, "waiting.bpmn")
    headers = token_for(client, staff["starter"])
    waiting = client.post("/api/v1/processes/waiting/instances", json={"data": {}}, headers=headers).json
    assert waiting["status"] == "running"
    deploy(client, staff, diagram("signalling", "spiffarena", "record", {"kind": "referral", "fields": ["other_instance"]}), "signalling.bpmn")
    response = client.post("/api/v1/processes/signalling/instances", json={"data": {"other_instance": waiting["id"]}}, headers=headers)
    assert response.status_code == 201 and response.json["status"] == "completed", response.get_data(as_text=True)
    assert client.get(f"/api/v1/instances/{waiting['id']}", headers=headers).json["status"] == "completed"
