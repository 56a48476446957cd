"""Small BPMN documents for tests: one coordinator task, then a script, then a gateway."""
from __future__ import annotations

from xml.sax.saxutils import escape

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="Defs_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">"""


def flow_diagram(pid: str = "checked", script: str = "result = 'done'", condition: str = "result == 'done'",
                 default: bool = True, timer: str | None = None, executable: bool = True, lane: str = "AP Coordinator",
                 form: str | None = "chase_triage.schema.json", start: bool = True, extra: str = "",
                 due_in: str | None = None, timer_kind: str = "timeDuration") -> str:
    """start -> 'Check' user task -> 'Work' script -> gateway (condition / default) -> ends."""
    props = f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />' if form else ""
    if due_in:
        props += f'<spiffworkflow:property name="dueIn" value="{escape(due_in, {chr(34): "&quot;"})}" />'
    boundary = ""
    if timer is not None:
        boundary = f"""
    <bpmn:boundaryEvent id="Timer_late" name="Late" cancelActivity="false" attachedToRef="Task_check">
      <bpmn:outgoing>Flow_late</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{timer_kind} xsi:type="bpmn:tFormalExpression">{escape(timer)}</bpmn:{timer_kind}></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="End_late"><bpmn:incoming>Flow_late</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_late" sourceRef="Timer_late" targetRef="End_late" />"""
    start_xml = """<bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_check" />""" if start else ""
    return HEAD.format(pid=pid) + f"""
  <bpmn:process id="{pid}" name="Checked {pid}" isExecutable="{'true' if executable else 'false'}">
    <bpmn:laneSet id="LaneSet_{pid}">
      <bpmn:lane id="Lane_main" name="{escape(lane)}">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_check</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    {start_xml}
    <bpmn:userTask id="Task_check" name="Check">
      <bpmn:extensionElements><spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>{boundary}
    <bpmn:scriptTask id="Task_work" name="Work">
      <bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gateway_1" {'default="Flow_default"' if default else ''}>
      <bpmn:incoming>Flow_3</bpmn:incoming><bpmn:outgoing>Flow_yes</bpmn:outgoing>{'<bpmn:outgoing>Flow_default</bpmn:outgoing>' if default else ''}
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="End_yes"><bpmn:incoming>Flow_yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_check" targetRef="Task_work" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_work" targetRef="Gateway_1" />
    <bpmn:sequenceFlow id="Flow_yes" sourceRef="Gateway_1" targetRef="End_yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    {'<bpmn:endEvent id="End_default"><bpmn:incoming>Flow_default</bpmn:incoming></bpmn:endEvent><bpmn:sequenceFlow id="Flow_default" sourceRef="Gateway_1" targetRef="End_default" />' if default else ''}
    {extra}
  </bpmn:process>
</bpmn:definitions>
"""
