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


def _role_paths() -> dict:
    """Custom roles (issue 17): managers of an organisation add roles carrying built-in roles' permissions."""
    rid = [_path_param("role_id", "integer")]
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}, "404": {"$ref": "#/components/responses/NotFound"}}
    text = {"type": "string"}
    person = {"type": "object", "properties": {"id": {"type": "integer"}, "username": text, "display_name": text}}
    carries = {"type": "array", "items": {"type": "string"}, "description": "Built-in staff roles, by key or title, e.g. [\"headteacher\"]"}
    role = {"type": "object", "properties": {
        "id": {"type": "integer"}, "key": text, "title": text, "builtin": {"type": "boolean"}, "organisation_id": {"type": "integer"},
        "carries": {"type": "array", "items": {"type": "object", "properties": {"key": text, "title": text}}},
        "holders": {"type": "array", "items": person}, "created_at": {"type": "string", "format": "date-time"}, "created_by": text}}
    listing = {"type": "object", "properties": {
        "organisation": {"type": "object", "properties": {"id": {"type": "integer"}, "name": text}},
        "organisations": {"type": "array", "items": {"type": "object"}}, "builtin": {"type": "array", "items": {"type": "object"}},
        "custom": {"type": "array", "items": role}, "carriable": {"type": "array", "items": {"type": "object"}}, "staff": {"type": "array", "items": person}}}
    return {
        "/roles": {
            "get": _op("Managers: the built-in roles and their organisation's own roles, with who holds each (organisation_id: which of "
                       "their organisations)", {"200": _json(listing), **invalid},
                       params=[{"name": "organisation_id", "in": "query", "required": False, "schema": {"type": "integer"}}]),
            "post": _op("Add a role to the manager's organisation; lanes may then name it by title or key. Its title may not be a built-in "
                        "role's; organisation_id is needed when the manager has several", {"201": _json(role, "Created"), **invalid},
                        {"type": "object", "required": ["title"], "properties": {"title": text, "carries": carries,
                                                                                  "organisation_id": {"type": ["integer", "null"]}}})},
        "/roles/{role_id}": {
            "patch": _op("Rename a custom role (its key stays)", {"200": _json(role), **invalid},
                         {"type": "object", "required": ["title"], "properties": {"title": text}}, rid),
            "delete": _op("Remove a custom role nobody holds and no deployed diagram names", {"204": {"description": "Removed"}, **invalid}, params=rid)},
        "/roles/{role_id}/members": {"post": _op("Give the role to a member of staff of its organisation (username or user_id)", {"200": _json(role), **invalid},
                                                 {"type": "object", "properties": {"username": text, "user_id": {"type": "integer"}}}, rid)},
        "/roles/{role_id}/members/{user_id}": {"delete": _op("Take the role from a member of staff", {"200": _json(role), **invalid},
                                                             params=rid + [_path_param("user_id", "integer")])},
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


def _organisation_paths() -> dict:
    """Organisations (issue 17): the schools, LAs and providers one installation serves, and who belongs to them."""
    oid = [_path_param("organisation_id", "integer")]
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}}
    text = {"type": "string"}
    org = {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": text, "kind": {"type": "string", "enum": ["school", "la", "provider"]}, "kind_title": text,
        "is_default": {"type": "boolean", "description": "the installation's own organisation: people added without one join it"},
        "members": {"type": "integer"}, "mine": {"type": "boolean"}, "manage_members": {"type": "boolean"}}}
    member = {"type": "object", "properties": {"id": {"type": "integer"}, "username": text, "display_name": text,
                                                "roles": {"type": "array", "items": text}, "organisations": {"type": "integer"}}}
    changed = {"type": "object", "properties": {"organisation": org, "user_id": {"type": "integer"},
                                                 "organisations": {"type": "array", "items": {"type": "integer"}}}}
    return {
        "/organisations": {
            "get": _op("Managers: the installation's organisations, which are theirs, and whether they may add one",
                       {"200": _json({"type": "object", "properties": {"organisations": {"type": "array", "items": org},
                                                                       "kinds": {"type": "array"}, "can_add": {"type": "boolean"}}})}),
            "post": _op("Managers of the installation's own organisation: add a school, LA or provider",
                        {"201": _json(org, "Created"), **invalid},
                        {"type": "object", "required": ["name", "kind"], "properties": {
                            "name": text, "kind": {"type": "string", "enum": ["school", "la", "provider"]}}})},
        "/organisations/{organisation_id}/members": {
            "get": _op("The members of one of the manager's organisations, and the staff they may add to it",
                       {"200": _json({"allOf": [org, {"type": "object", "properties": {
                           "members": {"type": "array", "items": member}, "may_add": {"type": "array", "items": member}}}]}),
                        "404": {"$ref": "#/components/responses/NotFound"}}, params=oid),
            "post": _op("Put a member of staff the manager manages into this organisation (they keep their others)",
                        {"200": _json(changed), **invalid, "404": {"$ref": "#/components/responses/NotFound"}},
                        {"type": "object", "required": ["user_id"], "properties": {"user_id": {"type": "integer"}}}, oid)},
        "/organisations/{organisation_id}/members/{user_id}": {
            "delete": _op("Take someone out of this organisation; refused for their last one (everyone belongs to one)",
                          {"200": _json(changed), **invalid, "404": {"$ref": "#/components/responses/NotFound"}},
                          params=oid + [_path_param("user_id", "integer")])},
    }


def _family_paths() -> dict:
    """Families, the LA officer and notification settings (issue 15)."""
    ref, invalid = _path_param("ref"), {"422": {"$ref": "#/components/responses/Invalid"}}
    placement_body = {"type": "object", "required": ["placement_id"], "properties": {"placement_id": {"type": "integer"}}}
    modes = {"type": "object", "additionalProperties": {"type": "string", "enum": ["immediate", "digest", "in_app", "off"]},
             "description": "kind -> choice; safety alerts are always immediate; lesson_reminder is immediate (on) or off"}
    return {
        "/family/children": {"get": _op("A parent's or carer's linked children", {"200": _json({"type": "object"})})},
        "/family/children/{ref}": {"get": _op("A linked child's page: each placement's timetable with places and times (R6), attendance, lesson "
                                              "reports and materials (R7), reviews and invitations, termly progress updates (R77), the family's "
                                              "forms, whether lesson reminders are on; 404 for any other child", {"200": _json({"type": "object"})}, params=[ref])},
        "/family/reminders": {"put": _op("Switch the caller's lesson reminder e-mails on or off (R7)", {"200": _json({"type": "object"}), **invalid},
                                         {"type": "object", "required": ["on"], "properties": {"on": {"type": "boolean"}}})},
        "/family/children/{ref}/feedback": {"post": _op("Send the school feedback on a linked child's placement (R77); the same words again "
                                                        "within ten minutes are not sent twice (200)",
                                                        {"201": _json({"type": "object"}, "Sent"), "200": _json({"type": "object"}), **invalid},
                                                        {**placement_body, "required": ["placement_id", "feedback"],
                                                         "properties": {**placement_body["properties"], "feedback": {"type": "string"}}}, [ref])},
        "/family/children/{ref}/review-requests": {"post": _op("Ask for a review of a linked child's placement and plan (R73)",
                                                               {"201": _json({"type": "object"}, "Review opened"), **invalid},
                                                               {**placement_body, "required": ["placement_id", "reason"],
                                                                "properties": {**placement_body["properties"], "reason": {"type": "string"}}}, [ref])},
        "/la": {"get": _op("The LA officer's placements (named, or their authority's) with purchase orders, and what is due",
                           {"200": _json({"type": "object"})})},
        "/preferences": {
            "get": _op("The caller's notification settings: each kind they receive, their choice and the choices offered", {"200": _json({"type": "object"})}),
            "put": _op("Change the caller's notification settings; nothing is saved if any choice is refused",
                       {"200": _json({"type": "object"}), **invalid}, {"type": "object", "required": ["preferences"], "properties": {"preferences": modes}})},
    }


def _lesson_paths() -> dict:
    """Lesson reports, lesson plans and materials, and pupil views recorded by staff (issue 15: R7, R63, R72, R115)."""
    pid, invalid = _path_param("placement_id", "integer"), {"422": {"$ref": "#/components/responses/Invalid"}}
    score = {"type": "integer", "minimum": 1, "maximum": 5}
    report = {"type": "object", "required": ["day", "starts", "covered", "engagement"], "properties": {
        "day": {"type": "string", "format": "date"}, "starts": {"type": "string", "description": "HH:MM, the session's start"},
        "covered": {"type": "string"}, "school_comment": {"type": "string", "description": "for the school only; never shown to families"},
        "engagement": {"type": "object", "required": ["participation", "behaviour", "relationships", "progress", "wellbeing"],
                       "properties": {k: score for k in ("participation", "behaviour", "relationships", "progress", "wellbeing")}}}}
    material = {"type": "object", "required": ["kind", "title", "for_date", "confidentiality_agreed"], "properties": {
        "kind": {"type": "string", "enum": ["plan", "material"]}, "title": {"type": "string"}, "for_date": {"type": "string", "format": "date"},
        "whole_week": {"type": "boolean"}, "description": {"type": "string"}, "link": {"type": "string"},
        "confidentiality_agreed": {"type": "boolean", "const": True}},
        "description": "JSON with a link, or multipart/form-data with the same fields and a `file`"}
    check = {"type": "object", "required": ["decision"], "properties": {
        "decision": {"type": "string", "enum": ["checked", "sent_back"]}, "accurate": {"type": "boolean"}, "age_appropriate": {"type": "boolean"},
        "unbiased": {"type": "boolean"}, "reason": {"type": "string", "description": "why it is sent back"}}}
    views = {"type": "object", "required": ["held_on", "method", "pupil_words", "going_well", "feel_safe", "want_to_continue"], "properties": {
        "held_on": {"type": "string", "format": "date"}, "method": {"type": "string", "enum": ["one_to_one", "questionnaire"]},
        "adaptation": {"type": "string", "enum": ["", "read_aloud", "symbols", "simplified", "other"]}, "adaptation_detail": {"type": "string"},
        "pupil_words": {"type": "string"}, "going_well": {"type": "string"}, "could_be_better": {"type": "string"},
        "feel_safe": {"type": "string", "enum": ["yes", "mostly", "no"]}, "want_to_continue": {"type": "string", "enum": ["yes", "not_sure", "no"]}}}
    obj = _json({"type": "object"})
    return {
        "/lessons/today": {"get": _op("Provider staff: today's sessions of every pupil they teach, and recent sessions whose report is "
                                      "still to write (R72)", {"200": obj})},
        "/placements/{placement_id}/lesson-reports": {
            "get": _op("A placement's lesson reports, newest first; families get them without the comment for the school (R7, R72)",
                       {"200": obj}, params=[pid, {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}}]),
            "post": _op("Write (201) or correct (200) the report of one session, until the end of the next school day; repeated low "
                        "engagement opens a review once per episode (R72)", {"201": _json({"type": "object"}, "Written"), "200": obj, **invalid},
                        report, [pid])},
        "/placements/{placement_id}/lesson-materials": {
            "get": _op("Lesson plans and materials: staff read every one with its check; families only those checked (R63)", {"200": obj}, params=[pid]),
            "post": _op("The provider shares a lesson plan or material in advance, for the school to check (R63)",
                        {"201": _json({"type": "object"}, "Shared"), **invalid}, material, [pid])},
        "/lesson-materials/{material_id}/check": {"post": _op("The school checks a shared material (accurate, age and stage appropriate, "
                                                              "unbiased) or sends it back with a reason (R63)", {"200": obj, **invalid}, check,
                                                              [_path_param("material_id", "integer")])},
        "/placements/{placement_id}/pupil-views": {
            "get": _op("The pupil's views on the placement: recorded by staff and from the pupil's own form (R115)", {"200": obj}, params=[pid]),
            "post": _op("Record the pupil's views from a one-to-one discussion or an adapted questionnaire (R115)",
                        {"201": _json({"type": "object"}, "Recorded"), **invalid}, views, [pid])},
    }


def _register_paths() -> dict:
    """Registers as records and where the pupil is now (issue 15: R62, R71, R79)."""
    invalid = {"$ref": "#/components/responses/Invalid"}
    placement, ref = [_path_param("placement_id", "integer")], [_path_param("ref")]
    day = {"name": "day", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}
    span = [{"name": n, "in": "query", "required": False, "schema": {"type": "string", "format": "date"}} for n in ("from", "to")]
    mark = {"type": "object", "required": ["placement_id", "day", "starts", "status"], "properties": {
        "placement_id": {"type": "integer"}, "day": {"type": "string", "format": "date"}, "starts": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "status": {"type": "string", "enum": ["present", "late", "absent"]}, "minutes_late": {"type": "integer", "minimum": 1, "maximum": 300},
        "reason": {"type": "string", "enum": ["unknown", "ill", "medical", "transport", "family", "refused", "other"]},
        "note": {"type": "string", "maxLength": 1000}}}
    return {
        "/registers": {
            "get": _op("Provider staff: the register grid of a day (default today): every session of every pupil they teach, across "
                       "commissioning schools, and every register still missing", {"200": _json({"type": "object"})}, params=[day]),
            "post": _op("Provider staff: record many marks at once, all or nothing (errors per mark); the same marks again change nothing. "
                        "all_present: sessions ('placement_id:YYYY-MM-DD:HH:MM') with no mark yet to mark present",
                        {"200": _json({"type": "object"}), **invalid},
                        {"type": "object", "properties": {"marks": {"type": "array", "items": mark},
                                                          "all_present": {"type": "array", "items": {"type": "string"}}}})},
        "/registers/missing": {"get": _op("Provider staff: sessions that started with no mark, earlier days included", {"200": _json({"type": "object"})})},
        "/placements/{placement_id}/register": {"get": _op(
            "A placement's register per day and session: the provider's report, the school's code, follow-up of absences (the school's staff "
            "and the provider delivering it)", {"200": _json({"type": "object"})}, params=[*placement, *span])},
        "/placements/{placement_id}/register/codes": {"post": _op(
            "The school codes marks (School Attendance Regulations 2024 codes); suggested=true codes every reported mark not coded yet",
            {"200": _json({"type": "object"}), **invalid},
            {"type": "object", "properties": {"codes": {"type": "object", "additionalProperties": {"type": "string"}}, "suggested": {"type": "boolean"}}},
            placement)},
        "/whereabouts": {"get": _op(
            "The school's and LA's staff: where each of their AP pupils is right now, or why not in a session; in name order, "
            "a page at a time (next_offset while there are more); `total` counts the matches, `attention` everyone absent or "
            "not registered in a session now",
            {"200": _json({"type": "object", "properties": {
                "pupils": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"}, "attention": {"type": "integer"},
                "offset": {"type": "integer"}, "limit": {"type": "integer"}, "next_offset": {"type": "integer"}}}),
             "422": {"$ref": "#/components/responses/Invalid"}},
            params=[{"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100},
                     "description": "part of a pupil's name or reference"},
                    {"name": "attention", "in": "query", "required": False, "schema": {"type": "string", "enum": ["true", "false"]},
                     "description": "only pupils absent or not registered in a session now"},
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 500}},
                    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}}])},
        "/pupils/{ref}/whereabouts": {"get": _op("Where one pupil is right now: session, provider, site address, tutor, today's mark, or why not "
                                                 "in a session", {"200": _json({"type": "object"})}, params=ref)},
    }


def _provider_side_paths() -> dict:
    """The provider's own side (R12, R14, R24): its decisions on referrals, plan sign-offs, termly reports, notices."""
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}}
    pid, obj = _path_param("placement_id", "integer"), _json({"type": "object"})
    reasons = {"type": "array", "items": {"type": "string", "enum": ["attendance", "medical", "needs_not_met", "send", "cic", "cp"]}}
    decision = {"type": "object", "required": ["decision", "reason"], "properties": {
        "decision": {"type": "string", "enum": ["accept", "decline"]}, "reason": {"type": "string", "minLength": 10},
        "criteria_met": {**reasons, "description": "the admission criteria the referral meets; at least one to accept"}}}
    criteria = {"type": "object", "required": ["reasons"], "properties": {"reasons": reasons, "age_from": {"type": ["integer", "null"]},
                                                                            "age_to": {"type": ["integer", "null"]}, "notes": {"type": "string"}}}
    signoff = {"type": "object", "required": ["checks"], "properties": {"checks": {"type": "array", "items": {"type": "string", "enum": [
        "needs_reflected", "targets_measurable", "pupil_voice", "safeguarding_considered", "shared_with_staff"]}}, "comments": {"type": "string"}}}
    report = {"type": "object", "required": ["targets", "what_worked", "changes"], "properties": {
        "targets": {"type": "object", "additionalProperties": {"type": "string", "enum": ["met", "partly", "not_met"]},
                    "description": "each commencement-review target (or its index) -> met, partly or not_met"},
        "what_worked": {"type": "string"}, "changes": {"type": "string"}}}
    notice = {"type": "object", "required": ["placement_ids", "kind", "summary", "effective_on"], "properties": {
        "placement_ids": {"type": "array", "items": {"type": "integer"}},
        "kind": {"type": "string", "enum": ["staff_change", "site_change", "new_adult", "supervision_change", "other"]},
        "summary": {"type": "string"}, "effective_on": {"type": "string", "format": "date"},
        "adult_name": {"type": "string", "description": "required for a staff change or a new adult"}, "checks_confirmed": {"type": "boolean"}}}
    provider = [_path_param("provider_id", "integer")]
    return {
        "/provider/referrals": {"get": _op("Provider staff: the referrals waiting for their provider's decision, with its admission criteria (R12)",
                                           {"200": obj})},
        "/placements/{placement_id}/referral-decision": {"post": _op(
            "The delivering provider accepts or declines the referral with a reason (R12); a decline goes back to the coordinator",
            {"201": _json({"type": "object"}, "Decided"), **invalid}, decision, [pid])},
        "/providers/{provider_id}/admission-criteria": {
            "get": _op("A provider's admission criteria (staff)", {"200": obj}, params=provider),
            "put": _op("The provider's own staff set its admission criteria (R12)", {"200": obj, **invalid}, criteria, provider)},
        "/placements/{placement_id}/provider-quality": {"get": _op(
            "What the provider decided and reported: decisions on the referral, plans with their sign-off or 'waiting', termly "
            "effectiveness reports, notices of changed arrangements with the school's re-check (school and provider staff)",
            {"200": obj}, params=[pid])},
        "/plans/{plan_id}/sign-off": {"post": _op("The provider's quality check of a Relational Learning Plan or Pupil Passport, by staff "
                                                  "other than its author where it has more than one (R14)", {"201": obj, **invalid}, signoff,
                                                  [_path_param("plan_id", "integer")])},
        "/placements/{placement_id}/effectiveness-reports": {"post": _op(
            "The provider's termly report to the commissioning school: each target met, partly or not, what worked, what changes (R14); "
            "sent again the same term, it replaces the term's report", {"201": obj, **invalid}, report, [pid])},
        "/arrangement-notices": {"post": _op(
            "Provider staff tell the commissioning schools of an arrangement that may put pupils at risk (R24): one notice and one "
            "re-check per pupil, each at the pupil's own school only", {"201": obj, **invalid}, notice)},
    }


def _data_protection_paths() -> dict:
    """Data protection (issue 16: R111): who read a pupil's records, the subject access export, the retention dry run."""
    ref = [_path_param("ref")]
    day = lambda name, about: {"name": name, "in": "query", "required": False, "description": about,  # noqa: E731
                               "schema": {"type": "string", "format": "date"}}
    text = lambda name, about: {"name": name, "in": "query", "required": False, "description": about, "schema": {"type": "string"}}  # noqa: E731
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}}
    return {
        "/pupils/{ref}/reads": {"get": _op(
            "Who read this pupil's records, newest first (the pupil's school's managers and DSLs; child-protection reads only for those "
            "entitled to the file): who, roles, what, route, when", {"200": _json({"type": "object"}), **invalid},
            params=[*ref, text("who", "name or username contains"), text("role", "a role, e.g. provider or parent"),
                    text("what", "what was read, or the route, contains"), day("since", "from this UK day"), day("until", "to this UK day")])},
        "/pupils/{ref}/subject-access": {"get": _op(
            "A subject access export: a ZIP of JSON and CSV files of everything held about the pupil with a README.txt "
            "(child-protection records only for those entitled to the file); logged",
            {"200": {"description": "The ZIP", "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
            params=ref)},
        "/retention": {"get": _op(
            "Managers: what the retention rules would delete on a day (a dry run: nothing is deleted), per rule and per pupil, what is "
            "held and why, and the deletion log", {"200": _json({"type": "object"}), **invalid},
            params=[day("on", "the day to look at; today by default")])},
    }


def _compliance_paths() -> dict:
    """Provider compliance documents with expiry dates (issue 16: R25)."""
    invalid = {"422": {"$ref": "#/components/responses/Invalid"}}
    provider, obj = [_path_param("provider_id", "integer")], _json({"type": "object"})
    document = {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "enum": ["public_liability", "employers_liability", "safeguarding", "registration",
                                           "information_sharing", "health_and_safety"]},
        "site_id": {"type": ["integer", "null"], "description": "one of the provider's sites; left out for the whole provider"},
        "title": {"type": "string"}, "reference": {"type": "string", "description": "where it is kept; required unless a file is sent"},
        "issued_on": {"type": "string", "format": "date"},
        "expires_on": {"type": "string", "format": "date", "description": "the last day it is valid; required for insurance, "
                                                                            "safeguarding and health and safety"},
        "notes": {"type": "string"}}}
    decision = {"type": "object", "required": ["decision"], "properties": {
        "decision": {"type": "string", "enum": ["accept", "reject"]}, "notes": {"type": "string", "description": "why, to reject"}}}
    return {
        "/providers/{provider_id}/compliance": {
            "get": _op("A provider's compliance documents: in force with their state (valid, due for renewal, expired), uploaded by "
                       "the provider and waiting, history; whether new starts are blocked (the commissioning side and the "
                       "provider's own staff)", {"200": obj}, params=provider),
            "post": _op("Record a compliance document (in force at once for the commissioning side's coordinators and managers; "
                        "waiting for the school to accept it when the provider's staff send it). JSON with a reference, or "
                        "multipart/form-data with the same fields and `file`", {"201": obj, **invalid}, document, provider)},
        "/providers/{provider_id}/compliance/{compliance_id}/decision": {"post": _op(
            "The commissioning side accepts or rejects a document the provider uploaded", {"200": obj, **invalid}, decision,
            provider + [_path_param("compliance_id", "integer")])},
    }


def _export_paths() -> dict:
    """Exports (issue 16, part 4): registers as CSV/XLSX, the school census's AP return (docs/census.md)."""
    invalid = {"$ref": "#/components/responses/Invalid"}
    query = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in (
        ("placement", {"type": "integer"}), ("provider", {"type": "integer"}), ("from", {"type": "string", "format": "date"}),
        ("to", {"type": "string", "format": "date"}), ("format", {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"}))]
    files = {"text/csv": {"schema": {"type": "string"}},
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}
    census = [{"name": "census", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^(autumn|spring|summer)-[0-9]{4}$"}},
              {"name": "school", "in": "query", "required": False, "schema": {"type": "integer"}}]
    return {
        "/exports/registers": {"get": _op(
            "Registers as a file, one row per session over a date range (default the last 4 weeks, at most 366 days): one placement, one "
            "provider, or everything the caller may export. The school's coordinators, headteacher and managers; a provider's staff for its "
            "own pupils", {"200": {"description": "The file (an attachment)", "content": files}, "422": invalid}, params=query)},
        "/census": {"get": _op(
            "The school census's AP return of the caller's school for a census (default the next): rows with the DfE's items, and every "
            "problem to fix with how", {"200": _json({"type": "object", "required": ["census", "columns", "rows", "problems"]}), "422": invalid},
            params=census)},
        "/census.csv": {"get": _op(
            "The same return as CSV (exactly the documented columns); the X-Census-Problems header counts the problems left",
            {"200": {"description": "The CSV (an attachment)", "content": {"text/csv": {"schema": {"type": "string"}}}}, "422": invalid},
            params=census)},
    }


def _trend_paths() -> dict:
    """Trends across placements (R112): the figures of the Trends page, for the school's and LA's staff."""
    choice = [{"name": name, "in": "query", "required": False, "schema": schema, "description": words} for name, schema, words in (
        ("provider", {"type": "integer"}, "A provider's id: only its placements"),
        ("reason", {"type": "string", "enum": ["attendance", "medical", "needs_not_met", "send", "cic", "cp"]}, "A reason for referral"),
        ("year_group", {"type": "integer"}, "The pupil's year group when the placement started (0 = Reception)"),
        ("placement_type", {"type": "string"}, "A type of placement (part_time_ap, full_time_ap, vocational, ...)"))]
    return {"/trends": {"get": _op(
        "Trends term by term over the placements the caller's school or LA commissioned: tables of attendance, progress, engagement, "
        "destinations, qualifications and value for money, each with its columns, rows and chart", {
            "200": _json({"type": "object", "required": ["terms", "filters", "options", "placements", "tables"]}),
            "422": {"$ref": "#/components/responses/Invalid"}}, params=choice)}}


def _outcome_paths() -> dict:
    """Exams on a placement (R15), the governors' report (R110, R114) and the annual policy review (R113, R114)."""
    invalid, obj = {"$ref": "#/components/responses/Invalid"}, _json({"type": "object"})
    placement, qualification, report, review = (_path_param(n, "integer") for n in ("placement_id", "qualification_id", "report_id", "review_id"))
    entry = {"type": "object", "required": ["subject", "kind", "level", "entered_on"], "properties": {
        "subject": {"type": "string"}, "kind": {"type": "string", "enum": ["gcse", "functional_skills", "entry_level", "btec", "vocational", "a_level", "other"]},
        "level": {"type": "string", "enum": ["entry_1", "entry_2", "entry_3", "level_1", "level_2", "level_3"]},
        "awarding_body": {"type": "string"}, "entered_on": {"type": "string", "format": "date"},
        "gained": {"type": "string", "enum": ["yes", "no", ""]}, "result": {"type": "string"}, "result_on": {"type": "string", "format": "date"}}}
    result = {"type": "object", "properties": {"gained": {"type": "string", "enum": ["yes", "no", ""]}, "result": {"type": "string"},
                                               "result_on": {"type": "string", "format": "date"}}}
    term = [{"name": "term", "in": "query", "required": False, "schema": {"type": "string"}, "description": "A term's name; default the current"}]
    return {
        "/placements/{placement_id}/qualifications": {
            "get": _op("A placement's exam entries and results: the school's staff and the delivering provider's", {"200": obj}, params=[placement]),
            "post": _op("Enter the pupil for an examination, with the result if known (the same entry twice is kept once)",
                        {"201": _json({"type": "object"}, "Created"), "422": invalid}, entry, params=[placement])},
        "/qualifications/{qualification_id}": {"put": _op("The result of an entry: gained yes or no, the grade, the date",
                                                          {"200": obj, "422": invalid}, result, params=[qualification])},
        "/governors/figures": {"get": _op("The term's figures for the governors' report over the caller's school's placements (numbers "
                                          "only; headteacher, coordinator, manager)", {"200": obj, "422": invalid}, params=term)},
        "/governors/reports": {
            "get": _op("The school's governors' reports, newest term first", {"200": obj}),
            "post": _op("Write or rewrite a term's report: the figures as they stand and the narrative", {"201": _json({"type": "object"}, "Created"),
                        "422": invalid}, {"type": "object", "required": ["term", "narrative"], "properties": {
                            "term": {"type": "string"}, "narrative": {"type": "string"}}})},
        "/governors/reports/{report_id}": {"get": _op("One report as written", {"200": obj}, params=[report])},
        "/governors/reports/{report_id}/presented": {"post": _op(
            "Record the date the report went to governors; it is then kept as they saw it", {"200": obj, "422": invalid},
            {"type": "object", "required": ["presented_on"], "properties": {"presented_on": {"type": "string", "format": "date"}}}, params=[report])},
        "/policy-reviews": {"get": _op("The school's annual policy reviews, newest first", {"200": obj})},
        "/policy-reviews/{review_id}": {"get": _op("A review with its evidence: the last reports, the year's figures, value for money, "
                                                   "feedback", {"200": obj}, params=[review])},
        "/policy-reviews/{review_id}/feedback": {"post": _op(
            "A member of staff's feedback for the review (sending again replaces it)", {"201": _json({"type": "object"}, "Created"), "422": invalid},
            {"type": "object", "properties": {"works_well": {"type": "string"}, "to_change": {"type": "string"},
                                              "rating": {"type": "integer", "minimum": 1, "maximum": 5}}}, params=[review])},
    }


def openapi_document() -> dict:
    data_body = {"type": "object", "properties": {"data": {"type": "object"}}}
    files_body = {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "object", "additionalProperties": {"type": "string"}, "description": "file name -> its text: .bpmn diagrams (at least one), and the form files they use (.json JSON Schema, "
                  ".form Camunda Forms), which are found before the server's forms folder"},
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
                "post": _op("Deploy BPMN diagrams (managers); unchanged processes are not re-versioned. Each deployed process lists the "
                            "warnings about its files (they do not stop a deploy; errors do, with 422)",
                            {"201": _json({"type": "object", "properties": {"deployed": {"type": "array", "items": {"type": "object", "properties": {
                                "process_id": {"type": "string"}, "version": {"type": "integer"}, "created": {"type": "boolean"},
                                "version_id": {"type": "integer"}, "warnings": {"type": "array", "items": _ref("Problem")}}}}}}, "Created"), "422": {"$ref": "#/components/responses/Invalid"}}, files_body)},
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
            **_organisation_paths(),  # issue 17: organisations
            **_role_paths(),  # issue 17: custom roles
            **_family_paths(),
            **_lesson_paths(),
            **_provider_side_paths(),
            **_register_paths(),
            **_export_paths(),
            **_compliance_paths(),
            **_data_protection_paths(),
            **_outcome_paths(),  # issue 16: R15, R110, R113, R114
            **_trend_paths(),  # issue 16: R112
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
                "Problem": {"type": "object", "properties": {"file": {"type": "string"}, "element": {"type": ["string", "null"]}, "message": {"type": "string"}, "fix": {"type": "string"},
                                                             "severity": {"type": "string", "enum": ["error", "warning"], "description": "warnings do not stop a deploy"}}},
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
