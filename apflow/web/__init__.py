"""The Flask application: JSON API under /api/v1 and the browser pages."""
from __future__ import annotations

from flask import Flask

from apflow.clock import uk_time
from apflow.config import Settings
from apflow.roles import role_title
from apflow.services.core import Core

from . import api, assets, auth, inbox, modeler, pages, people, safeguarding


def create_app(settings: Settings | None = None, core: Core | None = None, run_scheduler: bool | None = None) -> Flask:
    core = core or Core(settings)
    settings = core.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.ensure_secret_key(),
        MAX_CONTENT_LENGTH=settings.max_diagram_bytes * 3,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    app.extensions["apflow"] = core
    app.jinja_env.filters["local_time"] = uk_time
    app.jinja_env.filters["role_title"] = role_title
    auth.init_app(app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(pages.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(modeler.api_bp, url_prefix="/api/v1")
    app.register_blueprint(safeguarding.bp)
    app.register_blueprint(safeguarding.api_bp, url_prefix="/api/v1")
    app.register_blueprint(people.bp)
    api.register_error_handlers(app)
    if run_scheduler if run_scheduler is not None else settings.run_scheduler:
        from apflow.scheduler import TimerScheduler

        scheduler = TimerScheduler(core)
        scheduler.start()
        app.extensions["apflow_scheduler"] = scheduler
    return app
