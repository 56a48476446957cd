"""The form library: JSON Schema forms edited in the browser (refused unless valid), going live with the next
deploy of each process that uses them, and a live preview while editing."""
from __future__ import annotations

import json
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from apflow.clock import clock
from apflow.engine.forms import check_form_source
from apflow.errors import Conflict, Invalid, NotFound
from apflow.store.models import FormDraft, User

from . import processes
from .changes import iso, record_change, require_manager
from .core import Core

FORM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.json$")


def is_ui_schema(name: str) -> bool:
    return "uischema" in name.lower() or name.lower().endswith(".ui.json")


def list_forms(core: Core, user: User) -> list[dict]:
    require_manager(user)
    names = {p.name: "file" for p in sorted(core.settings.forms_dir.glob("*.json")) if FORM_NAME.match(p.name)}
    with core.db.session(readonly=True) as session:
        edited = {f.name: f for f in session.scalars(select(FormDraft))}
    result = []
    for name in sorted(set(names) | set(edited)):
        form = edited.get(name)
        result.append({"name": name, "kind": "ui" if is_ui_schema(name) else "schema", "edited": form is not None,
                       "revision": form.revision if form else 0, "updated_by": form.updated_by if form else None,
                       "updated_at": iso(form.updated_at) if form else None})
    return result


def _form_name(name: str) -> str:
    if not FORM_NAME.match(name or ""):
        raise Invalid("A form file name is letters, digits, '.', '-' and '_', ending in .json.", {"name": ["e.g. review.schema.json"]})
    return name


def get_form(core: Core, user: User, name: str) -> dict:
    require_manager(user)
    name = _form_name(name)
    with core.db.session(readonly=True) as session:
        form = session.get(FormDraft, name)
        if form is not None:
            return {"name": name, "content": form.content, "revision": form.revision, "kind": "ui" if is_ui_schema(name) else "schema",
                    "source": "edited", "updated_by": form.updated_by, "updated_at": iso(form.updated_at)}
    path = core.settings.forms_dir / name
    if not path.is_file():
        raise NotFound(f"There is no form '{name}'.")
    return {"name": name, "content": path.read_text("utf-8"), "revision": 0, "kind": "ui" if is_ui_schema(name) else "schema",
            "source": "file", "updated_by": None, "updated_at": None}


def save_form(core: Core, user: User, name: str, content, revision) -> dict:
    """Save a form (refused unless it is valid); it goes live with the next deploy of each process using it."""
    require_manager(user)
    name = _form_name(name)
    if not isinstance(content, str):
        raise Invalid("Send the form as JSON text in `content`.", {"content": ["JSON text."]})
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise Invalid("Send the form revision you started from (0 for a form not edited before).", {"revision": ["A whole number."]})
    problems = check_form_source(name, content.encode("utf-8"), ui=is_ui_schema(name))
    if problems:
        raise Invalid("The form has problems; nothing was saved.", {"problems": processes.problems_payload(problems)})
    try:
        _store_form(core, user, name, content, revision)
    except IntegrityError:
        raise Conflict("Someone else saved this form at the same moment. Nothing was saved; reload and try again.") from None
    return get_form(core, user, name)


def _store_form(core: Core, user: User, name: str, content: str, revision: int) -> None:
    with core.db.session() as session:
        form = session.get(FormDraft, name, with_for_update=True, populate_existing=True)
        current = form.revision if form else 0
        if revision != current:
            who = f"{form.updated_by} saved it at {form.updated_at.strftime('%d %b %Y %H:%M UTC')}" if form else "it changed"
            raise Conflict(f"The form changed since you opened it ({who}, revision {current}). Nothing was saved; "
                           "copy your text, reload, and make your change again.", {"revision": current})
        if form is None:
            form = FormDraft(name=name, revision=0)
            session.add(form)
        form.content, form.revision, form.updated_at, form.updated_by = content, current + 1, clock.now(), user.username
        record_change(session, user, "form_saved", form_name=name, revision=form.revision, content=content)


def preview_form(user: User, schema_text, ui_text=None) -> tuple[dict | None, dict, list[dict]]:
    """(schema, ui schema, problems) from form text being edited, for a live preview."""
    require_manager(user)
    if not isinstance(schema_text, str):
        raise Invalid("Send the schema as JSON text in `schema`.")
    problems = check_form_source("schema", schema_text.encode("utf-8"))
    ui = {}
    if ui_text:
        problems += check_form_source("ui schema", str(ui_text).encode("utf-8"), ui=True)
    if problems:
        return None, {}, processes.problems_payload(problems)
    if ui_text:
        ui = json.loads(ui_text)
    return json.loads(schema_text), ui, []
