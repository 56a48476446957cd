"""The `apflow` command line."""
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from apflow.cli import main
from apflow.config import ROOT
from tests.bpmn_builder import flow_diagram


@pytest.fixture
def run(tmp_path):
    env = {"APFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "APFLOW_INSTANCE_DIR": str(tmp_path / "instance")}

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("command", [[], ["serve"], ["scheduler"], ["demo"], ["validate"], ["deploy"], ["db", "upgrade"], ["users", "create"],
                                     ["users", "set-password"], ["calendar", "import"], ["calendar", "show"]])
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "apflow", *command, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_validate_ok_for_the_shipped_diagrams_and_forms(run):
    result = run("validate", str(ROOT / "bpmn"), str(ROOT / "forms"))
    assert result.exit_code == 0 and result.output.strip() == "ok"


def test_validate_prints_every_problem_with_file_element_and_fix(run, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text(flow_diagram(pid="bad", script="import os", condition="x.__class__", default=False, lane="Nobody"))
    result = run("validate", str(bad))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("bad.bpmn")]
    elements = {line.split(":")[1].strip() for line in lines}
    assert {"Task_work", "Gateway_1", "Task_check"} <= elements
    assert all("Fix:" in line for line in lines)


def test_validate_checks_form_files(run, tmp_path):
    broken = tmp_path / "broken.schema.json"
    broken.write_text('{"type": "object", "properties": {"x": {"type": "colour"}}}')
    result = run("validate", str(broken))
    assert result.exit_code == 1 and "broken.schema.json" in result.output


def test_deploy_versions_only_changed_processes(run, tmp_path):
    first = run("deploy", str(ROOT / "bpmn"), "--note", "first")
    assert first.exit_code == 0 and "referral_triage: deployed as version 1" in first.output
    again = run("deploy", str(ROOT / "bpmn"))
    assert "referral_triage: unchanged, still version 1" in again.output
    bad = tmp_path / "bad.bpmn"
    bad.write_text(flow_diagram(pid="bad", script="import os"))
    refused = run("deploy", str(bad))
    assert refused.exit_code == 1 and "Nothing was deployed" in refused.output


def test_users_create_reads_the_password_from_stdin(run):
    result = run("users", "create", "priya", "--role", "coordinator", "--role", "manager", "--password-stdin", input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    short = run("users", "create", "sam", "--role", "coordinator", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    unknown = run("users", "create", "kim", "--role", "wizard", "--password-stdin", input="a long enough secret\n")
    assert unknown.exit_code == 1 and "Unknown role" in unknown.output


def test_demo_loads_people_and_work_and_can_run_twice(run):
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "user coordinator" in first.output and "referral for" in first.output
    second = run("demo")
    assert second.exit_code == 0 and "referral for" not in second.output


def test_set_password_replaces_a_forgotten_password(run, tmp_path):
    """Wrong guesses lock nobody out in the database (sign-in limits live in the web process: tests/security/test_access.py);
    an operator sets a new password from the command line, and the old one stops working."""
    from apflow.config import Settings
    from apflow.errors import ServiceError
    from apflow.services import users
    from apflow.services.core import Core

    run("users", "create", "priya", "--role", "coordinator", "--password-stdin", input="a long enough secret\n")
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'cli.sqlite3'}", instance_dir=tmp_path))
    result = run("users", "set-password", "priya", "--password-stdin", input="another long secret\n")
    assert result.exit_code == 0 and "password of priya changed" in result.output
    with core.db.session() as s:
        assert users.authenticate(s, "priya", "another long secret").username == "priya"
    with pytest.raises(ServiceError), core.db.session() as s:
        users.authenticate(s, "priya", "a long enough secret")
    assert run("users", "set-password", "nobody", "--password-stdin", input="another long secret\n").exit_code == 1


def test_calendar_import_and_show(run, tmp_path):
    from apflow.services.calendars import DEMO_TERMS

    assert run("calendar", "show").exit_code == 1
    imported = run("calendar", "import", str(DEMO_TERMS))
    assert imported.exit_code == 0 and "6 terms" in imported.output
    shown = run("calendar", "show")
    assert "Spring 2027: 2027-01-04 to 2027-03-25" in shown.output and "Easter Monday" in shown.output
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,name,start,end\nterm,Autumn,2026-09-02,2026-02-01\n")
    refused = run("calendar", "import", str(bad))
    assert refused.exit_code == 1 and "line 2" in refused.output


# -- quiet by default (apflow.logs) --------------------------------------------------------------

def _apflow(tmp_path, *args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("APFLOW_")}
    environment.update({"APFLOW_INSTANCE_DIR": str(tmp_path / "instance"), **env})
    return subprocess.run([sys.executable, "-m", "apflow", *args], check=False, capture_output=True, text=True,
                          cwd=ROOT, env=environment, timeout=120)


def test_db_upgrade_prints_only_its_own_line(tmp_path):
    result = _apflow(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "alembic" not in result.stderr + result.stdout
    assert " INFO " not in result.stderr + result.stdout
    assert result.stderr == ""
    assert result.stdout.startswith("database is up to date")


def test_apflow_log_level_info_shows_the_library_lines_and_the_option_overrides_it(tmp_path):
    by_env = _apflow(tmp_path, "db", "upgrade", APFLOW_LOG_LEVEL="info")
    assert by_env.returncode == 0, by_env.stderr
    assert "INFO alembic.runtime.migration: Running upgrade" in by_env.stderr
    quiet = _apflow(tmp_path, "--log-level", "WARNING", "db", "upgrade", APFLOW_LOG_LEVEL="INFO")
    assert quiet.returncode == 0 and quiet.stderr == ""
