"""Choices a form fills in from the records when it is shown: a field marked "x-apflow-options": "providers" offers
the provider register instead of a free-text box (docs/authoring.md)."""
from __future__ import annotations

import copy

from sqlalchemy import select

from apflow.placements import gates
from apflow.placements.models import Provider

OPTIONS = "x-apflow-options"
STATUS_WORDS = {"approved": "approved", "proposed": "approval not started", "due_diligence": "due diligence under way",
                "suspended": "suspended: no new placements"}


def _providers(session) -> list[tuple[str, str]]:
    choices = []
    for provider in session.scalars(select(Provider).where(Provider.status != "withdrawn").order_by(Provider.name)):
        ready = gates.provider_ready(session, provider)
        words = "approved, agreement signed" if ready else STATUS_WORDS.get(provider.status, provider.status.replace("_", " "))
        choices.append((provider.name, f"{provider.name} ({words})"))
    return choices


SOURCES = {"providers": _providers}


def resolve(session, schema: dict, ui_schema: dict) -> tuple[dict, dict]:
    """The form as it is shown now: each field naming an options source gets its choices (values and labels)."""
    named = {key: prop[OPTIONS] for key, prop in schema.get("properties", {}).items()
             if isinstance(prop, dict) and prop.get(OPTIONS) in SOURCES}
    if not named:
        return schema, ui_schema
    schema, ui_schema = copy.deepcopy(schema), copy.deepcopy(ui_schema)
    for key, source in named.items():
        choices = SOURCES[source](session)
        schema["properties"][key]["enum"] = [value for value, _ in choices]
        ui_schema.setdefault(key, {}).update({"ui:enumNames": [label for _, label in choices], "ui:widget": "select"})
    return schema, ui_schema
