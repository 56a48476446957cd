"""What every benchmark needs: a fresh apflow on SQLite or PostgreSQL, people, the triage diagram,
bulk-created placements, and percentile arithmetic.

Nothing here asserts a time limit: benchmarks measure and print, the reader judges.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Integer, create_engine, insert, inspect, select, text

from apflow.config import ROOT, Settings
from apflow.services import processes, users
from apflow.services.core import Core
from apflow.store.models import Base, HumanTask, Instance, PendingTimer

POSTGRES_URL = os.environ.get("APFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench"
PASSWORD = "bench password 1234"
TRIAGE_BPMN = ROOT / "bpmn" / "referral_triage.bpmn"
TRIAGE = "referral_triage"
# The answers a coordinator gives on the triage form (valid against forms/triage_referral.schema.json).
TRIAGE_ACCEPT = {"reasons": ["attendance", "medical"], "decision": "accept",
                 "rationale": "Attendance below 50% for two terms; medical needs not met in school."}
TRIAGE_DECLINE = {"reasons": ["attendance"], "decision": "decline",
                  "rationale": "Support in school has not been tried yet; revisit after the review."}
CHASE_ANSWERS = {"outcome": "Spoke to the coordinator; triage booked for tomorrow."}
START_DATA = {"reasons": ["attendance"]}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- databases -------------------------------------------------------------------------------

def postgres_problem(url: str = POSTGRES_URL) -> str | None:
    """None when PostgreSQL answers at url, else why not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        return f"{err.__class__.__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def fresh_database(kind: str, workdir: Path, name: str, schema: str = PG_SCHEMA) -> str:
    """The URL of an empty, migrated database: a new SQLite file, or a PostgreSQL schema
    (default `bench`) dropped and created again, so nothing clashes with the test suite's schemas."""
    if kind == "sqlite":
        path = workdir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(_sqlite_template(workdir), path)  # migrated once, then copied (as tests/conftest.py does)
        return f"sqlite:///{path}"
    if kind == "postgres":
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    else:
        raise ValueError(kind)
    Core(Settings.from_env({}, database_url=url)).db.upgrade()
    return url


_template: list[Path] = []


def _sqlite_template(workdir: Path) -> Path:
    """An empty SQLite database with the schema, made once per run (in the first working directory asked for)."""
    if not _template or not _template[0].exists():
        path = workdir / "template.sqlite3"
        Core(Settings.from_env({}, database_url=f"sqlite:///{path}")).db.upgrade()
        _template[:] = [path]
    return _template[0]


def drop_postgres_schemas() -> None:
    """Remove every schema the benchmarks made (`bench` and `bench_*`)."""
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        names = conn.scalars(text("SELECT nspname FROM pg_namespace WHERE nspname = :s OR nspname LIKE :p"),
                             {"s": PG_SCHEMA, "p": PG_SCHEMA + "\\_%"}).all()
        for name in names:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    admin.dispose()


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine shows here."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def settings_for(url: str, workdir: Path, **overrides) -> Settings:
    values = dict(database_url=url, instance_dir=workdir / "instance", forms_dir=ROOT / "forms",
                  bpmn_dir=ROOT / "bpmn", run_scheduler=False, secret_key="bench-secret")
    values.update(overrides)
    return Settings.from_env({}, **values)


def make_core(url: str, workdir: Path, **overrides) -> Core:
    return Core(settings_for(url, workdir, **overrides))


def env_for(url: str, workdir: Path, **extra) -> dict:
    """Environment for an `apflow` subprocess working on url."""
    env = dict(os.environ)
    env.update({"APFLOW_DATABASE_URL": url, "APFLOW_INSTANCE_DIR": str(workdir / "instance"),
                "APFLOW_SECRET_KEY": "bench-secret", "APFLOW_FORMS_DIR": str(ROOT / "forms"),
                "APFLOW_BPMN_DIR": str(ROOT / "bpmn")})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def reading(core: Core):
    """A read-only unit of work where the Database offers one (on SQLite it then takes no write lock)."""
    try:
        return core.db.session(readonly=True)
    except TypeError:  # an apflow without read-only sessions
        return core.db.session()


# -- people and diagrams ---------------------------------------------------------------------

@contextmanager
def cheap_password_hashing():
    """Argon2 at minimum cost while creating bench users (same code path, no 100 ms per user)."""
    from argon2 import PasswordHasher

    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        users._hasher = saved


def make_users(core: Core, wanted: dict[str, list[str]]) -> dict:
    """username -> User, created with the given roles."""
    made = {}
    with cheap_password_hashing():
        for name, roles in wanted.items():
            with core.db.session() as s:
                made[name] = users.add_user(s, name, PASSWORD, roles)
    return made


STANDARD_PEOPLE = {"coord": ["coordinator"], "head": ["headteacher"], "boss": ["manager"], "senco": ["senco"]}


def deploy_triage(core: Core):
    return processes.deploy_paths(core, [TRIAGE_BPMN], by="bench", note="benchmark")[0]


# -- bulk placements -------------------------------------------------------------------------

def instance_tables(core: Core) -> list:
    """Every table holding rows of one instance (an instance_id column), parents before children.

    Only tables the database has: models being written may be ahead of the migrations."""
    present = set(inspect(core.db.engine).get_table_names())
    return [t for t in Base.metadata.sorted_tables if "instance_id" in t.c and t.name in present]


@dataclass
class Template:
    """The rows of one real instance (its own row and every row that names it), to be copied with fresh ids."""
    instance: dict
    state_text: str
    rows: dict  # Table -> list of row dicts


def read_template(core: Core, instance_id: int) -> Template:
    with reading(core) as s:
        inst = dict(s.execute(select(Instance.__table__).where(Instance.id == instance_id)).mappings().one())
        rows = {}
        for table in instance_tables(core):
            order = [c for c in table.primary_key.columns]
            rows[table] = [dict(r) for r in s.execute(select(table).where(table.c.instance_id == instance_id).order_by(*order)).mappings()]
    return Template(inst, json.dumps(inst["state"]), rows)


def _generated_key(table) -> str | None:
    """The name of an integer primary key the database assigns (left out of copies)."""
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, Integer):
        return pk[0].name
    return None


def next_instance_id(core: Core) -> int:
    with reading(core) as s:
        return (s.scalar(text("SELECT max(id) FROM instances")) or 0) + 1


def clone_instances(core: Core, template: Template, count: int, replace: dict[str, str] | None = None,
                    timer_due=None, spread_seconds: float = 0.0, batch: int = 1000) -> list[int]:
    """Insert `count` copies of a real instance with fresh instance and task ids; returns the new ids.

    Every UUID in the workflow state and in the rows that belong to the instance (human tasks,
    pending timers, events, and whatever else has an instance_id) is replaced consistently, so
    a copy is a genuine placement the engine can load and move on. `replace` substitutes other
    strings in the state (e.g. a timer's date); timer_due is then the pending timers' due time.
    With spread_seconds, created_at/due_at of the human tasks are staggered (copy n is
    n*spread earlier), so the inbox's ORDER BY has real work to do.
    """
    state_text = template.state_text
    for old, new in (replace or {}).items():
        state_text = state_text.replace(old, new)
    first = next_instance_id(core)
    ids = list(range(first, first + count))
    for start in range(0, count, batch):
        instances_rows = []
        child_rows = {table: [] for table in template.rows}
        for n, instance_id in enumerate(ids[start:start + batch], start=start):
            mapping: dict[str, str] = {}

            def fresh(match):
                value = match.group(0)
                if value not in mapping:
                    mapping[value] = str(uuid.uuid4())
                return mapping[value]

            instances_rows.append(dict(template.instance, id=instance_id, state=json.loads(UUID_RE.sub(fresh, state_text))))
            shift = timedelta(seconds=n * spread_seconds)
            for table, rows in template.rows.items():
                generated = _generated_key(table)
                for row in rows:
                    copy = {k: (UUID_RE.sub(fresh, v) if isinstance(v, str) else v) for k, v in row.items() if k != generated}
                    copy["instance_id"] = instance_id
                    if table is HumanTask.__table__ and spread_seconds:
                        dated = copy.get("due_at") is not None
                        for key in ("created_at", "due_at", "due_soon_at", *(("sort_due",) if dated else ())):
                            if copy.get(key) is not None:
                                copy[key] = copy[key] - shift
                    if table is PendingTimer.__table__ and timer_due is not None:
                        copy["due_at"] = timer_due
                    child_rows[table].append(copy)
        with core.db.session() as s:
            s.execute(insert(Instance.__table__), instances_rows)
            for table, rows in child_rows.items():
                if rows:
                    s.execute(insert(table), rows)
    if not core.db.is_sqlite:
        with core.db.session() as s:
            s.execute(text("SELECT setval(pg_get_serial_sequence('instances', 'id'), (SELECT max(id) FROM instances))"))
    return ids


def analyze(core: Core) -> None:
    """Fresh planner statistics after a bulk load (what autovacuum / ANALYZE would give a live system)."""
    with core.db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


# -- numbers ---------------------------------------------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(samples: list[float], scale: float = 1000.0) -> dict:
    """p50/p95/p99/mean/max of samples in seconds, scaled (default: to milliseconds)."""
    if not samples:
        return {"n": 0}
    return {"n": len(samples), "p50": percentile(samples, 50) * scale, "p95": percentile(samples, 95) * scale,
            "p99": percentile(samples, 99) * scale, "mean": statistics.fmean(samples) * scale,
            "max": max(samples) * scale}


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def say(*parts) -> None:
    print(*parts, flush=True)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (also readable in a terminal)."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _cell(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def standalone(name: str, doc: str, run, report, sizes: str, rounds: int) -> None:
    """`python -m bench.<name>`: one benchmark on its own, with --sizes, --rounds and --db, on both databases by
    default (SQLite only when PostgreSQL cannot be reached); its PostgreSQL schemas are dropped at the end."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.splitlines()[0])
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and postgres_problem():
        say("note: PostgreSQL not reachable; SQLite only")
        dbs = ["sqlite"]
    workdir = Path(tempfile.mkdtemp(prefix=f"apflow-bench-{name}-"))
    try:
        report([run(db, workdir, [int(x) for x in args.sizes.split(",")], args.rounds) for db in dbs])
    finally:
        if "postgres" in dbs:
            drop_postgres_schemas()


def interleaved(work: dict[int, dict[str, tuple]], rounds: int) -> dict[int, dict[str, list[float]]]:
    """Time each call of each size once a round, the sizes in turn round after round, so other load on the shared
    machine falls on every size alike. work: {size: {key: (call, rows)}}; returns {size: {key: [seconds]}}."""
    samples = {n: {key: [] for key in calls} for n, calls in work.items()}
    for _ in range(rounds):
        for n, calls in work.items():
            for key, (call, _) in calls.items():
                start = time.perf_counter()
                call()
                samples[n][key].append(time.perf_counter() - start)
    return samples


def per_row(db: str, work: dict[int, dict[str, tuple]], samples: dict[int, dict[str, list[float]]]) -> dict:
    """The p50 of each call per row it handles, at each size, and how that per-row cost grows from the smallest size
    to the largest: {"db", "sizes": {size: {key: {p50..., "rows", "per_row_ms"}}}, "ratios": {key: x}, "ratio_label"}."""
    result = {"db": db, "sizes": {}}
    for n, calls in work.items():
        result["sizes"][n] = {key: {**summary(samples[n][key]), "rows": rows, "per_row_ms": summary(samples[n][key])["p50"] / max(rows, 1)}
                              for key, (_, rows) in calls.items()}
    small, large = min(work), max(work)
    result["ratios"] = {key: result["sizes"][large][key]["per_row_ms"] / result["sizes"][small][key]["per_row_ms"] for key in work[small]}
    result["ratio_label"] = f"{large:,}/{small:,} placements"
    return result


def stop_processes(procs, wait_seconds: float, markers=(" ERROR ", "Traceback")) -> list[str]:
    """Stop server or scheduler processes as an operator would (SIGTERM, then SIGKILL after wait_seconds); procs is
    [(Popen, log path)]. Returns the lines of their logs holding any of the markers, and any process that was killed."""
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    problems = []
    for proc, log in procs:
        try:
            proc.wait(timeout=wait_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problems.append(f"{log.name}: did not stop within {wait_seconds:g} s of SIGTERM; killed")
        problems += [f"{log.name}: {line}" for line in log.read_text().splitlines() if any(m in line for m in markers)]
    return problems
