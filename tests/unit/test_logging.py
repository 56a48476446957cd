"""Logging is quiet by default and has one level setting (apflow.logs, APFLOW_LOG_LEVEL, --log-level).

Nothing here touches a database; that `apflow db upgrade` prints no library lines is tested in
tests/test_cli.py.
"""
import logging

import pytest
from click.testing import CliRunner

from apflow.cli import main
from apflow.config import Settings
from apflow.logs import SPIFF_LOGGERS, LogLevelError, parse_level, setup_logging

NAMES = ("", *SPIFF_LOGGERS, "apscheduler", "apflow")


@pytest.fixture(autouse=True)
def restore_logging():
    """setup_logging changes process-wide state; put it back as it was after each test."""
    loggers = {name: logging.getLogger(name) for name in NAMES}
    levels = {name: logger.level for name, logger in loggers.items()}
    handlers = logging.getLogger().handlers[:]
    yield
    for name, logger in loggers.items():
        logger.setLevel(levels[name])
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)


def _spiff_levels():
    return {name: logging.getLogger(name).level for name in SPIFF_LOGGERS}


def test_the_default_is_warning_for_everything_spiff_included():
    assert setup_logging(settings=Settings.from_env({})) == logging.WARNING
    assert logging.getLogger().level == logging.WARNING
    assert set(_spiff_levels().values()) == {logging.WARNING}
    assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
    assert not logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    # apflow's own warnings (mail delivery failed, ...) and errors (a timer failed) still show
    assert logging.getLogger("apflow.scheduler").isEnabledFor(logging.WARNING)


def test_the_settings_read_apflow_log_level():
    assert Settings.from_env({}).log_level == "WARNING"
    assert Settings.from_env({"APFLOW_LOG_LEVEL": " debug "}).log_level == "DEBUG"
    assert setup_logging(settings=Settings.from_env({"APFLOW_LOG_LEVEL": "info"})) == logging.INFO
    assert set(_spiff_levels().values()) == {logging.INFO}


@pytest.mark.parametrize("asked, expected", [("INFO", logging.INFO), ("debug", logging.DEBUG), ("Error", logging.ERROR)])
def test_an_explicit_level_wins_over_the_settings(asked, expected):
    setup_logging(asked, settings=Settings.from_env({"APFLOW_LOG_LEVEL": "CRITICAL"}))
    assert logging.getLogger().level == expected
    assert set(_spiff_levels().values()) == {expected}


def test_apscheduler_stays_at_warning_unless_debug_is_asked_for():
    setup_logging("INFO")
    assert logging.getLogger("apscheduler").level == logging.WARNING
    setup_logging("DEBUG")
    assert logging.getLogger("apscheduler").level == logging.DEBUG


@pytest.mark.parametrize("bad", ["LOUD", "verbose", "5", "WARN "])
def test_an_unknown_level_is_refused_with_the_choices(bad):
    with pytest.raises(LogLevelError, match="is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        setup_logging(bad)
    with pytest.raises(LogLevelError):
        parse_level(bad)


def test_blank_means_the_default():
    assert parse_level("") == parse_level(None) == logging.WARNING


def _run_a_diagram():
    from apflow.engine import validate
    from apflow.engine.runtime import WorkflowHost
    from tests.bpmn_builder import flow_diagram

    checked = validate.check({"flow.bpmn": flow_diagram().encode()}, validate.Path("forms"))
    host = WorkflowHost()
    host.start(checked.parsed.bundle(checked.parsed.process_ids[0]))


def _spiff_records(caplog):
    return [r for r in caplog.records if r.name.startswith("spiff")]


def test_spiffworkflow_says_nothing_by_default(caplog):
    caplog.set_level(logging.NOTSET)  # the capture handler takes everything the loggers let through
    setup_logging("WARNING")
    _run_a_diagram()
    assert _spiff_records(caplog) == []


def test_debug_brings_spiffworkflows_per_task_lines_back(caplog):
    caplog.set_level(logging.NOTSET)
    setup_logging("DEBUG")
    _run_a_diagram()
    messages = [r.getMessage() for r in _spiff_records(caplog)]
    assert any(m.startswith("State changed to") for m in messages), messages[:5]


# -- the command line (commands that reach a database are in tests/test_cli.py) ----------------

def test_an_unknown_level_is_a_usage_error_not_a_traceback(tmp_path):
    env = {"APFLOW_INSTANCE_DIR": str(tmp_path / "instance"), "APFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    by_option = CliRunner().invoke(main, ["--log-level", "loud", "db", "upgrade"], env=env)
    assert by_option.exit_code == 2
    assert "Invalid value for '--log-level': 'loud' is not a log level; use one of DEBUG" in by_option.output
    assert "Traceback" not in by_option.output
    by_env = CliRunner().invoke(main, ["db", "upgrade"], env={**env, "APFLOW_LOG_LEVEL": "loud"})
    assert by_env.exit_code == 2
    assert "Invalid value for APFLOW_LOG_LEVEL: 'LOUD' is not a log level" in by_env.output
    assert not (tmp_path / "x.sqlite3").exists()  # refused before anything was done
