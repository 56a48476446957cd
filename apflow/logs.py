"""Logging for the `apflow` command: quiet by default, one level setting for everything.

The level comes from `apflow --log-level LEVEL`, else APFLOW_LOG_LEVEL, else WARNING. It applies to the
root logger, and so to apflow's own loggers (`apflow.*`) and every library. At the default, WARNING,
what an operator must see still shows (a timer that failed, the scheduler losing its database, an
e-mail that could not be sent, an unhandled request error: apflow logs all of these at WARNING or
ERROR), and the libraries' INFO chatter does not: Alembic's lines on every `db upgrade`, waitress's
"Serving on", SpiffWorkflow's line per task state change.

SpiffWorkflow's loggers get their level set explicitly, not only inherited: the library decides how
much it gathers for each log record by looking at `logger.level`, which is 0 (below INFO) until set.
APFLOW_LOG_LEVEL=INFO brings its per-task lines back, DEBUG its finer-grained ones as well.

APScheduler logs a line for every job it runs; it stays at WARNING unless DEBUG is asked for.

A leaf module: it imports nothing from apflow but apflow.config.
"""
from __future__ import annotations

import logging

from apflow.config import Settings

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LEVEL = "WARNING"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every logger SpiffWorkflow 3.2 creates (logging.getLogger('spiff.…') in its source), and their parent.
SPIFF_LOGGERS = ("spiff", "spiff.task", "spiff.workflow", "spiff.data", "spiff.dmn")
# Libraries that are noisy at INFO even when an operator asks for INFO.
QUIET_UNLESS_DEBUG = ("apscheduler",)


class LogLevelError(ValueError):
    """A log level that is not one of LEVELS."""


def parse_level(value: str | int | None) -> int:
    """The logging level for a name such as 'warning' or 'INFO' (blank means the default)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        value = DEFAULT_LEVEL
    if isinstance(value, int) and not isinstance(value, bool) and logging.getLevelName(value) in LEVELS:
        return value
    name = str(value).strip().upper()
    if name not in LEVELS:
        raise LogLevelError(f"{value!r} is not a log level; use one of {', '.join(LEVELS)}")
    return logging.getLevelName(name)


def setup_logging(level: str | int | None = None, settings: Settings | None = None) -> int:
    """Configure logging for a process; level (e.g. from --log-level) wins over settings.log_level
    (APFLOW_LOG_LEVEL). Returns the level set. Raises LogLevelError for an unknown level name.

    Safe to call more than once: the handler is added only if the root logger has none.
    """
    if level is None:
        level = (settings or Settings.from_env()).log_level
    number = parse_level(level)
    logging.basicConfig(format=FORMAT)  # a stderr handler, unless the process already has one
    logging.getLogger().setLevel(number)
    for name in SPIFF_LOGGERS:
        logging.getLogger(name).setLevel(number)
    for name in QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG else max(number, logging.WARNING))
    return number
