"""Domain records written by workflow steps: the bridge from a completed task's answers to the tables
(pupils, placements, consents, reviews, ...) that outlive one process and are searched and reported on.

A diagram names what a step records with the task property `records` (comma-separated kinds, e.g.
`consent` or `placement_review,risk_assessment_review`); the start event may carry one too. Each
kind has a handler registered here with @handler(kind). A handler runs inside the step's
transaction before the engine moves on, may refuse the step (raise Invalid with a plain message:
that is how hard gates such as "no placement without written consent" are enforced), and may
return values to add to the process data (e.g. the id of the record it wrote).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import Invalid

RECORDS_PROPERTY = "records"


@dataclass
class RecordContext:
    app: object
    session: object
    instance: object          # store.models.Instance (already flushed: has an id)
    actor: object             # services.instances.Actor
    task: object | None       # store.models.HumanTask, None at start
    kind: str
    answers: dict             # the checked form answers of this step (the start data at start)
    data: dict                # the process data before this step
    properties: dict = field(default_factory=dict)


HANDLERS: dict[str, Callable[[RecordContext], dict | None]] = {}


def handler(kind: str):
    def register(fn):
        HANDLERS[kind] = fn
        return fn
    return register


def kinds(properties: dict) -> list[str]:
    return [k.strip() for k in str(properties.get(RECORDS_PROPERTY, "")).split(",") if k.strip()]


def apply(app, session, instance, actor, task, properties: dict, answers: dict, data: dict) -> dict:
    """Run the handlers a step names; returns process-data updates. Unknown kinds are refused."""
    _load_handlers()
    updates: dict = {}
    for kind in kinds(properties):
        fn = HANDLERS.get(kind)
        if fn is None:
            raise Invalid(f"The process asks to record '{kind}', which apflow does not know; a manager must correct the diagram.")
        result = fn(RecordContext(app, session, instance, actor, task, kind, dict(answers), {**data, **updates}, properties))
        if result:
            updates.update(result)
    return updates


def known_kinds() -> set[str]:
    _load_handlers()
    return set(HANDLERS)


def _load_handlers() -> None:
    # Handlers live in domain modules that register themselves on import.
    try:
        import apflow.placements.handlers  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name not in {"apflow.placements", "apflow.placements.handlers"}:
            raise
