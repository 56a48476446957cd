"""The Flask application: JSON API under /api/v1 and the browser pages."""
from __future__ import annotations

import gc

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from apflow.clock import uk_time
from apflow.config import Settings
from apflow.roles import role_title
from apflow.services import roles as custom_roles
from apflow.services.core import Core

from . import (
    api,
    assets,
    auth,
    compliance,
    data_protection,
    evidence,
    exports,
    family,
    governors,
    guards,
    idempotency,
    inbox,
    lessons,
    mail,
    modeler,
    organisations,
    pages,
    people,
    provider_side,
    roles,
    safeguarding,
    trends,
)
from . import registers as registers_pages

# A request makes tens of thousands of short-lived objects (a restored workflow is a graph of tasks pointing at each
# other): collecting the youngest generation every 700 of them spends time on objects still in use; every 50,000
# keeps what is garbage small (a few MB) and collects it in fewer, larger sweeps (bench/gc_young.py, docs/performance.md).
YOUNG_GENERATION_OBJECTS = 50_000


def settle_heap() -> None:
    """Once the app is built in a web process: set aside what start-up made (modules, parsed specs, mappers) so the
    collector never walks it again, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_OBJECTS, 20, 20)


def create_app(settings: Settings | None = None, core: Core | None = None, run_scheduler: bool | None = None) -> Flask:
    core = core or Core(settings)
    settings = core.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.ensure_secret_key(),
        MAX_CONTENT_LENGTH=settings.max_diagram_bytes * 3,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies:  # client address and scheme from the proxies' X-Forwarded-* headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    app.after_request(_security_headers)
    app.extensions["apflow"] = core
    app.jinja_env.filters["local_time"] = uk_time
    app.jinja_env.filters["role_title"] = lambda key: custom_roles.title_of(core, key) if key else role_title(key)
    custom_roles.load_catalogue(core)  # custom roles' titles for pages (issue 17); kept fresh as managers change them
    auth.init_app(app)
    guards.init_app(app)  # before the blueprints: malformed requests get a 400, ids are bounded to 64 bits
    idempotency.init_app(app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(auth.api_bp, url_prefix="/api/v1")
    app.register_blueprint(pages.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(modeler.api_bp, url_prefix="/api/v1")
    app.register_blueprint(safeguarding.bp)
    app.register_blueprint(safeguarding.api_bp, url_prefix="/api/v1")
    app.register_blueprint(people.bp)
    app.register_blueprint(organisations.bp)  # organisations and their members (issue 17)
    app.register_blueprint(organisations.api_bp, url_prefix="/api/v1")
    app.register_blueprint(mail.bp)
    app.register_blueprint(registers_pages.bp)  # registers and whereabouts (issue 15)
    app.register_blueprint(registers_pages.api_bp, url_prefix="/api/v1")
    app.register_blueprint(family.bp)  # families, the LA officer, notification settings (issue 15)
    app.register_blueprint(family.api_bp, url_prefix="/api/v1")
    app.register_blueprint(lessons.bp)  # lesson reports, materials, pupil views (issue 15)
    app.register_blueprint(lessons.api_bp, url_prefix="/api/v1")
    app.register_blueprint(provider_side.bp)  # the provider's own side: referral decisions, plan sign-off, notices (issue 15)
    app.register_blueprint(provider_side.api_bp, url_prefix="/api/v1")
    # trends with charts, tables and CSV (issue 16: R112)
    app.register_blueprint(trends.bp)
    app.register_blueprint(trends.api_bp, url_prefix="/api/v1")
    app.register_blueprint(evidence.bp)
    # registers as CSV/XLSX and the school census AP return (issue 16, part 4)
    app.register_blueprint(exports.bp)
    app.register_blueprint(exports.api_bp, url_prefix="/api/v1")
    # provider compliance documents with expiry dates (issue 16: R25)
    app.register_blueprint(compliance.bp)
    app.register_blueprint(compliance.api_bp, url_prefix="/api/v1")
    # the read log, who looked at a pupil, subject access, retention (issue 16: R111)
    data_protection.init_app(app)
    app.register_blueprint(data_protection.bp)
    app.register_blueprint(data_protection.api_bp, url_prefix="/api/v1")
    # exams, destination checks, the governors' report, the policy review (issue 16: R15, R101, R110, R113, R114)
    app.register_blueprint(governors.bp)
    app.register_blueprint(governors.api_bp, url_prefix="/api/v1")
    app.register_blueprint(roles.bp)  # custom roles and who holds them (issue 17)
    app.register_blueprint(roles.api_bp, url_prefix="/api/v1")
    api.register_error_handlers(app)
    if run_scheduler if run_scheduler is not None else settings.run_scheduler:
        from apflow.scheduler import TimerScheduler

        scheduler = TimerScheduler(core)
        scheduler.start()
        app.extensions["apflow_scheduler"] = scheduler
    return app


# Scripts and styles only from the app's own files (no inline script or style: the templates use none, and bpmn-js
# styles through the DOM, which the policy allows), nothing framed, no plugins, forms posting only back to the app.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
