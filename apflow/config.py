"""Settings read from APFLOW_* environment variables, with defaults that run on one machine."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# Run from a checkout, the lifecycle diagrams and forms are its bpmn/ and forms/ and instance/ sits beside
# them. Installed from a wheel (ROOT is then site-packages), the copies shipped in apflow/data/ are used
# (setup.py puts them there) and instance/ is under the working directory.
FROM_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "bpmn").is_dir()
DEFAULT_BPMN_DIR = ROOT / "bpmn" if FROM_CHECKOUT else PACKAGE / "data" / "bpmn"
DEFAULT_FORMS_DIR = ROOT / "forms" if FROM_CHECKOUT else PACKAGE / "data" / "forms"


def default_instance_dir() -> Path:
    return ROOT / "instance" if FROM_CHECKOUT else Path.cwd() / "instance"


DEFAULT_ORGANISATION_NAME = "Our school"


def organisation_name(env=None) -> str:
    """The name the installation's own organisation gets when it is first made (APFLOW_ORGANISATION_NAME; issue 17)."""
    env = os.environ if env is None else env
    return (env.get("APFLOW_ORGANISATION_NAME") or "").strip()[:200] or DEFAULT_ORGANISATION_NAME


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def private_folder(path: Path) -> None:
    """Create a folder only its owner can open (the instance folder holds the database and the secret key)."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass
class Settings:
    database_url: str = ""
    forms_dir: Path = DEFAULT_FORMS_DIR
    bpmn_dir: Path = DEFAULT_BPMN_DIR
    instance_dir: Path = field(default_factory=default_instance_dir)
    secret_key: str = ""
    run_scheduler: bool = True
    sweep_seconds: float = 30.0
    script_seconds: float = 1.0
    engine_processes: int = 2  # worker processes that run diagram code (apflow/engine/workers.py); 0 runs it in this process
    max_diagram_bytes: int = 2 * 1024 * 1024
    token_hours: float = 8.0  # an API token from POST /api/v1/tokens works this long (a working day)
    https: bool = False  # served over HTTPS (behind a TLS proxy): cookies are sent only over HTTPS
    trusted_proxies: int = 0  # reverse proxies in front that set X-Forwarded-For/-Proto; 0 trusts none
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "apflow@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 10.0  # seconds one SMTP command may take before the connection is dropped
    outbox_seconds: float = 5.0  # how often the scheduler sends the outbox: delivery resumes this soon after SMTP returns
    mail_retry_cap_seconds: float = 30.0  # the longest wait between two tries of an e-mail the mail server refused for now (4xx)
    mail_max_attempts: int = 20  # tries before an e-mail refused for now goes dead (a 5xx refusal goes dead at once)
    db_connect_timeout: float = 5.0  # PostgreSQL: seconds to open a connection (at least 2)
    db_pool_timeout: float = 10.0  # seconds a request waits for a free database connection
    db_statement_timeout: float = 30.0  # PostgreSQL: longest statement; SQLite: longest wait for the write lock; 0 = none
    base_url: str = "http://127.0.0.1:5000"
    escalation_grace_hours: float = 24.0
    concern_response_minutes: int = 60  # a safeguarding concern's response is due this long after it is raised, any hour (R80)
    log_level: str = "WARNING"
    # registers (issue 15: R71): a register still missing this long after its session starts chases the provider, and
    # this long again tells the school; attendance below the percentage over four weeks, or this many lates in the
    # number of days, opens a review
    register_missing_minutes: int = 30
    register_school_minutes: int = 30
    attendance_review_percent: float = 90.0
    lateness_review_count: int = 3
    lateness_review_days: int = 14
    lesson_reminder_time: str = "18:00"  # UK time on the school day before a session: families' lesson reminder e-mails (R7)
    digest_time: str = "17:00"  # UK time: the daily digest e-mail of notifications people chose to receive that way
    # retention (issue 16: R111): how long records are kept; child-protection records are kept until the pupil's 25th
    # birthday (guidance, not a setting). The daily run deletes what has fallen due after retention_time (UK time).
    retention_placement_years: int = 6  # a placement's file, from the day it ended
    retention_register_years: int = 6  # register marks, from the day of the session (the 2024 attendance regulations)
    retention_read_log_years: int = 6  # read-log entries, from the read
    retention_time: str = "02:00"
    compliance_renewal_days: int = 30  # a provider's compliance document opens its renewal task this many days before it expires
    # service tasks (issue 17, docs/operations.md): where a diagram's webhooks may post (comma-separated URL prefixes; empty:
    # none) and which fixed addresses its e-mails may go to besides roles (addresses or @domain); webhook delivery
    webhook_allowlist: str = ""
    email_allowlist: str = ""
    webhook_timeout: float = 10.0  # seconds one webhook POST may take
    webhook_max_attempts: int = 10  # tries before a webhook goes dead
    webhook_retry_cap_seconds: float = 600.0  # the longest wait between two tries of a webhook
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env=None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        instance_dir = Path(env.get("APFLOW_INSTANCE_DIR") or default_instance_dir())
        settings = cls(
            database_url=env.get("APFLOW_DATABASE_URL") or f"sqlite:///{instance_dir / 'apflow.sqlite3'}",
            forms_dir=Path(env.get("APFLOW_FORMS_DIR", DEFAULT_FORMS_DIR)),
            bpmn_dir=Path(env.get("APFLOW_BPMN_DIR", DEFAULT_BPMN_DIR)),
            instance_dir=instance_dir,
            secret_key=env.get("APFLOW_SECRET_KEY", ""),
            run_scheduler=_bool(env.get("APFLOW_RUN_SCHEDULER"), True),
            sweep_seconds=float(env.get("APFLOW_SWEEP_SECONDS", 30)),
            script_seconds=float(env.get("APFLOW_SCRIPT_SECONDS", 1.0)),
            engine_processes=int(env.get("APFLOW_ENGINE_PROCESSES", 2)),
            max_diagram_bytes=int(env.get("APFLOW_MAX_DIAGRAM_BYTES", 2 * 1024 * 1024)),
            token_hours=float(env.get("APFLOW_TOKEN_HOURS", 8)),
            https=_bool(env.get("APFLOW_HTTPS"), False),
            trusted_proxies=int(env.get("APFLOW_TRUSTED_PROXIES", 0)),
            smtp_host=env.get("APFLOW_SMTP_HOST", ""),
            smtp_port=int(env.get("APFLOW_SMTP_PORT", 25)),
            smtp_user=env.get("APFLOW_SMTP_USER", ""),
            smtp_password=env.get("APFLOW_SMTP_PASSWORD", ""),
            smtp_from=env.get("APFLOW_SMTP_FROM", "apflow@localhost"),
            smtp_starttls=_bool(env.get("APFLOW_SMTP_STARTTLS"), False),
            smtp_ssl=_bool(env.get("APFLOW_SMTP_SSL"), False),
            smtp_timeout=float(env.get("APFLOW_SMTP_TIMEOUT", 10)),
            outbox_seconds=float(env.get("APFLOW_OUTBOX_SECONDS", 5)),
            mail_retry_cap_seconds=float(env.get("APFLOW_MAIL_RETRY_CAP_SECONDS", 30)),
            mail_max_attempts=int(env.get("APFLOW_MAIL_MAX_ATTEMPTS", 20)),
            db_connect_timeout=float(env.get("APFLOW_DB_CONNECT_TIMEOUT", 5)),
            db_pool_timeout=float(env.get("APFLOW_DB_POOL_TIMEOUT", 10)),
            db_statement_timeout=float(env.get("APFLOW_DB_STATEMENT_TIMEOUT", 30)),
            base_url=env.get("APFLOW_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            escalation_grace_hours=float(env.get("APFLOW_ESCALATION_GRACE_HOURS", 24)),
            concern_response_minutes=int(env.get("APFLOW_CONCERN_RESPONSE_MINUTES", 60)),
            log_level=(env.get("APFLOW_LOG_LEVEL") or "WARNING").strip().upper(),
            register_missing_minutes=int(env.get("APFLOW_REGISTER_MISSING_MINUTES", 30)),
            register_school_minutes=int(env.get("APFLOW_REGISTER_SCHOOL_MINUTES", 30)),
            attendance_review_percent=float(env.get("APFLOW_ATTENDANCE_REVIEW_PERCENT", 90)),
            lateness_review_count=int(env.get("APFLOW_LATENESS_REVIEW_COUNT", 3)),
            lateness_review_days=int(env.get("APFLOW_LATENESS_REVIEW_DAYS", 14)),
            lesson_reminder_time=(env.get("APFLOW_LESSON_REMINDER_TIME") or "18:00").strip(),
            digest_time=(env.get("APFLOW_DIGEST_TIME") or "17:00").strip(),
            retention_placement_years=int(env.get("APFLOW_RETENTION_PLACEMENT_YEARS", 6)),
            retention_register_years=int(env.get("APFLOW_RETENTION_REGISTER_YEARS", 6)),
            retention_read_log_years=int(env.get("APFLOW_RETENTION_READ_LOG_YEARS", 6)),
            retention_time=(env.get("APFLOW_RETENTION_TIME") or "02:00").strip(),
            compliance_renewal_days=int(env.get("APFLOW_COMPLIANCE_RENEWAL_DAYS", 30)),
            webhook_allowlist=(env.get("APFLOW_WEBHOOK_ALLOWLIST") or "").strip(),
            email_allowlist=(env.get("APFLOW_EMAIL_ALLOWLIST") or "").strip(),
            webhook_timeout=float(env.get("APFLOW_WEBHOOK_TIMEOUT", 10)),
            webhook_max_attempts=int(env.get("APFLOW_WEBHOOK_MAX_ATTEMPTS", 10)),
            webhook_retry_cap_seconds=float(env.get("APFLOW_WEBHOOK_RETRY_CAP_SECONDS", 600)),
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings

    def ensure_secret_key(self) -> str:
        """A stable secret: from the environment, else generated once into instance/secret_key."""
        if self.secret_key:
            return self.secret_key
        private_folder(self.instance_dir)
        path = self.instance_dir / "secret_key"
        if not path.exists():
            import secrets

            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key
