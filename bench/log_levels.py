"""What logging costs the engine: start and complete referral_triage with SpiffWorkflow alone (no database),
at the level `apflow serve` used to run with (INFO) and at today's default (WARNING), interleaved in one
process, each record written to a file as a server would."""
from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

from apflow.config import ROOT
from apflow.engine import validate
from apflow.engine.runtime import WorkflowHost
from apflow.logs import FORMAT, SPIFF_LOGGERS, setup_logging
from apflow.services.records import KNOWN_KINDS

from .common import START_DATA, TRIAGE, TRIAGE_ACCEPT, TRIAGE_BPMN, say

LEVELS = ("INFO", "WARNING")


def run(workdir: Path, iterations: int) -> dict:
    checked = validate.check({TRIAGE_BPMN.name: TRIAGE_BPMN.read_bytes()}, ROOT / "forms", record_kinds=KNOWN_KINDS)
    bundle, host = checked.parsed.bundle(TRIAGE), WorkflowHost()
    root = logging.getLogger()
    handler = logging.FileHandler(workdir / "log_levels.log", mode="w")
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    times: dict[str, list[float]] = {level: [] for level in LEVELS}
    lines: dict[str, int] = {}
    try:
        warm = max(iterations // 10, 5)
        for i in range(iterations + warm):
            for level in LEVELS if i % 2 else LEVELS[::-1]:
                setup_logging(level)
                handler.flush()
                before = (workdir / "log_levels.log").stat().st_size
                started = time.perf_counter()
                workflow = host.start(bundle, dict(START_DATA))
                host.complete(workflow, host.ready_human_tasks(workflow)[0].id, TRIAGE_ACCEPT)
                elapsed = time.perf_counter() - started
                if i >= warm:
                    times[level].append(elapsed)
                    handler.flush()
                    lines[level] = lines.get(level, 0) + int((workdir / "log_levels.log").stat().st_size > before)
    finally:
        root.removeHandler(handler)
        handler.close()
        setup_logging("WARNING")
    p50 = {level: statistics.median(t) * 1000 for level, t in times.items()}
    return {"iterations": iterations, "p50_ms": p50, "ratio": p50["INFO"] / p50["WARNING"],
            "steps_that_logged": lines, "loggers": list(SPIFF_LOGGERS)}


def report(result: dict) -> None:
    p50 = result["p50_ms"]
    say(f"  start + complete, p50 of {result['iterations']}: INFO {p50['INFO']:.2f} ms, WARNING {p50['WARNING']:.2f} ms "
        f"-> INFO costs {result['ratio']:.2f}x (steps that wrote a log line: INFO {result['steps_that_logged'].get('INFO', 0)}, "
        f"WARNING {result['steps_that_logged'].get('WARNING', 0)})")
