"""apflow benchmarks: `python -m bench` (everything) or `python -m bench --quick --json FILE`.

Benchmarks measure and print; they never assert time limits and are not tests. See
docs/performance.md for what each one does and the results.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import create_engine, text

from apflow.config import ROOT

from . import common, http_floor, log_levels, long_placement, overhead, pool, registers, scaleout, scaling, screens, size, timers
from . import http as http_bench
from . import trends as trends_bench
from .common import POSTGRES_URL, load_average, postgres_problem, say

ALL = ["overhead", "scaling", "timers", "http", "http_floor", "size", "logging", "pool", "registers", "trends", "scaleout",
       "long_placement", "screens", "profile"]

FULL = {"overhead_iterations": 1000, "scaling_sizes": [100, 1_000, 10_000], "scaling_rounds": 10,
        "scaling_reps": {"inbox": 3, "page": 20, "complete": 20, "start": 20},
        "timers": 10_000, "http_seconds": 30, "http_tasks_per_user": 10, "size_instances": 200, "profile_iterations": 300, "logging_iterations": 1000,
        "pool_iterations": 1000, "registers_sizes": [100, 2_000], "registers_rounds": 10,
        "trends_sizes": [100, 10_000], "trends_rounds": 10,
        "http_floor_iterations": 500, "http_floor_profile": 200,
        "scaleout_seconds": 60, "scaleout_processes": [1, 2], "long_placement_days": 365, "long_placement_window_days": 63,
        "screens_sizes": [100, 10_000], "screens_rounds": 5}
QUICK = {"overhead_iterations": 100, "scaling_sizes": [100, 1_000], "scaling_rounds": 4,
         "scaling_reps": {"inbox": 2, "page": 10, "complete": 10, "start": 10},
         "timers": 500, "http_seconds": 4, "http_tasks_per_user": 5, "size_instances": 20, "profile_iterations": 0, "logging_iterations": 200,
         "pool_iterations": 100, "registers_sizes": [100, 2_000], "registers_rounds": 3,
         "trends_sizes": [100, 2_000], "trends_rounds": 3,
         "http_floor_iterations": 100, "http_floor_profile": 30,
         "scaleout_seconds": 15, "scaleout_processes": [1, 2], "long_placement_days": 120, "long_placement_window_days": 21,
         "screens_sizes": [100, 1_000], "screens_rounds": 3}


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(), "load_average_at_start": load_average()}
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    for package in ("SpiffWorkflow", "SQLAlchemy", "psycopg", "waitress", "Flask", "APScheduler"):
        try:
            info[package] = version(package)
        except Exception:  # noqa: BLE001
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "apflow"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        info["git"] = commit + (" + uncommitted changes in apflow/" if dirty else "")
    except OSError:
        pass
    return info


def postgres_version() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            value = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return value
    except Exception:  # noqa: BLE001
        return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None,
                        help="database(s) to run on (default: both where PostgreSQL is reachable, else sqlite)")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--workdir", type=Path, default=None, help="where SQLite files and logs go (default: a temp dir, removed)")
    return parser.parse_args(argv)


def choose_databases(requested: str | None) -> list[str]:
    if requested == "sqlite":
        return ["sqlite"]
    problem = postgres_problem()
    if requested == "postgres":
        if problem:
            raise SystemExit(f"PostgreSQL is not reachable at {POSTGRES_URL}: {problem}")
        return ["postgres"]
    if problem:
        say(f"note: PostgreSQL not reachable at {POSTGRES_URL} ({problem}); running on SQLite only.")
        return ["sqlite"]
    return ["sqlite", "postgres"]


def headline(results: dict, dbs: list[str]) -> dict:
    """The flat figures asked for; from SQLite (the default install) when it ran, else PostgreSQL."""
    primary = dbs[0]
    nan = float("nan")

    def pick(section, db=primary):
        return next((r for r in results.get(section, []) if r["db"] == db), None)

    out = {"primary_db": primary}
    o = pick("overhead")
    out["overhead_ratio"] = o["ratio"] if o else nan
    s = pick("scaling")
    out["inbox_scaling_ratio"] = s["ratios"]["inbox"] if s else nan
    out["tasks_api_scaling_ratio"] = s["ratios"]["tasks_api"] if s else nan
    out["tasks_api_manager_scaling_ratio"] = s["ratios"]["tasks_api_manager"] if s else nan
    out["all_ready_tasks_scaling_ratio"] = s["ratios"]["all_ready_tasks"] if s else nan
    out["complete_scaling_ratio"] = s["ratios"]["complete"] if s else nan
    out["start_scaling_ratio"] = s["ratios"]["start"] if s else nan
    out["scaling_ratio_sizes"] = s["ratio_label"] if s else None
    t = next((r for r in results.get("timers", []) if r["db"] == primary and r["schedulers"] == 1), None)
    out["timer_lateness_p95_s"] = t["lateness_s"]["p95"] if t else nan
    out["timers_per_second"] = t["timers_per_second"] if t else nan
    all_timers = results.get("timers", [])
    out["timer_lateness_p95_s_worst"] = max((r["lateness_s"]["p95"] for r in all_timers), default=nan)
    out["timers_per_second_worst"] = min((r["timers_per_second"] for r in all_timers), default=nan)
    out["timers_fired_twice"] = sum(r["fired_twice"] for r in all_timers)
    h = pick("http")
    out["http_p95_ms"] = h["latency_ms"]["p95"] if h else nan
    out["http_requests_per_second"] = h["requests_per_second"] if h else nan
    out["http_errors"] = h["errors"] if h else nan
    f = pick("http_floor")
    out["http_complete_library_ratio"] = f["complete_ratio"] if f else nan
    out["http_start_library_ratio"] = f["start_ratio"] if f else nan
    out["http_complete_library_ratio_back_to_back"] = f["b2b_complete_ratio"] if f else nan
    out["http_start_library_ratio_back_to_back"] = f["b2b_start_ratio"] if f else nan
    out["http_errors_all_dbs"] = sum(r["errors"] for r in results.get("http", []))
    z = pick("size")
    out["instance_bytes"] = z["logical_bytes"] if z else nan
    out["instance_bytes_on_disk"] = z["on_disk_bytes_per_instance"] if z else nan
    g = results.get("logging")
    out["engine_info_logging_ratio"] = g["ratio"] if g else nan
    r = pick("registers")
    for key in ("grid", "mark", "everyone", "one"):
        out[f"registers_{key}_scaling_ratio"] = r["ratios"][key] if r else nan
    t = pick("trends")
    for key in ("all", "provider"):
        out[f"trends_{key}_scaling_ratio"] = t["ratios"][key] if t else nan
    for n in (1, 2):
        so = next((r for r in results.get("scaleout", []) if r["web_processes"] == n), None)
        out[f"scaleout_{n}_web_requests_per_second"] = so["requests_per_second"] if so else nan
        out[f"scaleout_{n}_web_p95_ms"] = so["latency_ms"]["p95"] if so else nan
    out["scaleout_errors"] = sum(r["errors"] for r in results["scaleout"]) if results.get("scaleout") else nan
    out["scaleout_timers_fired_twice"] = (sum(r["timers_fired_twice"] + r["instances_with_two_chases"] for r in results["scaleout"])
                                          if results.get("scaleout") else nan)
    lp = pick("long_placement")
    out["long_placement_complete_ratio"] = lp["steps"]["complete"]["ratio"] if lp else nan
    out["long_placement_timer_ratio"] = lp["steps"]["timer"]["ratio"] if lp else nan
    out["long_placement_state_bytes_day1"] = lp["state_bytes_day1"] if lp else nan
    out["long_placement_state_bytes_year"] = lp["state_bytes_year"] if lp else nan
    sc = pick("screens")
    for key in ("registers", "whereabouts", "pupil", "trends", "governors"):
        out[f"screens_{key}_request_ratio"] = sc["request_ratios"][key] if sc else nan
        out[f"screens_{key}_row_ratio"] = sc["ratios"][key] if sc else nan
    p = pick("pool")
    out["pool_step_overhead_ms"] = p["overhead_ms"] if p else nan
    out["pool_step_ratio"] = p["ratio"] if p else nan
    return out


def _jsonable(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(ALL)}")
    sizes = QUICK if args.quick else FULL
    dbs = choose_databases(args.db)
    info = machine()
    if "postgres" in dbs:
        info["postgresql"] = postgres_version()
    mode = "quick" if args.quick else "full"
    say(f"apflow benchmarks ({mode}) on {', '.join(dbs)}; {info['nproc']} cores, Python {info['python']}, "
        f"SQLite {info['sqlite']}" + (f", PostgreSQL {info['postgresql']}" if info.get("postgresql") else "")
        + f"; load average {info['load_average_at_start']}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="apflow-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    began = time.monotonic()
    section = {"name": None, "t": began}
    info["section_seconds"] = {}

    def mark(name=None):
        now = time.monotonic()
        if section["name"]:
            info["section_seconds"][section["name"]] = round(now - section["t"], 1)
            say(f"  ({section['name']}: {now - section['t']:.1f} s)")
        section.update(name=name, t=now)

    try:
        if "overhead" in wanted:
            mark("overhead")
            say("\n== 1. overhead of the service layer over SpiffWorkflow (complete one user task) ==")
            results["overhead"] = [overhead.run(db, workdir, sizes["overhead_iterations"]) for db in dbs]
            overhead.report(results["overhead"])
        if "scaling" in wanted:
            mark("scaling")
            say(f"\n== 2. scaling with {' / '.join(f'{n:,}' for n in sizes['scaling_sizes'])} active placements =="
                + (" (quick mode: 100 and 1,000 only, ratio is 1,000/100)" if args.quick else ""))
            results["scaling"] = [scaling.run(db, workdir, sizes["scaling_sizes"], sizes["scaling_reps"], sizes["scaling_rounds"])
                                  for db in dbs]
            scaling.report(results["scaling"])
        if "timers" in wanted:
            mark("timers")
            say(f"\n== 3. {sizes['timers']:,} timers falling due at once, `apflow scheduler` x1 and x2 ==")
            results["timers"] = []
            for db in dbs:
                for count in (1, 2):
                    results["timers"].append(timers.run(db, workdir, sizes["timers"], count))
                    r = results["timers"][-1]
                    say(f"  {db} x{count}: {r['fired']:,} fired, all after {r['all_fired_after_s']:.2f}s")
            timers.report(results["timers"])
        if "http" in wanted:
            mark("http")
            say(f"\n== 4. HTTP: 20 users for {sizes['http_seconds']} s against `apflow serve` (waitress) ==")
            results["http"] = [http_bench.run(db, workdir, sizes["http_seconds"], per_user=sizes["http_tasks_per_user"],
                                              login=not args.quick)
                               for db in dbs]
            http_bench.report(results["http"])
        if "http_floor" in wanted:
            mark("http_floor")
            say("\n== 8. the floor over HTTP: start and complete through `apflow serve` vs SpiffWorkflow alone (interleaved) ==")
            results["http_floor"] = [http_floor.run(db, workdir, sizes["http_floor_iterations"]) for db in dbs]
            http_floor.report(results["http_floor"])
            results["http_floor_parts"] = [http_floor.parts(db, workdir, sizes["http_floor_profile"]) for db in dbs]
            http_floor.report_parts(results["http_floor_parts"])
            if sizes["http_floor_profile"]:
                results["http_floor_profile"] = [http_floor.profile(db, workdir, sizes["http_floor_profile"]) for db in dbs]
                for p in results["http_floor_profile"]:
                    say(f"-- {p['db']}: cProfile of {p['iterations']} HTTP completions inside the server: "
                        f"{p['profiled_ms_per_request']:.2f} ms profiled per request, wall p50 {p['wall_ms']['p50']:.2f} ms "
                        f"at the client (profiler on) --\n" + p["text"])
        if "size" in wanted:
            mark("size")
            say(f"\n== 5. stored size of a placement after its full lifecycle ({sizes['size_instances']} instances) ==")
            results["size"] = [size.run(db, workdir, sizes["size_instances"]) for db in dbs]
            size.report(results["size"])
        if "logging" in wanted:
            mark("logging")
            say("\n== 6. what logging costs the engine: SpiffWorkflow at INFO (the old default) and WARNING (today's) ==")
            results["logging"] = log_levels.run(workdir, sizes["logging_iterations"])
            log_levels.report(results["logging"])
        if "pool" in wanted:
            mark("pool")
            say("\n== 7. what worker processes for the diagram's code cost one step (pool on / off, alternating) ==")
            results["pool"] = [pool.run(db, workdir, sizes["pool_iterations"]) for db in dbs]
            results["pool_engine"] = pool.engine_only(sizes["pool_iterations"])
            pool.report(results["pool"], results["pool_engine"])
        if "registers" in wanted:
            mark("registers")
            say("\n== 9. registers and whereabouts: a provider's grid (200 pupils) and a school's 2,000 placements (issue 15) ==")
            results["registers"] = [registers.run(db, workdir, sizes["registers_sizes"], sizes["registers_rounds"]) for db in dbs]
            registers.report(results["registers"])
        if "trends" in wanted:
            mark("trends")
            say(f"\n== 10. trends: the trends page's figures for a school of {sizes['trends_sizes'][-1]:,} placements (issue 16) ==")
            results["trends"] = [trends_bench.run(db, workdir, sizes["trends_sizes"], sizes["trends_rounds"]) for db in dbs]
            trends_bench.report(results["trends"])
        if "scaleout" in wanted:
            mark("scaleout")
            if "postgres" in dbs:
                say(f"\n== 15. scale-out on PostgreSQL: gunicorn web processes x {scaleout.THREADS} threads and 2 `apflow scheduler`, "
                    f"{scaleout.USERS} users for {sizes['scaleout_seconds']} s ==")
                results["scaleout"] = [scaleout.run(workdir, sizes["scaleout_seconds"], n) for n in sizes["scaleout_processes"]]
                scaleout.report(results["scaleout"])
            else:
                say("\n== 15. scale-out: skipped (PostgreSQL only) ==")
        if "long_placement" in wanted:
            mark("long_placement")
            say(f"\n== 16. a long placement: {sizes['long_placement_days']} days driven, then {sizes['long_placement_window_days']} days "
                f"side by side with a fresh one ({dbs[0]}) ==")
            results["long_placement"] = [long_placement.run(dbs[0], workdir, sizes["long_placement_days"], sizes["long_placement_window_days"])]
            long_placement.report(results["long_placement"])
        if "screens" in wanted:
            mark("screens")
            say(f"\n== 17. the new screens over HTTP at {' and '.join(f'{n:,}' for n in sizes['screens_sizes'])} placements ==")
            results["screens"] = [screens.run(db, workdir, sizes["screens_sizes"], sizes["screens_rounds"]) for db in dbs]
            screens.report(results["screens"])
        if "profile" in wanted and sizes["profile_iterations"]:
            mark("profile")
            say(f"\n== profile: {sizes['profile_iterations']} service-layer completions, timed by step and with cProfile ==")
            results["breakdown"] = [overhead.breakdown(db, workdir, sizes["profile_iterations"]) for db in dbs]
            overhead.report_breakdown(results["breakdown"])
            results["profile"] = {}
            for db in dbs:
                results["profile"][db] = overhead.profile(db, workdir, sizes["profile_iterations"])
                say(f"-- {db}: cProfile --\n" + results["profile"][db])
        mark()
    finally:
        if "postgres" in dbs:
            common.drop_postgres_schemas()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    info["load_average_at_end"] = load_average()
    info["seconds"] = round(time.monotonic() - began, 1)
    flat = headline(results, dbs)
    say("\n== headline ==")
    for key, value in flat.items():
        say(f"  {key}: {value:.3g}" if isinstance(value, float) else f"  {key}: {value}")
    say(f"  ({mode} mode, {info['seconds']} s; load average {info['load_average_at_start']} -> {info['load_average_at_end']})")
    if args.json:
        document = {**flat, "mode": mode, "databases": dbs, "machine": info, "settings": sizes, "results": results}
        Path(args.json).write_text(json.dumps(_jsonable(document), indent=2, default=str))
        say(f"  results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
