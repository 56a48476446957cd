"""The database: engine and sessions, SQLite tuning, migrations, and the instance row lock."""
from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import bindparam, create_engine, event, insert, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_MS = 30_000


class Database:
    def __init__(self, url: str):
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, readonly: bool = False):
        """A unit of work: commit on success, roll back on any exception.

        On SQLite a unit of work that may write takes the write lock when it begins (BEGIN IMMEDIATE),
        waiting its turn: a transaction that reads first and writes later could otherwise fail at once
        with "database is locked" when another writer committed in between. Pure reads pass
        readonly=True and run alongside writers (WAL).
        """
        session: Session = self.sessions()
        if self.is_sqlite and not readonly:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield session
            for model, rows in session.info.pop(APPENDED, {}).items():
                session.connection().execute(insert(model.__table__), rows)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        self.engine.dispose()

    def listen(self, channel: str, stop: threading.Event, handle) -> None:
        """PostgreSQL only: call handle(payload) for every NOTIFY on channel until stop is set, reconnecting
        after a lost connection (the scheduler hears other processes' new timers this way)."""
        import psycopg

        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {channel}")
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            handle(note.payload)
            except Exception:
                if not stop.is_set():
                    log.exception("lost the PostgreSQL listener on %s; reconnecting", channel)
                    stop.wait(2)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


APPENDED = "apflow_appended_rows"


def append_row(session: Session, model, row: dict) -> None:
    """Add a row to an append-only table (the event log): the unit of work writes all of them in one
    statement when it commits, and none if it rolls back."""
    session.info.setdefault(APPENDED, {}).setdefault(model, []).append(row)


def save_row(session: Session, obj, values: dict) -> None:
    """Write values to obj's row now, in one UPDATE, and record them on obj as saved.

    For the rows every workflow step rewrites (the instance, the task it closes): the unit of work's
    flush of a changed object costs several times this single, pre-built statement. A mapped version
    column (Instance.lock_version) is checked and advanced exactly as a flush would.
    """
    mapper = inspect(obj).mapper
    version = mapper.version_id_col
    values = dict(values)
    params = {"_pk": mapper.primary_key_from_instance(obj)[0]}
    if version is not None:
        name = mapper.get_property_by_column(version).key
        params["_version"] = getattr(obj, name)
        values[name] = params["_version"] + 1
    statement = _update_statement(mapper, tuple(values))
    result = session.connection().execute(statement, {**params, **{f"v_{k}": v for k, v in values.items()}})
    if result.rowcount != 1:
        raise StaleDataError(f"{mapper.local_table.name} row {params['_pk']} was changed or deleted by someone else")
    for name, value in values.items():
        set_committed_value(obj, name, value)


@functools.lru_cache(maxsize=64)
def _update_statement(mapper, names: tuple[str, ...]):
    table = mapper.local_table
    [key] = mapper.primary_key
    where = [key == bindparam("_pk")]
    if mapper.version_id_col is not None:
        where.append(mapper.version_id_col == bindparam("_version"))
    columns = {mapper.get_property(name).columns[0].name: bindparam(f"v_{name}") for name in names}
    return update(table).where(*where).values(columns)


def _sqlite_on_connect(dbapi_connection, _record):
    # Take transaction control from the sqlite3 module so BEGIN is issued where SQLAlchemy says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection):
    connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('sqlite_begin', '')}".strip())


def locked_instance(session: Session, instance_id: int | None = None, task_id: str | None = None):
    """Take the write lock on one instance (given, or the one a human task belongs to) and read it, in one
    statement; None if there is no such instance or task. Rows read after this see every change committed
    before the lock was granted.

    PostgreSQL: SELECT ... FOR UPDATE of the instance row. SQLite: the unit of work began with BEGIN
    IMMEDIATE and so already holds the database write lock.
    """
    query = _locked_instance_query(instance_id is None, not is_sqlite(session))
    return session.scalars(query, instance_params(instance_id, task_id)).first()


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def instance_where(by_task: bool):
    """SQL: the instance with id :instance_id, or (by_task) the one human task :task_id belongs to."""
    from .models import HumanTask, Instance

    if by_task:
        return Instance.id == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id")).scalar_subquery()
    return Instance.id == bindparam("instance_id")


def instance_params(instance_id: int | None, task_id: str | None) -> dict:
    return {"instance_id": instance_id} if instance_id is not None else {"task_id": str(task_id)}


@functools.lru_cache(maxsize=4)
def _locked_instance_query(by_task: bool, for_update: bool):
    from .models import Instance

    query = select(Instance).where(instance_where(by_task)).execution_options(populate_existing=True)
    return query.with_for_update(of=Instance.__table__) if for_update else query
