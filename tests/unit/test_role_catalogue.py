"""The role catalogue diagrams name roles through (issue 17): built-in roles, their aliases and custom roles."""
from apflow.roles import BUILTIN, Catalogue, role_key, role_title, with_cover

SCHOOL = Catalogue((("attendance_officer", "Attendance Officer"), ("deputy_head", "Deputy Head")))


def test_issue17_catalogue_resolves_keys_titles_and_aliases_ignoring_case_and_spaces():
    for name in ("AP Coordinator", "ap coordinator", "  AP   Coordinator ", "coordinator"):
        assert BUILTIN.resolve(name) == "coordinator"
    assert BUILTIN.resolve("Designated Safeguarding Lead") == "dsl"
    assert BUILTIN.resolve("Tutor") == "provider"
    for name in ("Attendance Officer", "attendance officer", "ATTENDANCE_OFFICER", "attendance_officer"):
        assert SCHOOL.resolve(name) == "attendance_officer"
        assert BUILTIN.resolve(name) is None
    assert SCHOOL.resolve("Headteacher") == "headteacher"
    assert SCHOOL.resolve("Finance") is None and SCHOOL.resolve("") is None and SCHOOL.resolve(None) is None


def test_issue17_catalogue_titles_and_keys_list_built_in_roles_first():
    assert SCHOOL.title("deputy_head") == "Deputy Head" and SCHOOL.title("dsl") == "DSL"
    assert SCHOOL.keys()[:2] == ["coordinator", "headteacher"] and SCHOOL.keys()[-2:] == ["attendance_officer", "deputy_head"]
    assert "'Attendance Officer'" in SCHOOL.listed() and "'AP Coordinator'" in SCHOOL.listed()


def test_issue17_role_key_is_a_slug_of_the_title():
    assert role_key("Attendance Officer") == "attendance_officer"
    assert role_key(" Virtual School Head (VSH) ") == "virtual_school_head_vsh"
    assert role_title("no_such_role") == "No such role"


def test_issue17_deputy_dsl_still_covers_the_dsl():
    assert with_cover({"deputy_dsl"}) == {"deputy_dsl", "dsl"}
