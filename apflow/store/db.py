"""The database: engine and sessions, SQLite tuning, migrations, and the instance row lock."""
from __future__ import annotations

import functools
import logging
import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Integer, bindparam, create_engine, event, insert, inspect, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from apflow.errors import ServiceError, Unavailable

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_MS = 30_000
STALLED_GRACE_SECONDS = 5.0  # PostgreSQL: a server silent this long past the statement timeout has stalled; the client hangs up


class Database:
    def __init__(self, url: str, connect_timeout: float = 5.0, pool_timeout: float = 10.0,
                 statement_timeout: float = SQLITE_BUSY_MS / 1000, pool_size: int | None = None, max_overflow: int | None = None):
        """Every wait on the database is bounded (docs/operations.md, "When the database fails"): opening a connection
        (connect_timeout), waiting for a free one (pool_timeout) and each statement (statement_timeout; on SQLite the
        wait for the write lock). A wait that runs out raises apflow.errors.Unavailable from session()."""
        self.url = url
        self.connect_timeout, self.statement_timeout = connect_timeout, statement_timeout
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            busy_ms = round(statement_timeout * 1000) if statement_timeout > 0 else SQLITE_BUSY_MS
            pooling = {}
            if parsed.database and parsed.database != ":memory:":  # a file: a queue of connections (in memory: one)
                pooling = {"pool_timeout": pool_timeout, "pool_size": pool_size, "max_overflow": max_overflow}
                pooling = {name: value for name, value in pooling.items() if value is not None}
            self.engine = create_engine(url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, **pooling)
            event.listen(self.engine, "connect", functools.partial(_sqlite_on_connect, busy_ms=busy_ms))
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10 if pool_size is None else pool_size,
                                        max_overflow=20 if max_overflow is None else max_overflow, pool_timeout=pool_timeout,
                                        connect_args={"connect_timeout": _connect_seconds(connect_timeout)})
            event.listen(self.engine, "do_connect", functools.partial(_postgres_connect, statement_timeout=statement_timeout))
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
        try:
            if self.is_sqlite and not readonly:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
            for model, rows in session.info.pop(APPENDED, {}).items():
                session.connection().execute(insert(model.__table__), rows)
            session.commit()
        except BaseException as err:
            outage = unavailable_from(err)
            if outage is None:
                session.rollback()
                raise
            try:
                session.rollback()
            except Exception:  # the connection is gone: the server rolls back what it had
                log.debug("rollback after a database failure failed too", exc_info=True)
            if outage is err:
                raise
            raise outage from err
        finally:
            try:
                session.close()
            except Exception:
                log.debug("closing a session after a database failure failed", exc_info=True)

    @contextmanager
    def reading(self):
        """A plain connection for a read that needs no unit of work (who is asking, on every request): the same bounded
        waits and the same Unavailable as session(), for a fraction of its cost; nothing it does is kept."""
        try:
            with self.engine.connect() as connection:
                if not self.is_sqlite:  # one statement's read needs no BEGIN and ROLLBACK, each a round trip
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection
        except BaseException as err:
            outage = unavailable_from(err)
            if outage is None or outage is err:
                raise
            raise outage from err

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
                with psycopg.connect(dsn, autocommit=True, connect_timeout=_connect_seconds(self.connect_timeout)) as conn:
                    conn.execute(f"LISTEN {channel}")
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            handle(note.payload)
            except Exception:
                if not stop.is_set():
                    log.exception("lost the PostgreSQL listener on %s; reconnecting", channel)
                    stop.wait(2)


def _private_file(path: Path) -> None:
    """The SQLite file holds children's records: a new one (and a new folder for it) is for the account apflow runs
    as only (0600, SQLite gives its -wal and -shm files the same mode), and an existing one stops being readable by
    everyone else."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an existing file is left as it is (no truncation)
        mode = path.stat().st_mode & 0o777
        if mode & 0o007:
            path.chmod(mode & ~0o007)
    except OSError as err:  # e.g. a file owned by another account: SQLite says what is wrong when it opens it
        log.warning("could not make %s private: %s", path, err)


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


def insert_row(session: Session, obj) -> None:
    """Write a new object's row now, in one INSERT built once per table, and make the object persistent in the session,
    as a flush would: every column the object does not set takes its default (its Python default, else NULL), and a key
    the database numbers is read back.

    For the rows a step adds (a new instance, its new tasks): the unit of work's flush of a new object costs several
    times this single statement."""
    state = inspect(obj)
    mapper = state.mapper
    values = {}
    for column in mapper.local_table.c:
        key = mapper.get_property_by_column(column).key
        if key in state.dict:
            values[key] = state.dict[key]
        elif column.primary_key and column.autoincrement is not False and isinstance(column.type, Integer):
            continue  # numbered by the database
        elif column.default is None:
            values[key] = None
        elif column.default.is_scalar:
            values[key] = column.default.arg
        elif column.default.is_callable:
            values[key] = column.default.arg(None)
        else:
            raise ValueError(f"{mapper.local_table.name}.{column.name}: insert_row writes only Python defaults")
    result = session.connection().execute(_insert_statement(mapper, tuple(values)), values)
    for key, value in values.items():
        setattr(obj, key, value)
    for column, value in zip(mapper.primary_key, result.inserted_primary_key):
        setattr(obj, mapper.get_property_by_column(column).key, value)
    make_transient_to_detached(obj)
    session.add(obj)


@functools.lru_cache(maxsize=64)
def _insert_statement(mapper, names: tuple[str, ...]):
    return insert(mapper.local_table).values({mapper.get_property(name).columns[0].name: bindparam(name) for name in names})


@functools.lru_cache(maxsize=64)
def _update_statement(mapper, names: tuple[str, ...]):
    table = mapper.local_table
    [key] = mapper.primary_key
    where = [key == bindparam("_pk")]
    if mapper.version_id_col is not None:
        where.append(mapper.version_id_col == bindparam("_version"))
    columns = {mapper.get_property(name).columns[0].name: bindparam(f"v_{name}") for name in names}
    return update(table).where(*where).values(columns)


def unavailable_from(err: BaseException) -> Unavailable | None:
    """The Unavailable to raise when err is, or was caused by, the database not answering: a lost or refused connection,
    a statement or lock wait that ran out, no free connection in the pool. None for anything else (a bug, a constraint,
    a person's mistake), which must not be retried blindly."""
    if isinstance(err, ServiceError):
        return None
    for current in _causes(err):
        if isinstance(current, Unavailable):
            return current if current is err else Unavailable(current.cause)
        if _is_outage(current):
            return Unavailable(_first_line(current))
    return None


def database_failure(err: BaseException) -> Unavailable | None:
    """Like unavailable_from, and also any other error the database driver raised (a constraint, a value it cannot
    store): for a workflow step, where no database error may be blamed on the diagram or recorded on the instance."""
    outage = unavailable_from(err)
    if outage is not None or isinstance(err, ServiceError):
        return outage
    for current in _causes(err):
        if isinstance(current, sa_exc.DBAPIError):
            return Unavailable(_first_line(current))
    return None


def _causes(err: BaseException):
    seen = set()
    current = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # SpiffWorkflow wraps a script's error and keeps it as .exception; Python chains keep it as the cause or context
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None


SQLITE_OUTAGES = ("locked", "busy", "disk", "unable to open", "readonly", "interrupted")


def _is_outage(err: BaseException) -> bool:
    if isinstance(err, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):  # no free connection in the pool in time
        return True
    if not isinstance(err, sa_exc.DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    if not isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if type(err.orig).__module__.startswith("sqlite3"):  # SQLite's OperationalError also means "no such table" and syntax errors
        return any(word in str(err.orig).lower() for word in SQLITE_OUTAGES)
    return True


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return f"{err.__class__.__name__}: {text.splitlines()[0] if text else ''}"


def _connect_seconds(seconds: float) -> int:
    return max(2, math.ceil(seconds))  # libpq's connect_timeout: whole seconds, 2 at least


def _postgres_connect(dialect, _record, cargs, cparams, statement_timeout: float):
    """Open a PostgreSQL connection whose statements end after statement_timeout: the server cancels a longer one
    (statement_timeout, which also bounds waits for locks), and the client hangs up on a server that has stopped
    answering altogether (frozen, or a network that holds packets) STALLED_GRACE_SECONDS after that."""
    if statement_timeout <= 0:
        return None  # SQLAlchemy connects as usual
    options = cparams.get("options", "")
    cparams["options"] = f"{options} -c statement_timeout={round(statement_timeout * 1000)}".strip()
    connection_class = _stall_guarded_connection()
    if connection_class is None:
        return None
    connection = connection_class.connect(*cargs, **cparams)
    connection.answer_within = statement_timeout + STALLED_GRACE_SECONDS
    return connection


@functools.lru_cache(maxsize=1)
def _stall_guarded_connection():
    """A psycopg connection class that gives up on a silent server; None on a psycopg without wait timeouts (< 3.3),
    where the server-side statement_timeout still applies."""
    import inspect as pyinspect

    import psycopg

    if "timeout" not in pyinspect.signature(psycopg.Connection.wait).parameters:
        log.warning("psycopg %s cannot time out a silent database server; upgrade to psycopg 3.3 or newer", psycopg.__version__)
        return None

    class StallGuardedConnection(psycopg.Connection):
        answer_within: float | None = None

        def wait(self, gen, *args, **kwargs):
            if kwargs.get("timeout") is None and len(args) < 2 and self.answer_within:
                kwargs["timeout"] = self.answer_within
            try:
                return super().wait(gen, *args, **kwargs)
            except psycopg.errors.OperationalError as err:
                if type(err).__name__ != "_WaitTimeout":
                    raise
                # Half-way through a request the connection's state is unknown: close it so it is never used again.
                self.pgconn.finish()
                raise psycopg.OperationalError(f"the database server did not answer within {self.answer_within:g} seconds") from None

    return StallGuardedConnection


def _sqlite_on_connect(dbapi_connection, _record, busy_ms: int = SQLITE_BUSY_MS):
    # Take transaction control from the sqlite3 module so BEGIN is issued where SQLAlchemy says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
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
