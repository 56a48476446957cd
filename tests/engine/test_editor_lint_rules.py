"""The editor's lint rules (apflow/web/frontend/lint) agree with the server about which lane names are roles."""
import re

from apflow import roles
from apflow.config import ROOT

HELPERS = ROOT / "apflow" / "web" / "frontend" / "lint" / "bpmnlint-plugin-apflow" / "rules" / "helpers.js"


def test_the_lane_names_the_editor_accepts_are_the_roles_the_server_accepts():
    block = re.search(r"const ROLE_LANES = \[(.*?)\];", HELPERS.read_text(), re.S).group(1)
    editor = set(re.findall(r"'([^']+)'", block))
    server = {slug.lower() for slug in roles.ROLES} | {title.lower() for title in roles.ROLES.values()} | set(roles._ALIASES)
    assert editor == server
    assert all(roles.role_for_lane(name) for name in editor)
