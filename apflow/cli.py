"""The `apflow` command: a thin layer over the services."""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from apflow.config import Settings
from apflow.engine.problems import InvalidDiagram
from apflow.logs import LogLevelError, setup_logging


def _core():
    from apflow.services.core import Core

    return Core(Settings.from_env())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", metavar="LEVEL", default=None,
              help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: APFLOW_LOG_LEVEL, else WARNING). "
                   "INFO and DEBUG also show the libraries' lines, e.g. SpiffWorkflow's per task.")
def main(log_level):
    """apflow: BPMN workflows for alternative provision placements.

    The database comes from APFLOW_DATABASE_URL (default: a SQLite file under instance/).
    """
    try:
        setup_logging(log_level)
    except LogLevelError as err:
        raise click.BadParameter(str(err), param_hint="'--log-level'" if log_level is not None else "APFLOW_LOG_LEVEL") from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
@click.option("--scheduler/--no-scheduler", default=None,
              help="Fire timers in this process (default: yes, unless APFLOW_RUN_SCHEDULER=false; use --no-scheduler when `apflow scheduler` runs separately).")
def serve(host, port, threads, scheduler):
    """Run the web application (browser pages and the JSON API)."""
    from waitress import serve as waitress_serve

    from apflow.web import create_app, settle_heap

    core = _core()
    core.db.upgrade()
    app = create_app(core=core, run_scheduler=scheduler)
    core.steps.warm_up()  # the engine's worker processes start now, not on the first person's step
    settle_heap()
    click.echo(f"apflow is listening on http://{host}:{port}/ (timers fired here: {'yes' if 'apflow_scheduler' in app.extensions else 'no'})")
    waitress_serve(app, host=host, port=port, threads=threads, ident="apflow")


@main.command()
@click.option("--sweep-seconds", type=float, default=None, help="How often to look for due timers committed elsewhere (default APFLOW_SWEEP_SECONDS or 30).")
def scheduler(sweep_seconds):
    """Run only the timer scheduler (then start web processes with --no-scheduler)."""
    from apflow.scheduler import TimerScheduler

    core = _core()
    core.db.upgrade()
    runner = TimerScheduler(core, sweep_seconds=sweep_seconds)
    core.steps.warm_up()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    click.echo("apflow scheduler running; Ctrl-C to stop.")
    stop.wait()
    runner.shutdown()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths):
    """Check .bpmn diagrams and form .json files (files or folders); print every problem or 'ok'."""
    from apflow.services.processes import check_paths

    result, _ = check_paths(_core(), list(paths))
    for problem in result.errors:
        click.echo(str(problem))
    for problem in result.warnings:  # after the errors, each line starting "warning:"; they do not fail the check
        click.echo(str(problem))
    if not result.ok:
        click.echo(f"{len(result.errors)} error(s) and {len(result.warnings)} warning(s) found.", err=True)
        sys.exit(1)
    click.echo(f"ok, with {len(result.warnings)} warning(s)" if result.warnings else "ok")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--note", default="", help="Why this version was deployed (kept with the version).")
@click.option("--by", "by", default="cli", show_default=True, help="Who is deploying (recorded with the version).")
def deploy(paths, note, by):
    """Validate, then store a new version of each changed process."""
    from apflow.services.processes import deploy_paths

    core = _core()
    core.db.upgrade()
    try:
        deployed = deploy_paths(core, list(paths), by=by, note=note)
    except InvalidDiagram as err:
        for problem in err.problems:
            click.echo(str(problem))
        click.echo("Nothing was deployed.", err=True)
        sys.exit(1)
    warned = set()
    for item in deployed:
        state = "deployed as version" if item.created else "unchanged, still version"
        click.echo(f"{item.process_id}: {state} {item.version}")
        for warning in item.warnings:
            line = f"warning: {warning['file']}{': ' + warning['element'] if warning['element'] else ''}: {warning['message']} Fix: {warning['fix']}"
            if line not in warned:
                warned.add(line)
                click.echo(line)


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Create or migrate the database schema to the newest version."""
    core = _core()
    core.db.upgrade()
    click.echo(f"database is up to date ({core.db.engine.url.render_as_string(hide_password=True)})")


@main.group()
def users():
    """People and their roles."""


@users.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeatable), by key or title: coordinator or \"AP Coordinator\", headteacher, dsl, deputy_dsl, senco, "
                   "provider, la_officer, parent, pupil, manager, or a custom role of their organisation (`apflow roles list`).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input (keeps it out of shell history).")
@click.option("--display-name", default="", help="The name shown to colleagues.")
@click.option("--email", default=None, help="E-mail address for notifications.")
@click.option("--organisation", "organisations", multiple=True,
              help="An organisation the user belongs to (repeatable; see `apflow organisations list`); they see only its "
                   "placements. Without it they join the installation's own organisation.")
def users_create(name, roles, password_stdin, display_name, email, organisations):
    """Create a user NAME with one or more roles."""
    from apflow.errors import ServiceError
    from apflow.services import users as user_service

    password = sys.stdin.readline().rstrip("\r\n")
    core = _core()
    core.db.upgrade()
    try:
        user_service.create_user(core, name, password, list(roles), display_name=display_name, email=email,
                                 organisations=list(organisations))
    except ServiceError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"created user {name} with role(s) {', '.join(sorted(set(roles)))}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
def users_set_password(name, password_stdin):
    """Set a new password for NAME (also unlocks an account locked after failed sign-ins)."""
    from apflow.errors import ServiceError
    from apflow.services import users as user_service

    password = sys.stdin.readline().rstrip("\r\n")
    core = _core()
    try:
        user_service.set_password(core, name, password)
    except ServiceError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"password of {name} changed")


@main.group()
def organisations():
    """The schools, LAs and providers this installation serves (issue 17)."""


@organisations.command("list")
def organisations_list():
    """Every organisation: id, kind, members; the installation's own is marked."""
    from apflow.services import organisations as organisation_service

    core = _core()
    core.db.upgrade()
    for org in organisation_service.all_organisations(core):
        own = "  (the installation's own: people added without an organisation join it)" if org["is_default"] else ""
        click.echo(f"{org['id']}\t{org['kind']}\t{org['name']}\t{org['members']} member(s){own}")


@organisations.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["school", "la", "provider"]), help="What kind of organisation it is.")
def organisations_add(name, kind):
    """Add an organisation NAME; then give it people with `apflow users create --organisation NAME`."""
    from apflow.errors import ServiceError
    from apflow.services import organisations as organisation_service

    core = _core()
    core.db.upgrade()
    try:
        added = organisation_service.add_organisation_as_operator(core, name, kind)
    except ServiceError as err:
        click.echo(err.message, err=True)
        fields = err.details.get("fields", {}) if isinstance(err.details, dict) else {}
        for problems in fields.values():
            click.echo("  " + " ".join(problems), err=True)
        sys.exit(1)
    click.echo(f"added {added['kind_title'].lower()} {added['name']} (id {added['id']})")


@main.group()
def calendar():
    """School-term dates, INSET days and bank holidays used by calendar deadlines."""


@calendar.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--by", default="cli", show_default=True, help="Who is changing the dates (recorded).")
def calendar_import(file, by):
    """Replace the term dates from a CSV file with columns kind,name,start,end.

    kind is term, half_term, inset or bank_holiday; dates are YYYY-MM-DD. England and Wales bank
    holidays are added automatically; a bank_holiday row adds one, and a row named '-' removes one.
    """
    from apflow.errors import ServiceError
    from apflow.services import calendars

    core = _core()
    core.db.upgrade()
    try:
        found = calendars.import_csv(core, file.read(), by=by)
    except ServiceError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    for start, end in found.term_windows():
        click.echo(f"term {start} to {end}")
    click.echo(f"{len(found.terms)} terms, {len(found.inset_days)} INSET days, {len(found.bank_holidays)} bank holidays saved")


@calendar.command("show")
def calendar_show():
    """Print the term dates in use."""
    from apflow.services import calendars

    core = _core()
    core.db.upgrade()
    found = calendars.current(core)
    if found is None:
        click.echo("No term dates set up yet: use `apflow calendar import FILE`.")
        sys.exit(1)
    for term in found.terms:
        click.echo(f"{term.name}: {term.start} to {term.end}, half-term {term.half_term_start} to {term.half_term_end}")
    for day in sorted(found.inset_days):
        click.echo(f"INSET day: {day}")
    for day, name in sorted(found.bank_holidays.items()):
        click.echo(f"bank holiday: {day} {name}")


@main.group()
def roles():
    """Roles: the built-in ones and those organisations add (issue 17), and who holds them."""


def _role_command(action):
    """Run a roles service call, printing its plain-words refusal instead of a traceback."""
    from apflow.errors import ServiceError

    core = _core()
    core.db.upgrade()
    try:
        return action(core)
    except ServiceError as err:
        click.echo(err.message, err=True)
        sys.exit(1)


@roles.command("list")
@click.option("--organisation", default=None, help="Whose custom roles to list (needed when there are several organisations).")
def roles_list(organisation):
    """The built-in roles and an organisation's custom roles, with what they carry and who holds them."""
    from apflow.services import roles as role_service

    listing = _role_command(lambda core: role_service.list_roles(core, None, role_service.organisation_named(core, organisation)))
    click.echo(f"Roles of {listing['organisation']['name']} (key, title, carries, held by):")
    for role in listing["builtin"]:
        click.echo(f"{role['key']}\t{role['title']}\t(built-in)\t{', '.join(h['username'] for h in role['holders']) or '-'}")
    for role in listing["custom"]:
        carries = ", ".join(c["key"] for c in role["carries"]) or "-"
        click.echo(f"{role['key']}\t{role['title']}\t{carries}\t{', '.join(h['username'] for h in role['holders']) or '-'}")


@roles.command("add")
@click.argument("title")
@click.option("--carries", multiple=True, help="A built-in role whose permissions it carries (repeatable), e.g. --carries dsl.")
@click.option("--organisation", default=None, help="The organisation it belongs to (needed when there are several).")
def roles_add(title, carries, organisation):
    """Add a custom role TITLE (e.g. "Attendance Officer"); lanes may then name it."""
    from apflow.services import roles as role_service

    added = _role_command(lambda core: role_service.create(core, None, title, list(carries), role_service.organisation_named(core, organisation)))
    carried = ", ".join(c["key"] for c in added["carries"]) or "nothing"
    click.echo(f"added role {added['key']} ({added['title']}), carrying {carried}")


@roles.command("remove")
@click.argument("name")
@click.option("--organisation", default=None, help="The organisation whose role it is (needed when there are several).")
def roles_remove(name, organisation):
    """Remove the custom role NAME (key or title), if nobody holds it and no deployed diagram names it."""
    from apflow.services import roles as role_service

    def remove(core):
        return role_service.delete(core, None, role_service.find(core, None, name, role_service.organisation_named(core, organisation)))
    click.echo(f"removed role {_role_command(remove)['title']}")


@roles.command("rename")
@click.argument("name")
@click.argument("title")
@click.option("--organisation", default=None, help="The organisation whose role it is (needed when there are several).")
def roles_rename(name, title, organisation):
    """Give the custom role NAME a new TITLE (its key, which lanes may use, stays)."""
    from apflow.services import roles as role_service

    def rename(core):
        return role_service.rename(core, None, role_service.find(core, None, name, role_service.organisation_named(core, organisation)), title)
    click.echo(f"role renamed to {_role_command(rename)['title']}")


@roles.command("give")
@click.argument("name")
@click.argument("username")
@click.option("--organisation", default=None, help="The organisation whose custom role it is (when the user works for several).")
def roles_give(name, username, organisation):
    """Give the role NAME (built-in or custom, key or title) to USERNAME."""
    from apflow.services import roles as role_service

    title = _role_command(lambda core: role_service.grant(core, name, username, role_service.organisation_named(core, organisation)))
    click.echo(f"{username} now holds {title}")


@roles.command("take")
@click.argument("name")
@click.argument("username")
@click.option("--organisation", default=None, help="The organisation whose custom role it is (when the user works for several).")
def roles_take(name, username, organisation):
    """Take the role NAME (built-in or custom) from USERNAME."""
    from apflow.services import roles as role_service

    title = _role_command(lambda core: role_service.revoke(core, name, username, role_service.organisation_named(core, organisation)))
    click.echo(f"{username} no longer holds {title}")


@main.command()
def demo():
    """Load the demo organisation, users and diagrams (safe to run again)."""
    from apflow.demo import load_demo

    for line in load_demo(_core()):
        click.echo(line)
