"""Two `apflow scheduler` processes sharing one database fire 1,000 due timers: none twice, none lost.

The test counts work, not seconds: it waits until no pending timer is left, failing early only if a
process dies, and HANG_GUARD (time with no timer fired at all) only turns a stuck scheduler into a failure.
"""
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from apflow.config import ROOT
from apflow.services import instances
from apflow.store.models import Event, PendingTimer

TIMERS = 1000
HANG_GUARD = 600  # seconds without a single timer firing; never reached unless both schedulers are stuck
POLL = 0.5        # how often the test looks at the count; it changes nothing the schedulers do


def pending(core) -> int:
    with core.db.session() as s:
        return s.scalar(select(func.count()).select_from(PendingTimer))


def test_two_scheduler_processes_fire_every_timer_exactly_once(core, people, triage, frozen_clock, database_url, tmp_path):
    # Start the placements three days ago (real time), so their two-day timers are all due now.
    frozen_clock.freeze(datetime.now(timezone.utc) - timedelta(days=3))
    started = {instances.start_instance(core, people["coordinator"], "referral_triage", {"pupil_ref": f"P{i:04d}", "reasons": ["attendance"]})["id"]
               for i in range(TIMERS)}
    assert pending(core) == TIMERS

    env = {**os.environ, "APFLOW_DATABASE_URL": database_url, "APFLOW_INSTANCE_DIR": str(tmp_path), "APFLOW_SWEEP_SECONDS": "1",
           "APFLOW_SCRIPT_SECONDS": "3600"}  # a busy CPU must not push a benign expression over the time limit
    logs = [open(tmp_path / f"scheduler{n}.log", "w") for n in (1, 2)]
    processes = [subprocess.Popen([sys.executable, "-m", "apflow", "scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                 for log in logs]
    try:
        remaining, last_progress = TIMERS, time.monotonic()
        while remaining:
            assert all(p.poll() is None for p in processes), "a scheduler process died"
            time.sleep(POLL)
            now_remaining = pending(core)
            if now_remaining < remaining:
                last_progress = time.monotonic()
            remaining = now_remaining
            assert time.monotonic() - last_progress < HANG_GUARD, f"no timer fired for {HANG_GUARD} s; {remaining} left"
        assert all(p.poll() is None for p in processes), "a scheduler process died"
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=HANG_GUARD)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    with core.db.session() as s:
        fired = dict(s.execute(select(Event.instance_id, func.count()).where(Event.kind == "timer_fired").group_by(Event.instance_id)).all())
    assert set(fired) == started, f"{len(started - set(fired))} timers never fired"
    assert [i for i, count in fired.items() if count != 1] == [], "some timers fired more than once"
    output = "".join((tmp_path / f"scheduler{n}.log").read_text() for n in (1, 2))
    assert "Traceback" not in output, output[-3000:]
