"""Two `apflow scheduler` processes sharing one database fire 1,000 due timers: none twice, none lost."""
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


def test_two_scheduler_processes_fire_every_timer_exactly_once(core, people, triage, frozen_clock, database_url, tmp_path):
    # Start the placements three days ago (real time), so their two-day timers are all due now.
    frozen_clock.freeze(datetime.now(timezone.utc) - timedelta(days=3))
    for i in range(TIMERS):
        instances.start_instance(core, people["coordinator"], "referral_triage", {"pupil_ref": f"P{i:04d}", "reasons": ["attendance"]})
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PendingTimer)) == TIMERS

    env = {**os.environ, "APFLOW_DATABASE_URL": database_url, "APFLOW_INSTANCE_DIR": str(tmp_path), "APFLOW_SWEEP_SECONDS": "1"}
    logs = [open(tmp_path / f"scheduler{n}.log", "w") for n in (1, 2)]
    processes = [subprocess.Popen([sys.executable, "-m", "apflow", "scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                 for log in logs]
    try:
        deadline = time.monotonic() + 240
        remaining = TIMERS
        while time.monotonic() < deadline and remaining:
            time.sleep(0.5)
            with core.db.session() as s:
                remaining = s.scalar(select(func.count()).select_from(PendingTimer))
        assert remaining == 0, f"{remaining} timers never fired"
        assert all(p.poll() is None for p in processes), "a scheduler process died"
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=30)
        for log in logs:
            log.close()
    with core.db.session() as s:
        fired = s.execute(select(Event.instance_id, func.count()).where(Event.kind == "timer_fired").group_by(Event.instance_id)).all()
    assert len(fired) == TIMERS
    assert {count for _, count in fired} == {1}
    output = "".join((tmp_path / f"scheduler{n}.log").read_text() for n in (1, 2))
    assert "Traceback" not in output, output[-3000:]
