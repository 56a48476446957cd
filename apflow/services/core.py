"""The application object: settings, database, workflow host and spec cache, shared by web, CLI and scheduler."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime

from apflow import school_calendar
from apflow.clock import clock
from apflow.config import Settings
from apflow.engine.diagrams import SpecBundle
from apflow.engine.forms import Form
from apflow.engine.runtime import WorkflowHost
from apflow.engine.workers import WorkerSetup, runner
from apflow.store import term_dates
from apflow.store.db import Database
from apflow.store.models import ProcessVersion

from .written import WrittenSteps

CALENDAR_CACHE_SECONDS = 60


class Core:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.db = Database(self.settings.database_url, connect_timeout=self.settings.db_connect_timeout,
                           pool_timeout=self.settings.db_pool_timeout, statement_timeout=self.settings.db_statement_timeout)
        self.host = WorkflowHost(helpers=self.script_helpers(), script_seconds=self.settings.script_seconds)
        # Where steps run the diagram's code: worker processes with limits (apflow/engine/workers.py), or here.
        self.steps = runner(self.host, self.settings.engine_processes, WorkerSetup(
            school_calendar.helpers, {"concern_response_minutes": self.settings.concern_response_minutes},
            self.settings.script_seconds), context=self._calendar_for_workers)
        self._specs: OrderedDict[int, SpecBundle] = OrderedDict()
        self._forms: OrderedDict[int, dict] = OrderedDict()
        self._specs_lock = threading.Lock()
        # per process id, the newest version a start here read (services/instances.py: a start's early run)
        self.newest_versions: dict[str, object] = {}
        # per placement, the last step this process committed on it (services/written.py)
        self.written = WrittenSteps()
        self._timer_listeners = []
        self._calendar = (None, None)

    def script_helpers(self) -> dict:
        """Functions diagrams may call in scripts, conditions and timer expressions (see docs/authoring.md)."""
        return school_calendar.helpers(self._calendar_now, self.settings.concern_response_minutes)

    def _calendar_now(self):
        return self.calendar(), clock.now()

    def _calendar_for_workers(self):
        """What a worker's helpers read: the term calendar, or the error that says there is none."""
        try:
            return self.calendar()
        except school_calendar.NoCalendar as err:
            return err

    def calendar(self) -> school_calendar.SchoolCalendar:
        """The organisation's term calendar, re-read at most every minute so other processes' edits show."""
        with self._specs_lock:
            cached, read_at = self._calendar
        if read_at is not None and (time.monotonic() - read_at) < CALENDAR_CACHE_SECONDS:
            found = cached
        else:
            with self.db.session(readonly=True) as session:
                found = term_dates.load(session)
            with self._specs_lock:
                self._calendar = (found, time.monotonic())
        if found is None:
            raise school_calendar.NoCalendar("No school-term dates are set up, so calendar deadlines cannot be worked out. "
                                              "A manager can import them with `apflow calendar import FILE` or on the Calendar page.")
        return found

    def calendar_changed(self) -> None:
        with self._specs_lock:
            self._calendar = (None, None)

    def bundle(self, version: ProcessVersion) -> SpecBundle:
        """The parsed spec of a deployed version; built once per process and kept (versions never change)."""
        return self._cached(self._specs, version, lambda: self.host.spec_from_dict(version.spec))

    def form(self, version: ProcessVersion, schema_file: str | None, ui_file: str | None) -> Form | None:
        """A task's form as deployed with the version (None if it has none), built once and kept."""
        if not schema_file:
            return None
        forms = self._cached(self._forms, version, lambda: {"files": version.forms, "built": {}})
        key = (schema_file, ui_file)
        if key not in forms["built"]:
            schema = forms["files"].get(schema_file)
            forms["built"][key] = None if schema is None else Form(schema, forms["files"].get(ui_file) if ui_file else None)
        return forms["built"][key]

    def _cached(self, cache: OrderedDict, version: ProcessVersion, build):
        with self._specs_lock:
            value = cache.get(version.id)
            if value is not None:
                cache.move_to_end(version.id)
                return value
        value = build()
        with self._specs_lock:
            cache[version.id] = value
            while len(cache) > 256:
                cache.popitem(last=False)
        return value

    def on_timer_scheduled(self, listener) -> None:
        """Call listener(due_at) whenever a transaction commits a pending timer, so the scheduler can re-arm."""
        self._timer_listeners.append(listener)

    def timers_scheduled(self, due_times: list[datetime]) -> None:
        if due_times:
            earliest = min(due_times)
            for listener in list(self._timer_listeners):
                listener(earliest)
