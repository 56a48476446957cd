"""`apflow roles ...` and `apflow users create --role TITLE` (issue 17), on SQLite and PostgreSQL."""
import pytest
from click.testing import CliRunner

from apflow.cli import main
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD


@pytest.fixture
def run(database_url, tmp_path):
    env = {"APFLOW_DATABASE_URL": database_url, "APFLOW_INSTANCE_DIR": str(tmp_path / "instance")}

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_issue17_users_create_accepts_role_titles(run):
    made = run("users", "create", "ap", "--role", "AP Coordinator", "--password-stdin", input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    listed = run("roles", "list")
    assert listed.exit_code == 0 and "coordinator\tAP Coordinator\t(built-in)\tap" in listed.output
    unknown = run("users", "create", "fin", "--role", "Finance", "--password-stdin", input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "Unknown role(s): Finance" in unknown.output and "Traceback" not in unknown.output


def test_issue17_roles_add_give_take_remove_from_the_command_line(run, tmp_path):
    diagram = tmp_path / "attendance.bpmn"
    diagram.write_text(flow_diagram(pid="attendance", lane="Attendance Officer"))
    refused = run("validate", str(diagram))
    assert refused.exit_code == 1 and "The lane 'Attendance Officer' of task 'Check' names no role" in refused.output
    assert "apflow roles add" in refused.output

    added = run("roles", "add", "Attendance Officer", "--carries", "coordinator")
    assert added.exit_code == 0, added.output
    assert "added role attendance_officer (Attendance Officer), carrying coordinator" in added.output
    again = run("roles", "add", "attendance officer")
    assert again.exit_code == 1 and "already has the role" in again.output
    assert run("roles", "add", "Tutor").exit_code == 1  # a built-in role's alias
    assert run("validate", str(diagram)).output.strip() == "ok"

    assert run("users", "create", "ali", "--role", "senco", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    given = run("roles", "give", "Attendance Officer", "ali")
    assert given.exit_code == 0 and "ali now holds Attendance Officer" in given.output
    assert run("roles", "give", "headteacher", "ali").output.strip() == "ali now holds Headteacher"
    listed = run("roles", "list").output
    assert "attendance_officer\tAttendance Officer\tcoordinator\tali" in listed and "headteacher\tHeadteacher\t(built-in)\tali" in listed

    busy = run("roles", "remove", "Attendance Officer")
    assert busy.exit_code == 1 and "while people hold it" in busy.output
    assert run("roles", "take", "attendance_officer", "ali").exit_code == 0
    assert run("roles", "take", "Headteacher", "ali").exit_code == 0
    assert run("roles", "rename", "Attendance Officer", "Attendance Lead").output.strip() == "role renamed to Attendance Lead"
    removed = run("roles", "remove", "Attendance Lead")
    assert removed.exit_code == 0 and "removed role Attendance Lead" in removed.output
    missing = run("roles", "remove", "Attendance Lead")
    assert missing.exit_code == 1 and "no custom role 'Attendance Lead'" in missing.output


@pytest.mark.parametrize("command", [["roles"], ["roles", "list"], ["roles", "add"], ["roles", "remove"], ["roles", "rename"],
                                     ["roles", "give"], ["roles", "take"]])
def test_issue17_every_roles_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
