"""Apply what a step's service tasks asked for (apflow.engine.service_tasks), in the step's own transaction: a
notification to a role's people, an e-mail to a role's people (or an allowlisted address), a record written by the
record handlers, a webhook queued for the scheduler to post. Each is also an event on the placement's history.

Whatever could not be done was refused at validation; the allowlists are checked again here, in case the installation's
settings changed since the diagram was deployed (a URL no longer allowed is not queued, and the event says so).
"""
from __future__ import annotations

import logging

from apflow.clock import clock
from apflow.engine.service_tasks import ServiceSettings, address_allowed, split_list, url_allowed
from apflow.errors import Invalid
from apflow.placements.common import RecordContext
from apflow.placements.records import HANDLERS
from apflow.store import outbox
from apflow.store.models import OutboxWebhook

from . import roles as custom_roles
from .core import Core

log = logging.getLogger(__name__)
NOTIFY_KIND = "process_message"  # the notification kind of a notify step (people may choose how they get it)


def service_settings(settings) -> ServiceSettings:
    """The installation's allowlists, as validation wants them."""
    return ServiceSettings(webhook_allowlist=split_list(settings.webhook_allowlist), email_allowlist=split_list(settings.email_allowlist))


def apply(core: Core, session, instance, actor, effects: list[dict], event, data: dict) -> list:
    """Do each effect of a step. event(kind, detail) adds an event to the instance's history; data is the process data
    after the step (what a record handler reads besides the fields it was given). Returns the signals record handlers
    queued for other placements (RecordContext.signal_after), to send once the step is committed."""
    signals: list = []
    for effect in effects or ():
        operation = effect.get("operation")
        detail = {"operation": operation, "element": effect.get("element"), "task_name": effect.get("name")}
        if operation == "apflow:notify":
            role = custom_roles.lane_role(session, effect["role"])
            people = outbox.role_members(session, role, outbox.instance_organisations(instance)) if role else []
            outbox.notify(session, people, NOTIFY_KIND, effect["message"], instance_id=instance.id,
                          subject=f"{effect.get('name') or 'A process'}: a message for the {effect['role']}"[:120],
                          email="There is a new message for you about a placement in apflow. Open it:")
            detail.update(role=role, recipients=len(people))
        elif operation == "apflow:email":
            detail.update(_email(core, session, instance, effect))
        elif operation == "apflow:record":
            detail.update(kind=effect["kind"], fields=sorted(effect.get("fields") or {}))
            signals += _record(core, session, instance, actor, effect, data)
        elif operation == "apflow:webhook":
            detail.update(_webhook(core, session, instance, effect))
        else:  # refused at validation: a version deployed before the check stops the step plainly
            raise Invalid(f"The process asked for the operation '{operation}', which apflow does not have; a manager must "
                          "correct the diagram.")
        event("service_task", detail)
    return signals


def _email(core: Core, session, instance, effect: dict) -> dict:
    to = effect["to"]
    if "@" in to:
        if not address_allowed(to, split_list(core.settings.email_allowlist)):
            log.warning("service task %s of instance %s: %s is no longer on the e-mail allowlist; nothing sent",
                        effect.get("element"), instance.id, to)
            return {"to": to, "recipients": 0, "refused": "the address is no longer on APFLOW_EMAIL_ALLOWLIST"}
        outbox.queue_email(session, to, effect["subject"], effect["body"])
        return {"to": to, "recipients": 1}
    role = custom_roles.lane_role(session, to)
    people = [p for p in outbox.role_members(session, role, outbox.instance_organisations(instance)) if p.email] if role else []
    for person in people:
        outbox.queue_email(session, person.email, effect["subject"], effect["body"])
    return {"role": role, "recipients": len(people)}


def _record(core: Core, session, instance, actor, effect: dict, data: dict) -> list:
    kind = effect["kind"]
    handler = HANDLERS.get(kind)
    if handler is None:
        raise Invalid(f"The process asks to record '{kind}', which apflow does not know; a manager must correct the diagram.")
    fields = dict(effect.get("fields") or {})
    after: list = []
    try:
        handler(RecordContext(core, session, instance, actor, None, kind, fields, {**data, **fields}, {}, after))
    except KeyError as err:
        raise Invalid(f"The step '{effect.get('name')}' records '{kind}', which needs the field '{err.args[0]}': name it in the "
                      "service task's fields and make sure the process has it by then.") from None
    return after


def _webhook(core: Core, session, instance, effect: dict) -> dict:
    url = effect["url"]
    if not url_allowed(url, split_list(core.settings.webhook_allowlist)):
        log.warning("service task %s of instance %s: %s is no longer on the webhook allowlist; nothing queued",
                    effect.get("element"), instance.id, url)
        return {"url": url, "queued": False, "refused": "the address is no longer on APFLOW_WEBHOOK_ALLOWLIST"}
    now = clock.now()
    session.add(OutboxWebhook(instance_id=instance.id, element=str(effect.get("element") or "")[:200], url=url,
                              payload=dict(effect.get("payload") or {}), created_at=now, next_attempt_at=now, attempts=0))
    return {"url": url, "queued": True}
