"""register marks per session, absence alerts, chasing of missing registers

register_marks holds one row per timetabled session of a running placement on a school day: the provider's report,
the school's code, the follow-up of an absence, and when each alert about it was sent (claimed once). register_books
says how far a placement's registers are laid out; register_reviews the reviews attendance patterns asked for.
The daily registers of the old `attendance` table are copied in as one mark per day (the readers now use marks).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:00:00
"""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OLD_STATUS = {"present": ("present", ""), "late": ("late", ""), "authorised_absence": ("absent", "other"),
              "unexplained_absence": ("absent", "unknown")}


def upgrade():
    op.create_table('register_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts', sa.String(length=5), nullable=False),
    sa.Column('ends', sa.String(length=5), nullable=False),
    sa.Column('half', sa.String(length=5), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activity', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=True),
    sa.Column('minutes_late', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_by', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=4), nullable=True),
    sa.Column('coded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('coded_by', sa.String(length=200), nullable=False),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up', sa.JSON(), nullable=True),
    sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('chased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('school_told_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['marked_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['timetable_sessions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('placement_id', 'day', 'starts', name='uq_register_marks_session_day')
    )
    with op.batch_alter_table('register_marks') as batch_op:
        batch_op.create_index(batch_op.f('ix_register_marks_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_register_marks_placement_id'), ['placement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_register_marks_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index('ix_register_marks_status_starts_at', ['status', 'starts_at'], unique=False)

    op.create_table('register_books',
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('kept_through', sa.Date(), nullable=True),
    sa.Column('patterns_checked_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('placement_id')
    )
    op.create_table('register_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('review_opened', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('placement_id', 'kind', 'raised_on', name='uq_register_reviews_kind_day')
    )
    with op.batch_alter_table('register_reviews') as batch_op:
        batch_op.create_index(batch_op.f('ix_register_reviews_placement_id'), ['placement_id'], unique=False)
    _copy_daily_registers()


def _copy_daily_registers():
    """Each day of the old one-register-a-day table becomes one mark covering the school day (AM+PM)."""
    bind = op.get_bind()
    old = sa.table('attendance', sa.column('placement_id'), sa.column('day'), sa.column('status'), sa.column('code'),
                   sa.column('site_address'), sa.column('recorded_at'), sa.column('recorded_by'), sa.column('followed_up_at'),
                   sa.column('follow_up', sa.JSON()))
    marks = sa.table('register_marks', *(sa.column(c) for c in (
        'placement_id', 'day', 'starts', 'ends', 'half', 'starts_at', 'activity', 'address', 'status', 'minutes_late', 'reason',
        'note', 'marked_at', 'marked_by', 'code', 'coded_at', 'coded_by', 'followed_up_at', 'alerted_at', 'signalled_at')),
        sa.column('follow_up', sa.JSON()))
    uk = ZoneInfo("Europe/London")
    rows = []
    for r in bind.execute(sa.select(old)).mappings():
        day = r["day"] if not isinstance(r["day"], str) else datetime.fromisoformat(r["day"]).date()
        status, reason = OLD_STATUS.get(r["status"], ("absent", "other"))
        starts_at = datetime.combine(day, time(9, 0), tzinfo=uk).astimezone(timezone.utc)
        recorded = r["recorded_at"]
        rows.append({"placement_id": r["placement_id"], "day": day, "starts": "09:00", "ends": "15:30", "half": "AM+PM",
                     "starts_at": starts_at, "activity": "", "address": r["site_address"] or "", "status": status, "minutes_late": None,
                     "reason": reason, "note": "", "marked_at": recorded, "marked_by": r["recorded_by"] or "", "code": r["code"] or None,
                     "coded_at": recorded if r["code"] else None, "coded_by": r["recorded_by"] or "",
                     "followed_up_at": r["followed_up_at"], "follow_up": r["follow_up"], "alerted_at": recorded, "signalled_at": recorded})
    if rows:
        op.bulk_insert(marks, rows)


def downgrade():
    with op.batch_alter_table('register_reviews') as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_reviews_placement_id'))
    op.drop_table('register_reviews')
    op.drop_table('register_books')
    with op.batch_alter_table('register_marks') as batch_op:
        batch_op.drop_index('ix_register_marks_status_starts_at')
        batch_op.drop_index(batch_op.f('ix_register_marks_starts_at'))
        batch_op.drop_index(batch_op.f('ix_register_marks_placement_id'))
        batch_op.drop_index(batch_op.f('ix_register_marks_day'))
    op.drop_table('register_marks')
