"""One change over HTTP, A/B in one loop: `apflow serve` from an earlier commit (A) and from this checkout (B).

Each side is `python -m apflow serve --no-scheduler` (waitress, 8 threads, the engine's worker processes, the CLI's
logging) on its own fresh database with the same users and diagram; A runs from a `git worktree` of the commit given,
put first on PYTHONPATH. One client per side on a kept-alive connection. Each iteration starts an instance on A, on B
and with SpiffWorkflow alone (the order alternates between iterations), looks the new tasks up (untimed), then
completes each task the same way; so machine noise, which moves these figures by a tenth between runs of one build
here, hits both sides alike. Reported: p50 per side, each side's ratio to the library and B/A.

`python -m bench.ab_http REV [--iterations 400] [--db sqlite|postgres]`, e.g. `python -m bench.ab_http HEAD~1`.
"""
from __future__ import annotations

import argparse
import gc
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from .common import POSTGRES_URL, TRIAGE_ACCEPT, say, summary, table
from .http import _wait_serving
from .http_floor import Client, _prepare, _stop, start_server
from .overhead import LibraryOnly

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ("ab_a", "ab_b")  # each side's database: a SQLite file of that name, or a PostgreSQL schema


def _serve(code: Path, db: str, workdir: Path, name: str):
    work, url, token = _prepare(db, workdir, name, schema=name)  # on PostgreSQL a schema each
    proc, port, log = start_server(url, work, code)
    _wait_serving(proc, log, port)
    return proc, Client(port, token)


def run(rev: str, db: str, iterations: int, workdir: Path) -> dict:
    code = workdir / "a"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(code), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sides = {}
    try:
        sides["A"] = _serve(code, db, workdir, SCHEMAS[0])
        sides["B"] = _serve(ROOT, db, workdir, SCHEMAS[1])
        library = LibraryOnly()
        times = {f"{side}_{step}": [] for side in "ABL" for step in ("start", "complete")}
        warmup = 50
        for i in range(warmup + iterations):
            if i % 100 == 0:
                gc.collect()  # outside the timing
            order = "ABL" if i % 2 else "LBA"
            instances, state_json = {}, None
            for side in order:
                t0 = time.perf_counter()
                if side == "L":
                    state_json = library.started_json()
                else:
                    instances[side] = sides[side][1].start()
                if i >= warmup:
                    times[f"{side}_start"].append(time.perf_counter() - t0)
            tasks = {side: sides[side][1].task_of(instances[side]) for side in "AB"}
            for side in order:
                t0 = time.perf_counter()
                if side == "L":
                    library.complete(state_json, TRIAGE_ACCEPT)
                else:
                    sides[side][1].complete(tasks[side])
                if i >= warmup:
                    times[f"{side}_complete"].append(time.perf_counter() - t0)
    finally:
        for proc, client in sides.values():
            client.close()
            _stop(proc)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if db == "postgres":  # the two sides' schemas go with them
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                for schema in SCHEMAS:
                    connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
    out = {"rev": rev, "db": db, "iterations": iterations}
    for key, samples in times.items():
        out[f"{key}_ms"] = summary(samples)
    for step in ("start", "complete"):
        a, b, lib = (out[f"{side}_{step}_ms"]["p50"] for side in "ABL")
        out[f"{step}_b_over_a"] = b / a
        out[f"{step}_ratio_a"], out[f"{step}_ratio_b"] = a / lib, b / lib
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the commit A runs (B is this checkout, with its uncommitted changes)")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="apflow-ab-") as tmp:
        r = run(args.rev, args.db, args.iterations, Path(tmp))
    say(f"A = {r['rev']}, B = this checkout; {r['db']}; {r['iterations']} iterations after 50 warm-up; load average now "
        f"{open('/proc/loadavg').read().split()[0]}")
    say(table(["step", "A p50 ms", "B p50 ms", "library p50 ms", "A / library", "B / library", "B / A"],
              [[step, r[f"A_{step}_ms"]["p50"], r[f"B_{step}_ms"]["p50"], r[f"L_{step}_ms"]["p50"], round(r[f"{step}_ratio_a"], 2),
                round(r[f"{step}_ratio_b"], 2), round(r[f"{step}_b_over_a"], 3)] for step in ("start", "complete")]))


if __name__ == "__main__":
    main()
