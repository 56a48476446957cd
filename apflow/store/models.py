"""The tables. Workflow state is JSON on the instance; everything people query is a row of its own."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and hands them back aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # school, la, provider
    # the installation's own organisation (issue 17): people added with no organisation join it; its processes are shared
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # an invitation to set a password, e-mailed by a manager: its hash until used, and when it lapses
    invite_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # signing out moves the epoch on, ending every browser session of this person; a new password ends tokens too
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credentials_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    roles: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    memberships: Mapped[list["UserOrganisation"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        """The roles this person works as: those they hold, and the built-in roles their custom roles carry (a
        'Deputy Head' carrying headteacher). Loaded with the person, so checking them costs no query."""
        names = {r.role for r in self.roles}
        for held in self.roles:
            if held.custom_role_id is not None and held.custom is not None:
                names.update(held.custom.carries or ())
        return names

    @property
    def held_role_names(self) -> set[str]:
        """The roles given to this person (built-in keys and custom roles' keys), without what the custom ones carry."""
        return {r.role for r in self.roles}

    @property
    def organisation_ids(self) -> set[int]:
        return {m.organisation_id for m in self.memberships}


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    # a custom role's row (its key is `role`); None for a built-in role
    custom_role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), nullable=True, index=True)
    custom: Mapped["CustomRole | None"] = relationship(lazy="selectin")


class CustomRole(Base):
    """A role an organisation defined (issue 17): 'Deputy Head' carrying the headteacher's permissions. Its key is made
    from its title and names it in lanes, tasks and user_roles; built-in roles stay in apflow/roles.py."""
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("organisation_id", "key", name="uq_roles_organisation_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(80))
    carries: Mapped[list] = mapped_column(JSON)  # built-in role keys whose permissions holders get
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))


class UserOrganisation(Base):
    __tablename__ = "user_organisations"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ProcessVersion(Base):
    """One deployed version of a process: its source, parsed spec and forms, stored once.

    The three large columns are loaded only when read: an instance step needs the version's id (the
    parsed spec and forms are cached per version by the app), not hundreds of kilobytes of JSON.
    """
    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(300))
    sources: Mapped[dict] = mapped_column(JSON, deferred=True)  # file name -> BPMN XML text of the process and what it calls
    spec: Mapped[dict] = mapped_column(JSON, deferred=True)
    forms: Mapped[dict] = mapped_column(JSON, deferred=True)  # form file name -> parsed JSON
    start_lane: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    # the organisation that owns the process (issue 17): only its managers deploy new versions; the default one's are shared
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True)


class Instance(Base):
    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, completed, error
    state: Mapped[dict] = mapped_column(JSON)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_action: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    provider_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    version: Mapped[ProcessVersion] = relationship(lazy="joined")
    # Who started it, read with the row (usernames never change) rather than by a query of its own.
    started_by_name: Mapped[str | None] = column_property(
        select(User.username).where(User.id == started_by).scalar_subquery(), expire_on_flush=False)

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Base):
    """A task for a person, derived from the workflow after every step; the inbox reads these."""
    __tablename__ = "human_tasks"
    __table_args__ = (
        # Each ends with the whole list order (sort_due, created_at, id): a page is read off the index even
        # where thousands of tasks share a due time (every task without one shares the far future).
        Index("ix_human_tasks_ready_role", "state", "role", "sort_due", "created_at", "id"),
        # Partial: most ready tasks are unassigned, and the planner should see how few rows "mine" touches.
        Index("ix_human_tasks_ready_assignee", "assignee_id", "state", "sort_due", "created_at", "id",
              sqlite_where=text("assignee_id IS NOT NULL"), postgresql_where=text("assignee_id IS NOT NULL")),
        Index("ix_human_tasks_ready_due", "state", "sort_due", "created_at", "id"),
        Index("ix_human_tasks_ready_owner", "owner_id", "state", "sort_due", "created_at", "id",  # tasks someone delegated
              sqlite_where=text("owner_id IS NOT NULL"), postgresql_where=text("owner_id IS NOT NULL")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str | None] = mapped_column(String(40), nullable=True)
    form_schema: Mapped[str | None] = mapped_column(String(300), nullable=True)
    form_ui_schema: Mapped[str | None] = mapped_column(String(300), nullable=True)
    documentation: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(20))  # ready, completed, cancelled
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # due_at, or the far future for tasks with no due date: one non-null column the inbox indexes sort on.
    sort_due: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: NO_DUE_DATE)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    due_soon_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pupil_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pupil_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    provider_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deadline_by_diagram: Mapped[bool] = mapped_column(Boolean, default=False)
    escalate_to: Mapped[str | None] = mapped_column(String(200), nullable=True)  # roles told when overdue, in turn (`escalateTo`)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # who delegated it and may take it back
    # what the person answered, as they answered it, child-protection fields removed (R81): the placement file reads it
    answers: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class TaskDraft(Base):
    """Answers a person saved on a task without completing it."""
    __tablename__ = "task_drafts"
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SavedFilter(Base):
    """An inbox filter a person named and kept."""
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))


class Document(Base):
    """A file uploaded on a placement, e.g. a signed Key Information Document or consent form."""
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)  # a child-protection attachment (R81)


class DeadlineAlert(Base):
    """A reminder or escalation the engine raises for a task's due time when the diagram models none."""
    __tablename__ = "deadline_alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    human_task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # reminder, escalation, second_escalation
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending, done, cancelled
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Declared so that one flush writes a new task before its alerts; never loaded through.
    task: Mapped["HumanTask"] = relationship(lazy="raise")


class Escalation(Base):
    """A missed deadline put in front of managers (level 1) and then the headteacher (level 2)."""
    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    human_task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(40), index=True)
    task_name: Mapped[str] = mapped_column(String(300))
    missed_by: Mapped[str] = mapped_column(String(200))
    overdue_since: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open, acknowledged, resolved
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """An in-app message for one person."""
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    link: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the page it is about, a path such as /tasks/<id>


class OutboxEmail(Base):
    """An e-mail written in the same transaction as its cause and sent later, so none is lost when SMTP is down."""
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # given up on: managers see and resend it
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # one sender's lease on this message


class IdempotencyKey(Base):
    """The answer to a request that created something, kept so the same request sent again gets the same answer."""
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", "scope", name="uq_idempotency_keys_user_key_scope"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(300))  # method and path
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None while the first request runs
    response: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SchoolCalendarRecord(Base):
    """An organisation's term dates, INSET days and bank holidays (one row per organisation; null = default)."""
    __tablename__ = "school_calendars"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True, unique=True)
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))


class PendingTimer(Base):
    """A timer the workflow waits on; the scheduler reads these, never the workflow JSON."""
    __tablename__ = "pending_timers"
    # The scheduler's question, "what falls due next", is answered from this index (migration 0008).
    __table_args__ = (Index("ix_pending_timers_next_at", text("coalesce(retry_at, due_at)")),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the waiting task's id
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # duration, date, cycle
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attached_to: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the task a boundary timer watches


class Event(Base):
    """Append-only history of an instance: who did what, when, and which data keys changed."""
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    task_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class ProcessDraft(Base):
    """The working copy of a process diagram that managers edit in the browser; never run until deployed.

    `revision` goes up by one on every save; a save must name the revision it started from, so a
    save over someone else's newer one is refused instead of silently overwriting it.
    """
    __tablename__ = "process_drafts"
    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_file: Mapped[str] = mapped_column(String(300))
    xml: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the deployed version it was last in step with


class FormDraft(Base):
    """A task form (JSON Schema or UI schema) edited in the browser; deployed with the next version of each process using it."""
    __tablename__ = "form_drafts"
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))


class ProcessChange(Base):
    """The record of every save, upload, deploy, rollback and bulk move in the process library."""
    __tablename__ = "process_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    form_name: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))  # saved, uploaded, deployed, rolled_back, migrated, form_saved
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)  # the saved diagram or form, so any save can be recovered
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# -- notification preferences and the daily digest (issue 15, point 7) -------------------------------------------


class NotificationPreference(Base):
    """How one person wants one kind of notification: immediate (in the app and by e-mail now), digest (in the app
    now, by e-mail once a day) or in_app (no e-mail); for lesson reminders, immediate (on) or off. No row: immediate.
    Safety alerts ignore it (apflow.store.outbox.SAFETY_KINDS)."""
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_notification_preferences_user_kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestItem(Base):
    """A notification waiting for its person's daily digest e-mail: only the e-mail's words (never the in-app text,
    which may name a pupil), sent once, marked with the moment it went."""
    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_user_sent", "user_id", "sent_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# -- webhooks of service tasks (issue 17) ---------------------------------------------------------------------------


class OutboxWebhook(Base):
    """A webhook a service task asked for, written in the step's transaction and posted later by the scheduler (never
    while the step holds the placement), tried again after a failure until webhook_max_attempts, then dead."""
    __tablename__ = "webhook_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True, index=True)
    element: Mapped[str] = mapped_column(String(200))  # the service task's id in its diagram
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the HTTP status of the last answer
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # one sender's lease
