"""Domain records written by workflow steps: the bridge from a completed task's answers to the tables
(pupils, placements, consents, reviews, ...) that outlive one process and are searched and reported on.

A diagram names what a step records with the task property `records` (comma-separated kinds, e.g.
`consent` or `placement_review,risk_assessment_review`); the start event may carry one too. Each kind
has a row in the table apflow.placements.records.HANDLERS. A handler runs inside the step's transaction
before the engine moves on, may refuse the step (raise Invalid with a plain message: that is how hard
gates such as "no placement without written consent" are enforced), and may return values to add to the
process data (e.g. the id of the record it wrote).
"""
from __future__ import annotations

from apflow.engine.diagrams import record_kinds
from apflow.errors import Invalid
from apflow.placements.common import RecordContext
from apflow.placements.records import HANDLERS, RETIRED

from .core import Core

KNOWN_KINDS = frozenset(HANDLERS)


def apply(core: Core, session, instance, actor, task, properties: dict, answers: dict, data: dict, after: list | None = None) -> dict:
    """Run the handlers a step names; returns process-data updates. Unknown kinds are refused.

    after: collects the signals handlers queue for other instances (RecordContext.signal_after)."""
    updates: dict = {}
    for kind in record_kinds(properties):
        fn = HANDLERS.get(kind)
        if fn is None and kind in RETIRED:
            raise Invalid(RETIRED[kind])
        if fn is None:
            raise Invalid(f"The process asks to record '{kind}', which apflow does not know; a manager must correct the diagram.")
        result = fn(RecordContext(core, session, instance, actor, task, kind, dict(answers), {**data, **updates}, properties,
                                   after if after is not None else []))
        if result:
            updates.update(result)
    return updates
