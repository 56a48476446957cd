"""The layout of docs/architecture.md holds: layers run one way, the engine stands alone, every record kind has
its handler. None of these touch a database."""
import json
import subprocess
import sys
from pathlib import Path

from apflow.config import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_import_contracts_in_pyproject_hold():
    result = subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _fresh_interpreter(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_engine_validates_and_runs_a_diagram_with_no_flask_no_database_and_no_services():
    found = _fresh_interpreter("""
import json, sys
from apflow.engine import validate
from apflow.engine.runtime import WorkflowHost
from tests.bpmn_builder import flow_diagram
checked = validate.check({"flow.bpmn": flow_diagram().encode()}, validate.Path("forms"))
host = WorkflowHost()
workflow = host.start(checked.parsed.bundle(checked.parsed.process_ids[0]))
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"problems": [str(p) for p in checked.problems], "ready": len(host.ready_human_tasks(workflow)),
                  "loaded": [name for name in sys.modules if name.split(".")[0] in
                             {"flask", "flask_login", "sqlalchemy", "alembic", "apscheduler", "argon2", "psycopg", "werkzeug"}
                             or name.startswith(("apflow.services", "apflow.store", "apflow.placements", "apflow.web"))]}))
""")
    assert found["problems"] == []
    assert found["ready"] == 1
    assert found["loaded"] == []


def test_every_record_kind_the_lifecycle_diagrams_name_has_a_handler():
    from apflow.engine import validate
    from apflow.engine.diagrams import record_kinds, task_properties
    from apflow.placements.records import HANDLERS

    bpmn, _, _ = validate.collect([ROOT / "bpmn"])
    parsed = validate.parse_sources(bpmn)
    named = {kind for process_id in parsed.process_ids for spec in parsed.bundle(process_id).task_specs()
             for kind in record_kinds(task_properties(spec))}
    assert named and named <= set(HANDLERS)
    assert all(callable(fn) for fn in HANDLERS.values())


def test_a_missing_handler_module_stops_the_application_from_starting():
    """A packaging slip that drops a handler module must be loud, never a silent loss of the hard gates."""
    result = subprocess.run([sys.executable, "-c", "import sys; sys.modules['apflow.placements.planning'] = None; "
                             "import apflow.web"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "apflow.placements.planning" in result.stderr


def test_no_module_of_apflow_imports_itself_through_others():
    import grimp

    graph = grimp.build_graph("apflow")
    in_cycles = sorted(module for module in graph.modules
                       if any(graph.chain_exists(importer=imported, imported=module)
                              for imported in graph.find_modules_directly_imported_by(module)))
    assert in_cycles == []
