"""Domain tables of the AP lifecycle: what outlives one process and is searched and reported on across placements.

They share `Base.metadata` with the workflow tables, so migrations and tests see one schema. Workflow data
refers to these rows by id (placement_id, pupil_id, provider_id).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from apflow.store.models import Base, UTCDateTime


class Pupil(Base):
    __tablename__ = "pupils"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    school: Mapped[str] = mapped_column(String(200), default="")
    ehcp: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the pupil's own school or LA: its DSLs hold the child-protection file and are the ones alerted (R81)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)


RELATIONSHIPS = {"mother": "Mother", "father": "Father", "carer": "Carer", "guardian": "Guardian", "foster_carer": "Foster carer",
                 "kinship_carer": "Kinship carer", "social_worker": "Social worker", "other": "Other"}


class PupilContact(Base):
    """A parent, carer or other adult to contact about a pupil; linked to their apflow account once they have one."""
    __tablename__ = "pupil_contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    parental_responsibility: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(80))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # an invitation to set a password, sent to the e-mail address: its hash until used, and when it lapses
    invite_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


PROFESSIONAL_ROLES = {"social_worker": "Social worker", "virtual_school_head": "Virtual School Head", "camhs": "CAMHS",
                      "youth_justice": "Youth justice worker", "ehc_coordinator": "EHC plan coordinator",
                      "educational_psychologist": "Educational psychologist", "school_nurse": "School nurse", "other": "Other"}


class PupilProfessional(Base):
    """A professional involved with the pupil and family, who is kept informed (R13)."""
    __tablename__ = "pupil_professionals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(80))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProfessionalUpdate(Base):
    """What a professional was told, and when (R13: kept accurately informed)."""
    __tablename__ = "professional_updates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("pupil_professionals.id", ondelete="CASCADE"), index=True)
    told_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class Provider(Base):
    """An AP provider; on the approved-provider register (R22) once status is 'approved'."""
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True)  # proposed, approved, not_approved, withdrawn
    criteria: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # R20
    criteria_met: Mapped[bool] = mapped_column(Boolean, default=False)
    due_diligence: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # R21 steps 1-7
    due_diligence_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    due_diligence_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    requires_rlp: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # the provider's policy (R54)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderSite(Base):
    """Every address a pupil may be taught at: the provider's own, satellite and subcontracted sites (R22, R62)."""
    __tablename__ = "provider_sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # main, satellite, subcontracted


class QaVisit(Base):
    __tablename__ = "qa_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    term: Mapped[str] = mapped_column(String(60), default="")
    quality: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))
    findings: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class ServiceLevelAgreement(Base):
    """The written agreement with a provider (R30); in force once the provider has signed it."""
    __tablename__ = "service_level_agreements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    contents: Mapped[dict] = mapped_column(JSON)
    notice_period_school_days: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft, in_force, changes_requested, superseded
    signed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Placement(Base):
    """One pupil's AP placement from referral to destination; its workflow instance drives it."""
    __tablename__ = "placements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True, index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    referred_by: Mapped[str] = mapped_column(String(20))  # school, la
    referrer_name: Mapped[str] = mapped_column(String(200), default="")
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # R1
    placement_type: Mapped[str] = mapped_column(String(40), default="part_time_ap", server_default="part_time_ap")  # R54
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    reason_details: Mapped[str] = mapped_column(Text, default="")
    la_officer_name: Mapped[str] = mapped_column(String(200), default="")  # R2
    la_officer_role: Mapped[str] = mapped_column(String(60), default="")
    learning_mentor: Mapped[bool] = mapped_column(Boolean, default=False)
    tutor_name: Mapped[str] = mapped_column(String(200), default="")
    mentor_name: Mapped[str] = mapped_column(String(200), default="")
    transport: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # R61
    equipment: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # R52
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    attendance_code: Mapped[str] = mapped_column(String(4), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(100))
    issued_by: Mapped[str] = mapped_column(String(20))  # la, school
    hours_per_week: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_pence: Mapped[int | None] = mapped_column(Integer, nullable=True)  # what the order commits (value for money)
    issued_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class TimetableSession(Base):
    """A weekly session and where it takes place, so the school knows where the pupil is (R4, R6, R62)."""
    __tablename__ = "timetable_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    starts: Mapped[str] = mapped_column(String(5))  # HH:MM, UK time
    ends: Mapped[str] = mapped_column(String(5))
    activity: Mapped[str] = mapped_column(String(200), default="")
    venue_kind: Mapped[str] = mapped_column(String(30))
    address: Mapped[str] = mapped_column(Text)


class Plan(Base):
    """A versioned plan: the personalised plan (R50), Relational Learning Plan (R5), Pupil Passport (R10)."""
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # personalised, relational_learning, pupil_passport
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class RiskAssessment(Base):
    __tablename__ = "risk_assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # placement, individual, review
    reason: Mapped[str] = mapped_column(String(30))  # initial, termly, incident, concern, change
    overall_risk: Mapped[str] = mapped_column(String(10), default="")
    content: Mapped[dict] = mapped_column(JSON)
    assessed_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class Consent(Base):
    """The consultation with parents or carers and their written consent (R40)."""
    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    consultation: Mapped[dict] = mapped_column(JSON, default=dict)
    given: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None until the parent answers
    signed_name: Mapped[str] = mapped_column(String(200), default="")
    signed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class KeyInformationDocument(Base):
    __tablename__ = "key_information_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    sent_on: Mapped[date] = mapped_column(Date)
    sent_to: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    signed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Review(Base):
    """Every review with its date and outcome (R78): commencement, half-termly, requested, concern, ..."""
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(40))
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class Assessment(Base):
    """Baseline (R70), progress reports and termly assessments against the plan (R75)."""
    __tablename__ = "assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # baseline, progress, termly
    assessed_on: Mapped[date] = mapped_column(Date)
    content: Mapped[dict] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class AttendanceRecord(Base):
    """One school day of the pupil's timetable: attendance, engagement and the lesson report (R71, R72, R7)."""
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("placement_id", "day", name="uq_attendance_day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(30))  # present, late, authorised_absence, unexplained_absence
    code: Mapped[str] = mapped_column(String(4))
    site_address: Mapped[str] = mapped_column(Text, default="")
    engagement: Mapped[dict] = mapped_column(JSON, default=dict)
    lesson_report: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    follow_up: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Communication(Base):
    """What parents, carers, the pupil, the LA and the school were told or asked, and what they said (R6, R7, R77)."""
    __tablename__ = "communications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    audience: Mapped[str] = mapped_column(String(100))
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class Concern(Base):
    """A safeguarding concern (R80). Child-protection detail lives only in cp_detail and dsl_notes (R81)."""
    __tablename__ = "concerns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), nullable=True, index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    child_protection: Mapped[bool] = mapped_column(Boolean, default=False)
    cp_detail: Mapped[str] = mapped_column(Text, default="")
    dsl_notes: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)  # open, responded, suspended, resolved
    decision: Mapped[str] = mapped_column(String(30), default="")
    referred_to: Mapped[list] = mapped_column(JSON, default=list)
    parents_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True, index=True)
    raised_by_name: Mapped[str] = mapped_column(String(200), default="")


class CpAccessGrant(Base):
    """The DSL's grant to one person to read one pupil's child-protection records (R81)."""
    __tablename__ = "cp_access_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    granted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CpRecord(Base):
    """One entry of a child's child-protection file (R81): a concern, the DSL's answers (every form field marked
    restricted lands here, never in process data), a referral, an action, an outcome or a document."""
    __tablename__ = "cp_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), nullable=True, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id", ondelete="SET NULL"), nullable=True, index=True)
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id", ondelete="SET NULL"), nullable=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # concern, answers, referral, action, outcome, document, note
    task_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), nullable=True)


class CpRead(Base):
    """Who opened which part of a child's child-protection file, and when (R111); the DSL reads this log."""
    __tablename__ = "cp_reads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    username: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    what: Mapped[str] = mapped_column(String(300))


class Incident(Base):
    """An incident of any kind at the provision (behaviour, injury, safeguarding, other): logged, and it opens a review
    of the plan and the risk assessment (R73, R76, R82)."""
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id", ondelete="SET NULL"), nullable=True, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text)
    action_taken: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    recorded_by_name: Mapped[str] = mapped_column(String(200), default="")
    review_opened: Mapped[bool] = mapped_column(Boolean, default=False)


class PlacementExit(Base):
    """How a placement ended: planned exit with the SLA's notice (R91) or emergency removal (R92)."""
    __tablename__ = "placement_exits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # planned, emergency
    started_on: Mapped[date] = mapped_column(Date)
    notice_period_school_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Destination(Base):
    """Where the pupil went next, and the transition support until they attend without it (R100, R101)."""
    __tablename__ = "destinations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    setting_name: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    transition_support: Mapped[bool] = mapped_column(Boolean, default=False)
    support_plan: Mapped[str] = mapped_column(Text, default="")
    attends_unaided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LogEntry(Base):
    """Every domain record written, by whom and when: a placement's (or provider's) history (R110, R111).

    Child-protection entries are marked restricted and shown only to those entitled (R81).
    """
    __tablename__ = "placement_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), nullable=True, index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), nullable=True, index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    task_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    record: Mapped[str | None] = mapped_column(String(40), nullable=True)  # table name of the row written
    record_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)


# -- lesson reports, lesson materials and staff-recorded pupil views (issue 15: R7, R63, R72, R115) ---------------


class LessonReport(Base):
    """A tutor's short report on one timetabled session of a pupil on one day: what was covered and how the pupil
    engaged (R72, R7). The session is named by its start time: timetables are rewritten, reports stay."""
    __tablename__ = "lesson_reports"
    __table_args__ = (UniqueConstraint("placement_id", "day", "starts", name="uq_lesson_reports_session_day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("timetable_sessions.id", ondelete="SET NULL"), nullable=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))
    activity: Mapped[str] = mapped_column(String(200), default="")
    covered: Mapped[str] = mapped_column(Text)
    participation: Mapped[int] = mapped_column(Integer)
    behaviour: Mapped[int] = mapped_column(Integer)
    relationships: Mapped[int] = mapped_column(Integer)
    progress: Mapped[int] = mapped_column(Integer)
    wellbeing: Mapped[int] = mapped_column(Integer)
    school_comment: Mapped[str] = mapped_column(Text, default="")  # for the school only: never shown to families
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    written_by: Mapped[str] = mapped_column(String(200))
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EngagementReview(Base):
    """One episode of repeated low engagement (R72): the review it opened, and when engagement recovered."""
    __tablename__ = "engagement_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_reports.id", ondelete="SET NULL"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LessonMaterial(Base):
    """A lesson plan or material the provider shares in advance; the school checks it before parents see it (R63)."""
    __tablename__ = "lesson_materials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # plan, material
    title: Mapped[str] = mapped_column(String(200))
    for_date: Mapped[date] = mapped_column(Date)
    whole_week: Mapped[bool] = mapped_column(Boolean, default=False)  # for the week beginning for_date
    description: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), nullable=True)
    confidentiality_agreed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), index=True)  # awaiting_check, checked, sent_back
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shared_by: Mapped[str] = mapped_column(String(200))
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_back_reason: Mapped[str] = mapped_column(Text, default="")


class PupilViewRecord(Base):
    """The pupil's views gathered by staff in a one-to-one discussion or an adapted questionnaire (R115)."""
    __tablename__ = "pupil_view_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(30))  # one_to_one, questionnaire
    adaptation: Mapped[str] = mapped_column(String(30), default="")  # read_aloud, symbols, simplified, other
    adaptation_detail: Mapped[str] = mapped_column(String(300), default="")
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # the questions of the pupil's own form
    pupil_words: Mapped[str] = mapped_column(Text)
    communication_id: Mapped[int | None] = mapped_column(ForeignKey("communications.id", ondelete="SET NULL"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


# -- families: lesson reminders the evening before (issue 15: R7) --------------------------------------------------


class LessonReminder(Base):
    """One parent's reminder e-mail for one day's sessions: written with the e-mail in one transaction, and unique per
    parent and day, so two schedulers (or a late catch-up) never send it twice."""
    __tablename__ = "lesson_reminders"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_lesson_reminders_user_day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    sessions: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- the provider's own side of the policy (issue 15: R12, R14, R24) ------------------------------------------------

class AdmissionCriteria(Base):
    """The provider's own admission policy (R12): the referral reasons it takes pupils for, the ages, and anything else
    it asks; shown to its staff beside each referral they decide on."""
    __tablename__ = "provider_admission_criteria"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), unique=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # referral reasons (Placement.reasons) it accepts
    age_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    age_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class ReferralDecision(Base):
    """A provider's decision on one referral against its admission criteria, before any allocation (R12)."""
    __tablename__ = "provider_referral_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # accepted, declined
    reason: Mapped[str] = mapped_column(Text, default="")
    criteria_met: Mapped[list] = mapped_column(JSON, default=list)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_by_name: Mapped[str] = mapped_column(String(200))


class PlanSignoff(Base):
    """The provider's quality check of one version of a Relational Learning Plan or Pupil Passport (R14): by a member
    of its staff other than the author wherever it has more than one."""
    __tablename__ = "plan_signoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), unique=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    checks: Mapped[list] = mapped_column(JSON, default=list)
    comments: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signed_by_name: Mapped[str] = mapped_column(String(200))


class EffectivenessReport(Base):
    """The provider's termly report to the commissioning school on how well its provision works (R14): each target
    met, partly met or not, what worked and what it will change."""
    __tablename__ = "provider_effectiveness_reports"
    __table_args__ = (UniqueConstraint("placement_id", "term", name="uq_effectiveness_report_term"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    term: Mapped[str] = mapped_column(String(60))
    targets: Mapped[list] = mapped_column(JSON, default=list)  # [{"target": ..., "status": met | partly | not_met}]
    what_worked: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    recorded_by_name: Mapped[str] = mapped_column(String(200))


class ArrangementNotice(Base):
    """The provider telling the commissioning school of an arrangement that may put the child at risk (R24), and the
    school's re-check of it (its own process, instance_id) with the outcome."""
    __tablename__ = "arrangement_notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    batch: Mapped[str] = mapped_column(String(40), index=True)  # notices sent together (a staff change affecting several pupils)
    kind: Mapped[str] = mapped_column(String(30))  # staff_change, site_change, new_adult, supervision_change, other
    summary: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[date] = mapped_column(Date)
    adult_name: Mapped[str] = mapped_column(String(200), default="")
    checks_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # the provider's safeguarding checks of a new adult
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reported_by_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="")  # satisfied, needs_changes, suspend
    outcome_notes: Mapped[str] = mapped_column(Text, default="")
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome_by_name: Mapped[str] = mapped_column(String(200), default="")


# -- registers: one mark per timetabled session, chased when missing, coded by the school (issue 15: R62, R71, R79) ---


class RegisterMark(Base):
    """One timetabled session of a running placement on one school day: what the provider reported (present, late by
    so many minutes, absent with a reason, a note), the code the school entered in its statutory register, and the
    school's follow-up of an absence (R71, R79). A row exists for every session the register was kept for, marked or
    not, so a missing register stays visible. Also where the pupil was (the session's site, R62)."""
    __tablename__ = "register_marks"
    # the chase and the missing list ask for unmarked sessions by start time: (status, starts_at) answers that without
    # stepping over every mark ever made
    __table_args__ = (UniqueConstraint("placement_id", "day", "starts", name="uq_register_marks_session_day"),
                      Index("ix_register_marks_status_starts_at", "status", "starts_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("timetable_sessions.id", ondelete="SET NULL"), nullable=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    starts: Mapped[str] = mapped_column(String(5))  # HH:MM, UK time
    ends: Mapped[str] = mapped_column(String(5))
    half: Mapped[str] = mapped_column(String(5))  # the statutory session(s) it counts for: AM, PM or AM+PM
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    activity: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(10), nullable=True)  # None until reported: present, late, absent
    minutes_late: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String(20), default="")  # why absent, as the provider knows it
    note: Mapped[str] = mapped_column(Text, default="")  # the provider's note, for the school only
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    marked_by: Mapped[str] = mapped_column(String(200), default="")
    code: Mapped[str | None] = mapped_column(String(4), nullable=True)  # School Attendance Regulations 2024 code
    coded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    coded_by: Mapped[str] = mapped_column(String(200), default="")
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    follow_up: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # what has been done about it, each claimed once (two schedulers never send the same alert)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # absence told to the school
    signalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # follow-up task asked for
    chased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # missing: provider chased
    school_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # still missing: school told


class RegisterBook(Base):
    """How far a placement's registers have been laid out (a row per session per school day while it runs), and the
    last day its attendance patterns were checked; days while it is suspended or stopped are passed over, not kept."""
    __tablename__ = "register_books"
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), primary_key=True)
    kept_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    patterns_checked_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class RegisterReview(Base):
    """A review asked for because of an attendance pattern (low attendance, repeated lateness), once per episode."""
    __tablename__ = "register_reviews"
    __table_args__ = (UniqueConstraint("placement_id", "kind", "raised_on", name="uq_register_reviews_kind_day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # low_attendance, lateness
    raised_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    review_opened: Mapped[bool] = mapped_column(Boolean, default=False)


# -- evidence packs: a log of every pack produced, each a disclosure of a pupil's or a provider's records (issue 16) ---


class EvidencePack(Base):
    """One evidence pack (a PDF of a placement's file or of a provider's record) produced for an Ofsted or LA visit:
    who produced it, of what, when, and for which audience (school or provider), kept as a record of the disclosure."""
    __tablename__ = "evidence_packs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # placement, provider
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id", ondelete="SET NULL"), nullable=True, index=True)
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id", ondelete="SET NULL"), nullable=True, index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="SET NULL"), nullable=True, index=True)
    pupils: Mapped[int] = mapped_column(Integer, default=0)  # how many pupils' records it discloses
    audience: Mapped[str] = mapped_column(String(20))  # school, provider (what apflow.services.disclosure let them read)
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    produced_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    produced_by_name: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)


# -- qualifications, destination follow-ups, governors' reports, the annual policy review (issue 16: R15, R101, R110,
# R113, R114) ------------------------------------------------------------------------------------------------------


class Qualification(Base):
    """An examination entry on a placement and, once known, its result (R15: the school enters pupils for appropriate
    examinations; N 5.4: the types and levels of qualifications pupils achieve are analysed)."""
    __tablename__ = "qualifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # gcse, functional_skills, btec, entry_level, ...
    level: Mapped[str] = mapped_column(String(20))  # entry_1 .. level_3
    awarding_body: Mapped[str] = mapped_column(String(100), default="")
    entered_on: Mapped[date] = mapped_column(Date, index=True)
    result: Mapped[str] = mapped_column(String(60), default="")
    gained: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None until the result is known
    result_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DestinationFollowUp(Base):
    """The check, 3 and 6 months after a destination began, that it is sustained (R101, N 5.3). The row is written
    when the check falls due and claims it: one per destination and month, however many schedulers run."""
    __tablename__ = "destination_follow_ups"
    __table_args__ = (UniqueConstraint("destination_id", "months", name="uq_destination_follow_ups_months"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"), index=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    months: Mapped[int] = mapped_column(Integer)  # 3 or 6
    due_on: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True)
    sustained: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None until checked
    checked_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class GovernorsReport(Base):
    """The headteacher's termly report to governors on AP outcomes (R110, R114, N 12.1): the figures as they stood when
    it was written, the narrative, and when it was presented. Past reports are kept."""
    __tablename__ = "governors_reports"
    __table_args__ = (UniqueConstraint("scope", "term", name="uq_governors_reports_scope_term"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))  # "org-<id>", or "all" in an install without organisations
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    term: Mapped[str] = mapped_column(String(60))
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    figures: Mapped[dict] = mapped_column(JSON)
    narrative: Mapped[str] = mapped_column(Text, default="")
    presented_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    written_by: Mapped[str] = mapped_column(String(200))


class PolicyReview(Base):
    """The yearly review of the AP policy and arrangements (R113: February for NS; R114: outcomes, quality of
    provision, value for money, stakeholder feedback, changes in statutory guidance). One per organisation a year."""
    __tablename__ = "policy_reviews"
    __table_args__ = (UniqueConstraint("scope", "year", name="uq_policy_reviews_scope_year"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    year: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True)
    outcome: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # what was considered and agreed
    next_review_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PolicyFeedback(Base):
    """One person's feedback for the annual review (R114: staff feedback is gathered; stakeholders are heard)."""
    __tablename__ = "policy_review_feedback"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_policy_review_feedback_person"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("policy_reviews.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(20))  # staff, provider
    works_well: Mapped[str] = mapped_column(Text, default="")
    to_change: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1 (poor) .. 5 (excellent)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- data protection: the read log, retention runs and the deletion log (issue 16, part 5: R111) -------------------


class ReadLogEntry(Base):
    """One read of a pupil's records (R111): who (and in which roles), what, when, from which page or API route. Reads
    of child-protection records are marked restricted and shown only to those entitled to the file (R81)."""
    __tablename__ = "read_log"
    __table_args__ = (Index("ix_read_log_pupil_at", "pupil_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    username: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(300), default="")
    what: Mapped[str] = mapped_column(String(300))
    route: Mapped[str] = mapped_column(String(500), default="")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RetentionRun(Base):
    """One day's run of the retention rules (R111), claimed by inserting the day: two schedulers never both run it."""
    __tablename__ = "retention_runs"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[dict] = mapped_column(JSON, default=dict)  # rows deleted per rule
    held: Mapped[int] = mapped_column(Integer, default=0)  # records due but kept under a legal hold


class RetentionDeletion(Base):
    """What the retention rules deleted (R111): which record (table and id, or a count for registers and read-log
    entries), whose (the pupil's id only), under which rule, due since when and deleted when, and how many dependent
    rows went with it. Never any of the deleted content; kept when the pupil's own record is gone."""
    __tablename__ = "retention_deletions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_day: Mapped[date] = mapped_column(Date, index=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    record: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=1)
    pupil_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # no foreign key: outlives the pupil
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # the pupil's school, for scoping
    due_on: Mapped[date] = mapped_column(Date)
    cascaded: Mapped[dict] = mapped_column(JSON, default=dict)  # dependent rows deleted with it, per table


# -- provider compliance documents with expiry dates (issue 16, part 1: R25, with R20-R22) ----------------------------


class ComplianceDocument(Base):
    """A provider's compliance document (insurance, safeguarding confirmation, registration, the information sharing
    agreement, a site's health and safety assessment), for the provider or one of its sites, with the dates it runs
    between. The one accepted last for its kind and site is in force ('accepted'; older ones 'superseded'); once it has
    expired no new placement starts with the provider (gates). One the provider's staff upload is 'submitted' until the
    school accepts or rejects it."""
    __tablename__ = "compliance_documents"
    # the daily checks ask for documents in force by expiry date
    __table_args__ = (Index("ix_compliance_documents_status_expires_on", "status", "expires_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("provider_sites.id", ondelete="SET NULL"), nullable=True)
    site_name: Mapped[str] = mapped_column(String(200), default="")  # kept: a provider's sites are recorded afresh when its details change
    kind: Mapped[str] = mapped_column(String(40))  # apflow.placements.compliance.KINDS
    title: Mapped[str] = mapped_column(String(300), default="")  # e.g. the insurer and policy number
    reference: Mapped[str] = mapped_column(Text, default="")  # where the document is kept, when it is not uploaded
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), nullable=True)
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # the last day it is valid
    status: Mapped[str] = mapped_column(String(20))  # submitted, accepted, rejected, superseded
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the school accepted or rejected it
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decision_notes: Mapped[str] = mapped_column(Text, default="")
    # what the daily checks did, each claimed once: the renewal task opened; the expiry's block and cascade run
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    renewal_instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="SET NULL"), nullable=True)
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# -- the school census AP return (issue 16, part 4: exports): numbers the DfE asks for that apflow did not hold --------


class SchoolNumbers(Base):
    """A school's own DfE numbers, printed on its census return: URN, LA number and establishment (DfE) number."""
    __tablename__ = "school_numbers"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    urn: Mapped[str] = mapped_column(String(6), default="")
    la_number: Mapped[str] = mapped_column(String(3), default="")
    estab_number: Mapped[str] = mapped_column(String(4), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class ProviderNumbers(Base):
    """How the census names an AP setting: its URN (Get Information about Schools) or UKPRN (UK Register of Learning
    Providers), or, when it has neither, its setting type. Exactly one of the three is sent."""
    __tablename__ = "provider_numbers"
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    urn: Mapped[str] = mapped_column(String(6), default="")
    ukprn: Mapped[str] = mapped_column(String(8), default="")
    setting_type: Mapped[str] = mapped_column(String(3), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class PupilNumbers(Base):
    """A pupil's unique pupil number (UPN), as the school's MIS holds it; unique, so a pupil entered twice shows up."""
    __tablename__ = "pupil_numbers"
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), primary_key=True)
    upn: Mapped[str] = mapped_column(String(13), unique=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class CensusPlacement(Base):
    """A placement's primary reason as the census codes it (the school's choice: the referral's reasons are a list)."""
    __tablename__ = "census_placements"
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
