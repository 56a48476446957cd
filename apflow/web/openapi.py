"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""
from __future__ import annotations

from apflow import __version__
from apflow.roles import ROLES
from apflow.services.families import RELATIONSHIPS
from apflow.services.pupils import PROFESSIONAL_ROLES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {str(code): {"$ref": f"#/components/responses/{name}"} for code, name in
          [(400, "BadRequest"), (401, "Unauthorized"), (403, "Forbidden"), (404, "NotFound"), (503, "Unavailable")]}


def _op(summary: str, responses: dict, body: dict | None = None, params: list | None = None, public: bool = False) -> dict:
    op = {"summary": summary, "responses": {**responses, **ERRORS}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path_param(name: str, type_: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": type_}}


def _library_paths() -> dict:
    """The process library (managers): drafts, deploy, versions, comparison, moving instances, rollback, forms."""
    pid = _path_param("process_id")
    invalid, conflict = {"$ref": "#/components/responses/Invalid"}, {"$ref": "#/components/responses/Conflict"}
    problems = {"type": "array", "items": _ref("Problem")}
    draft = {"type": "object", "properties": {"process_id": {"type": "string"}, "source_file": {"type": "string"}, "xml": {"type": "string"},
                                              "revision": {"type": "integer"}, "deployed_version": {"type": ["integer", "null"]},
                                              "undeployed_changes": {"type": "boolean"}, "problems": problems}}
    return {
        "/processes/{process_id}": {"get": _op("Managers: a process's versions (who, when, why, instances on each), draft and history", {"200": _json({"type": "object"})}, params=[pid])},
        "/processes/{process_id}/draft": {
            "get": _op("The draft to edit (revision 0 = the newest deployed diagram, not yet edited)", {"200": _json(draft)}, params=[pid]),
            "put": _op("Save the draft; send the revision you started from. A save over a newer one is refused (409)",
                       {"200": _json(draft), "409": conflict, "422": invalid},
                       {"type": "object", "required": ["xml", "revision"], "properties": {"xml": {"type": "string"}, "revision": {"type": "integer"}, "note": {"type": "string"}}}, [pid])},
        "/processes/{process_id}/draft/validate": {"post": _op("Run the checks of `apflow validate` on the given diagram (or the saved draft)",
                                                               {"200": _json({"type": "object", "properties": {"ok": {"type": "boolean"}, "problems": problems}})},
                                                               {"type": "object", "properties": {"xml": {"type": "string"}}}, [pid])},
        "/processes/{process_id}/deploy": {"post": _op("Deploy the draft at `revision` as a new version, after every check; a change note is required",
                                                       {"201": _json({"type": "object"}, "Deployed"), "200": _json({"type": "object"}, "Nothing changed"), "409": conflict, "422": invalid},
                                                       {"type": "object", "required": ["revision", "note"], "properties": {"revision": {"type": "integer"}, "note": {"type": "string"}}}, [pid])},
        "/processes/{process_id}/versions/{version}": {"get": _op("One deployed version's BPMN", {"200": _json({"type": "object", "properties": {"xml": {"type": "string"}}})},
                                                                  params=[pid, _path_param("version", "integer")])},
        "/processes/{process_id}/diff": {"get": _op("What changed between two versions (`from`, `to`: numbers or 'draft'): added, removed, changed (with each change in words), moved",
                                                    {"200": _json({"type": "object"}), "422": invalid},
                                                    params=[pid, {"name": "from", "in": "query", "required": True, "schema": {"type": "string"}},
                                                            {"name": "to", "in": "query", "required": True, "schema": {"type": "string"}}])},
        "/processes/{process_id}/migration": {
            "get": _op("Which unfinished instances can move to version `to` (default: the newest) safely, and why not", {"200": _json({"type": "object"})},
                       params=[pid, {"name": "to", "in": "query", "required": False, "schema": {"type": "integer"}}]),
            "post": _op("Move instances to version `to`; unsafe ones are refused with reasons, each move is in the instance's history",
                        {"200": _json({"type": "object", "properties": {"moved": {"type": "array", "items": {"type": "integer"}}, "refused": {"type": "object"}}}), "422": invalid},
                        {"type": "object", "required": ["instance_ids"], "properties": {"to": {"type": "integer"}, "instance_ids": {"type": "array", "items": {"type": "integer"}}, "note": {"type": "string"}}}, [pid])},
        "/processes/{process_id}/rollback": {"post": _op("Make an earlier version's content the newest version again (after today's checks)",
                                                         {"201": _json({"type": "object"}, "Rolled back"), "409": conflict, "422": invalid},
                                                         {"type": "object", "required": ["version", "note"], "properties": {"version": {"type": "integer"}, "note": {"type": "string"}}}, [pid])},
        "/processes/upload": {"post": _op("Upload a .bpmn (e.g. from another bpmn-js editor) as a process's draft; refused whole unless it passes every check",
                                          {"201": _json(draft, "Saved as draft"), "409": conflict, "422": invalid},
                                          {"type": "object", "required": ["filename", "xml"], "properties": {"filename": {"type": "string"}, "xml": {"type": "string"}, "note": {"type": "string"},
                                                                                                             "process_id": {"type": "string"}, "revision": {"type": "integer"}}})},
        "/forms": {"get": _op("Form files (JSON Schema and UI schema), with those edited in the browser", {"200": _json({"type": "object"})})},
        "/forms/{name}": {
            "get": _op("One form's JSON text and revision", {"200": _json({"type": "object"})}, params=[_path_param("name")]),
            "put": _op("Save a form (must be valid); live with the next deploy of each process using it", {"200": _json({"type": "object"}), "409": conflict, "422": invalid},
                       {"type": "object", "required": ["content", "revision"], "properties": {"content": {"type": "string"}, "revision": {"type": "integer"}}}, [_path_param("name")])},
        "/forms/preview": {"post": _op("The form as people will see it: HTML from the task-form renderer, or problems",
                                       {"200": _json({"type": "object", "properties": {"html": {"type": ["string", "null"]}, "problems": problems}})},
                                       {"type": "object", "required": ["schema"], "properties": {"schema": {"type": "string"}, "ui_schema": {"type": ["string", "null"]}}})},
    }


def _placement_paths() -> dict:
    """The caseload, safeguarding (R80, R81, R92, R111), incidents and review requests (R73, R82)."""
    placement, ref = [_path_param("placement_id", "integer")], [_path_param("ref")]
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}, "404": {"$ref": "#/components/responses/NotFound"}}
    text = {"type": "string"}
    return {
        "/placements": {"get": _op("The caseload: placements the caller may see, with stage, next deadline and holder (search, status, provider, reason, overdue=1)",
                                   {"200": _json({"type": "object"})})},
        "/placements/{placement_id}/concerns": {"post": _op("Raise a safeguarding concern; the pupil's DSLs get a task at once (detail: only they read it)",
                                                           {"201": _json({"type": "object"}, "Created"), **invalid},
                                                           {"type": "object", "required": ["summary"], "properties": {"summary": text, "detail": text, "child_protection": {"type": "boolean"}}}, placement)},
        "/placements/{placement_id}/emergency-removal": {"post": _op("Remove the pupil from a running placement now (DSL, deputy DSL, headteacher, coordinator)",
                                                                    {"201": _json({"type": "object"}, "Created"), **invalid},
                                                                    {"type": "object", "required": ["reason"], "properties": {"reason": text}}, placement)},
        "/placements/{placement_id}/incidents": {
            "get": _op("A placement's incidents (school and provider staff)", {"200": _json({"type": "object"})}, params=placement),
            "post": _op("Log an incident; the placement reviews its risk assessment and plan", {"201": _json({"type": "object"}, "Created"), **invalid},
                        {"type": "object", "required": ["kind", "summary"], "properties": {"kind": {"type": "string", "enum": ["behaviour", "injury", "attendance", "property", "safeguarding", "other"]},
                                                                                         "occurred_at": text, "summary": text, "action_taken": text}}, placement)},
        "/placements/{placement_id}/review-requests": {"post": _op("Ask for a placement and plan review (parents, the pupil, staff)", {"201": _json({"type": "object"}, "Created"), **invalid},
                                                                  {"type": "object", "required": ["reason"], "properties": {"reason": text}}, placement)},
        "/concerns": {"get": _op("Open concerns of the pupils whose child-protection file the caller holds", {"200": _json({"type": "object"})})},
        "/providers": {"get": _op("The approved-provider register with sites, due diligence, agreement and last QA visit (staff; all=1 adds every status)",
                                  {"200": _json({"type": "object"})})},
        "/providers/{provider_id}": {"get": _op("One provider's record: sites, criteria, due diligence, agreement and notice period, QA visits, placement counts",
                                                {"200": _json({"type": "object"}), **invalid}, params=[_path_param("provider_id", "integer")])},
        "/pupils/{ref}/contacts": {
            "get": _op("A pupil's parents and carers (the pupil's own school)", {"200": _json({"type": "object"}), **invalid}, params=ref),
            "post": _op("Add a parent or carer; with invite, give them an account and e-mail a link to set its password; the pupil's waiting family tasks go to them",
                        {"201": _json({"type": "object"}, "Created"), **invalid},
                        {"type": "object", "required": ["name", "relationship"], "properties": {
                            "name": text, "relationship": {"type": "string", "enum": list(RELATIONSHIPS)}, "email": text, "phone": text,
                            "parental_responsibility": {"type": "boolean"}, "invite": {"type": "boolean"}}}, ref)},
        "/pupils/{ref}/contacts/{contact_id}": {"delete": _op("Remove a parent or carer; tasks of the pupil they hold go back to the family role",
                                                              {"204": {"description": "Removed"}, **invalid},
                                                              params=[*ref, _path_param("contact_id", "integer")])},
        "/pupils/{ref}": {"get": _op("The pupil's page: details, year group, placements with consent and destination, attendance; family, professionals "
                                     "and the child-protection flag only for those entitled (a part not for you is left out)",
                                     {"200": _json({"type": "object", "required": ["pupil", "placements"]}), **invalid}, params=ref)},
        "/pupils/{ref}/professionals": {
            "get": _op("The professionals involved with the pupil and what each was told (the pupil's own school)", {"200": _json({"type": "object"}), **invalid}, params=ref),
            "post": _op("Record a professional involved with the pupil and family", {"201": _json({"type": "object"}, "Created"), **invalid},
                        {"type": "object", "required": ["role", "name"], "properties": {
                            "role": {"type": "string", "enum": list(PROFESSIONAL_ROLES)}, "name": text, "organisation": text, "email": text, "phone": text}}, ref)},
        "/pupils/{ref}/professionals/{professional_id}": {"delete": _op("Take a professional off the pupil (no longer involved)", {"204": {"description": "Removed"}, **invalid},
                                                                        params=[*ref, _path_param("professional_id", "integer")])},
        "/pupils/{ref}/professionals/{professional_id}/updates": {"post": _op("Record what a professional was told, and when", {"201": _json({"type": "object"}, "Created"), **invalid},
                                                                              {"type": "object", "required": ["told_on", "summary"], "properties": {
                                                                                  "told_on": {"type": "string", "format": "date"}, "summary": text}},
                                                                              [*ref, _path_param("professional_id", "integer")])},
        "/tasks/{task_id}/record-for-family": {"post": _op("The pupil's school records a family's answer given on paper (R40); the file says who recorded it and how",
                                                           {"200": _json({"type": "object"}), **invalid},
                                                           {"type": "object", "required": ["data", "recorded_how"], "properties": {"data": {"type": "object"}, "recorded_how": text}},
                                                           [_path_param("task_id")])},
        "/pupils/{ref}/child-protection": {"get": _op("A child's child-protection file (the pupil's DSLs and people they grant; every reading is logged)",
                                                      {"200": _json({"type": "object"}), "404": {"$ref": "#/components/responses/NotFound"}}, params=ref)},
        "/pupils/{ref}/child-protection/export": {"get": _op("The file as one JSON document for transfer (docs/safeguarding.md); logged",
                                                             {"200": _json({"type": "object"}), "404": {"$ref": "#/components/responses/NotFound"}}, params=ref)},
        "/pupils/{ref}/child-protection/grants": {"post": _op("Grant a colleague access to the file, with a reason and an end date (DSLs)",
                                                              {"201": _json({"type": "object"}, "Created"), **invalid},
                                                              {"type": "object", "required": ["username", "reason"], "properties": {"username": text, "reason": text, "expires_on": {"type": "string", "format": "date"}}}, ref)},
        "/child-protection/grants/{grant_id}": {"delete": _op("Revoke a grant (DSLs)", {"200": _json({"type": "object"}), "404": {"$ref": "#/components/responses/NotFound"}},
                                                             params=[_path_param("grant_id", "integer")])},
    }


def _people_paths() -> dict:
    """Staff accounts (managers, for the staff of their own organisations)."""
    uid = [_path_param("user_id", "integer")]
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}, "404": {"$ref": "#/components/responses/NotFound"}}
    text, roles = {"type": "string"}, {"type": "array", "items": {"type": "string", "enum": [r for r in ROLES if r not in {"parent", "pupil"}]}}
    staff = {"type": "object", "properties": {
        "id": {"type": "integer"}, "username": text, "display_name": text, "email": {"type": ["string", "null"]},
        "roles": {"type": "array", "items": {"type": "object", "properties": {"slug": text, "title": text}}},
        "organisations": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": text}}},
        "active": {"type": "boolean"}, "invited": {"type": "boolean"}, "invitation_lapsed": {"type": "boolean"},
        "invitation_expires_at": {"type": ["string", "null"], "format": "date-time"}}}
    return {
        "/people": {
            "get": _op("Managers: the staff of their organisations (never parents or pupils), with the organisations and roles a new member may be given",
                       {"200": _json({"type": "object", "properties": {"staff": {"type": "array", "items": staff}, "organisations": {"type": "array"}, "roles": {"type": "array"}}})}),
            "post": _op("Add a member of staff to one of the manager's organisations; they are e-mailed a link to choose their password (7 days, once)",
                        {"201": _json(staff, "Created"), **invalid},
                        {"type": "object", "required": ["username", "display_name", "email", "roles"], "properties": {
                            "username": text, "display_name": text, "email": text, "roles": roles, "organisation_id": {"type": ["integer", "null"]}}})},
        "/people/{user_id}/roles": {"put": _op("Replace a member of staff's roles (a manager cannot remove their own manager role)", {"200": _json(staff), **invalid},
                                               {"type": "object", "required": ["roles"], "properties": {"roles": roles}}, uid)},
        "/people/{user_id}/disable": {"post": _op("Stop them signing in: sessions and API tokens stop working, tasks they held go back to their role (not yourself)",
                                                  {"200": _json({"allOf": [staff, {"type": "object", "properties": {"tasks_released": {"type": "integer"}}}]}), **invalid}, params=uid)},
        "/people/{user_id}/enable": {"post": _op("Let a disabled member of staff sign in again", {"200": _json(staff), **invalid}, params=uid)},
        "/people/{user_id}/invite": {"post": _op("E-mail a new link to choose a password; an earlier link stops working", {"200": _json(staff), **invalid}, params=uid)},
    }


def openapi_document() -> dict:
    data_body = {"type": "object", "properties": {"data": {"type": "object"}}}
    files_body = {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "object", "additionalProperties": {"type": "string"}, "description": "file name -> BPMN XML"},
        "note": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "apflow API", "version": __version__,
                 "description": "Run alternative provision placement workflows. Authenticate with a bearer token from POST /tokens, or a browser session (writes then need the X-CSRF-Token header)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/tokens": {
                "post": _op("Exchange a username and password for an API token; it stops working after expires_in_hours, at a password "
                            "change, or when revoked", {
                                "201": _json({"type": "object", "properties": {"token": {"type": "string"}, "expires_in_hours": {"type": "number"}}}, "Created"),
                                "429": {"$ref": "#/components/responses/TooManyAttempts"}},
                            {"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
                            public=True),
                "delete": _op("Sign out everywhere: revoke every API token of the caller and end their browser sessions",
                              {"200": _json({"type": "object", "properties": {"revoked": {"type": "integer"}}})})},
            "/tokens/current": {"delete": _op("Revoke the bearer token this request is sent with",
                                              {"200": _json({"type": "object", "properties": {"revoked": {"type": "integer"}}})})},
            "/me": {"get": _op("The calling user and their roles", {"200": _json({"type": "object"})})},
            "/processes": {
                "get": _op("Deployed processes with their versions", {"200": _json({"type": "object", "properties": {"processes": {"type": "array", "items": _ref("Process")}}})}),
                "post": _op("Deploy BPMN diagrams (managers); unchanged processes are not re-versioned",
                            {"201": _json({"type": "object"}, "Created"), "422": {"$ref": "#/components/responses/Invalid"}}, files_body)},
            "/processes/validate": {"post": _op("Check BPMN diagrams without deploying (managers)", {"200": _json({"type": "object", "properties": {"ok": {"type": "boolean"}, "problems": {"type": "array", "items": _ref("Problem")}}})}, files_body)},
            "/processes/{process_id}/instances": {"post": _op("Start an instance of the newest version", {
                "201": _json(_ref("Instance"), "Created"), "422": {"$ref": "#/components/responses/Invalid"}}, data_body, [_path_param("process_id")])},
            "/tasks": {"get": _op("Ready tasks the caller may see, soonest due first; 200 a page (next_offset when there are more)", {"200": _json({"type": "object", "properties": {"tasks": {"type": "array", "items": _ref("Task")}}})},
                                  params=[{"name": "instance", "in": "query", "required": False, "schema": {"type": "integer"}},
                                          {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}},
                                          {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}}])},
            "/tasks/{task_id}": {"get": _op("One task with its form (JSON Schema and UI schema) and current answers", {"200": _json(_ref("TaskWithForm"))}, params=[_path_param("task_id")])},
            "/tasks/{task_id}/complete": {"post": _op("Complete a task with form data, validated against its form", {
                "200": _json({"type": "object"}), "409": {"$ref": "#/components/responses/Conflict"}, "422": {"$ref": "#/components/responses/Invalid"}},
                data_body, [_path_param("task_id")])},
            "/inbox": {"get": _op("The inbox: tab=mine|available|all, role, process, provider, search (pupil name or reference), overdue=1, sort=due|created|pupil|task, page",
                                  {"200": _json({"type": "object"})})},
            "/tasks/{task_id}/{action}": {"post": _op("Hold a task: action is claim, unclaim, assign or delegate ({\"username\"}), take-back, or draft ({\"data\"})",
                                                     {"200": _json(_ref("TaskWithForm")), "409": {"$ref": "#/components/responses/Conflict"}, "422": {"$ref": "#/components/responses/Invalid"}},
                                                     {"type": "object", "properties": {"username": {"type": "string"}, "data": {"type": "object"}}},
                                                     [_path_param("task_id"), _path_param("action")])},
            "/tasks/bulk": {"post": _op("Managers: claim or reassign many tasks", {"200": _json({"type": "object", "properties": {"done": {"type": "array"}, "failed": {"type": "object"}}})},
                                        {"type": "object", "required": ["action", "task_ids"], "properties": {"action": {"type": "string", "enum": ["claim", "assign"]},
                                                                                                              "task_ids": {"type": "array", "items": {"type": "string"}}, "username": {"type": "string"}}})},
            "/instances/{instance_id}": {"get": _op("One instance: status, version, data, last error", {"200": _json(_ref("Instance"))}, params=[_path_param("instance_id", "integer")])},
            "/instances/{instance_id}/file": {"get": _op("The placement file: every completed task's answers in plain words (only those this person may read), what the placement waits for, and its documents", {"200": _json({"type": "object", "required": ["entries", "waiting", "documents"]})}, params=[_path_param("instance_id", "integer")])},
            "/instances/{instance_id}/events": {"get": _op("The instance's history, oldest first", {"200": _json({"type": "object", "properties": {"events": {"type": "array", "items": _ref("Event")}}})}, params=[_path_param("instance_id", "integer")])},
            "/instances/{instance_id}/retry": {"post": _op("Retry the action that failed on an instance (managers)", {"200": _json(_ref("Instance")), "409": {"$ref": "#/components/responses/Conflict"}}, params=[_path_param("instance_id", "integer")])},
            "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})}, public=True)},
            "/calendar": {
                "get": _op("The school-term calendar: terms, half-term windows, INSET days, bank holidays", {"200": _json({"type": "object"})}),
                "put": _op("Replace the term dates from CSV text (managers)", {"200": _json({"type": "object"}), "422": {"$ref": "#/components/responses/Invalid"}},
                           {"type": "object", "required": ["csv"], "properties": {"csv": {"type": "string", "description": "kind,name,start,end rows"}}})},
            "/escalations": {"get": _op("Open escalations for the caller's roles (all=1 includes closed ones)", {"200": _json({"type": "object"})},
                                        params=[{"name": "all", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1"]}}])},
            "/escalations/{escalation_id}/acknowledge": {"post": _op("Take on an escalation, with a note of what will be done", {
                "200": _json({"type": "object"}), "409": {"$ref": "#/components/responses/Conflict"}},
                {"type": "object", "properties": {"note": {"type": "string"}}}, [_path_param("escalation_id", "integer")])},
            "/dashboard": {"get": _op("Managers: everything overdue or due within 7 days, by role, provider and pupil", {"200": _json({"type": "object"})})},
            "/notifications": {"get": _op("The caller's in-app notifications, newest first (unread=1 for unread only)", {"200": _json({"type": "object"})},
                                          params=[{"name": "unread", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1"]}}])},
            "/notifications/read": {"post": _op("Mark notifications read (all when ids is left out)", {"200": _json({"type": "object"})},
                                                {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}})},
            **_library_paths(),
            **_placement_paths(),
            **_people_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
                "Problem": {"type": "object", "properties": {"file": {"type": "string"}, "element": {"type": ["string", "null"]}, "message": {"type": "string"}, "fix": {"type": "string"}}},
                "Process": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "latest_version": {"type": "integer"}, "versions": {"type": "array", "items": {"type": "object"}}}},
                "Task": {"type": "object", "required": ["id", "name", "lane", "due_at", "assignee", "instance_id"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "lane": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]},
                    "state": {"type": "string"}, "due_at": {"type": ["string", "null"], "format": "date-time"}, "assignee": {"type": ["string", "null"]},
                    "instance_id": {"type": "integer"}, "process_id": {"type": "string"}}},
                "TaskWithForm": {"allOf": [_ref("Task"), {"type": "object", "properties": {
                    "form": {"type": ["object", "null"], "properties": {"schema": {"type": "object"}, "ui_schema": {"type": "object"}}}, "data": {"type": "object"}}}]},
                "Instance": {"type": "object", "properties": {"id": {"type": "integer"}, "process_id": {"type": "string"}, "version": {"type": "integer"},
                                                                "status": {"type": "string", "enum": ["running", "completed", "error"]}, "data": {"type": "object"}, "error": {"type": ["object", "null"]}}},
                "Event": {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                                                             "kind": {"type": "string"}, "task_id": {"type": ["string", "null"]}, "task_name": {"type": ["string", "null"]}, "detail": {"type": "object"}}},
            },
            "responses": {name: _json(_ref("Error"), desc) for name, desc in [
                ("BadRequest", "The request could not be read"), ("Unauthorized", "Not signed in or bad token"), ("Forbidden", "Not allowed for your role"),
                ("NotFound", "No such thing that you can see"), ("Conflict", "Already done, or no longer possible"),
                ("Invalid", "Data does not fit; details holds per-field errors"), ("TooManyAttempts", "Too many failed sign-ins: wait for the seconds in Retry-After"),
                ("Unavailable", "The database did not answer; nothing was recorded: send the same request again after Retry-After seconds")]},
        },
    }
