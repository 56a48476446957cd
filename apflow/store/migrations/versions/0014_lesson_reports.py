"""lesson reports, lesson materials and staff-recorded pupil feedback

lesson_reports: a tutor's report per timetabled session and day with five engagement scores (R72, R7);
engagement_reviews: episodes of repeated low engagement and the review each opened; lesson_materials: lesson plans
and materials shared in advance, checked by the school before parents see them (R63); pupil_view_records: pupil
views gathered by staff in a one-to-one discussion or an adapted questionnaire (R115).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lesson_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts', sa.String(length=5), nullable=False),
    sa.Column('ends', sa.String(length=5), nullable=False),
    sa.Column('activity', sa.String(length=200), nullable=False),
    sa.Column('covered', sa.Text(), nullable=False),
    sa.Column('participation', sa.Integer(), nullable=False),
    sa.Column('behaviour', sa.Integer(), nullable=False),
    sa.Column('relationships', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('wellbeing', sa.Integer(), nullable=False),
    sa.Column('school_comment', sa.Text(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('written_by', sa.String(length=200), nullable=False),
    sa.Column('written_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['timetable_sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['written_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('placement_id', 'day', 'starts', name='uq_lesson_reports_session_day')
    )
    with op.batch_alter_table('lesson_reports') as batch_op:
        batch_op.create_index('ix_lesson_reports_placement_id', ['placement_id'])
        batch_op.create_index('ix_lesson_reports_day', ['day'])
    op.create_table('engagement_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['lesson_reports.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('engagement_reviews') as batch_op:
        batch_op.create_index('ix_engagement_reviews_placement_id', ['placement_id'])
    op.create_table('lesson_materials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('for_date', sa.Date(), nullable=False),
    sa.Column('whole_week', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('confidentiality_agreed', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('shared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shared_by', sa.String(length=200), nullable=False),
    sa.Column('shared_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_by', sa.String(length=200), nullable=True),
    sa.Column('sent_back_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shared_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lesson_materials') as batch_op:
        batch_op.create_index('ix_lesson_materials_placement_id', ['placement_id'])
        batch_op.create_index('ix_lesson_materials_status', ['status'])
    op.create_table('pupil_view_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=30), nullable=False),
    sa.Column('adaptation', sa.String(length=30), nullable=False),
    sa.Column('adaptation_detail', sa.String(length=300), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('pupil_words', sa.Text(), nullable=False),
    sa.Column('communication_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['communication_id'], ['communications.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pupil_view_records') as batch_op:
        batch_op.create_index('ix_pupil_view_records_placement_id', ['placement_id'])


def downgrade():
    op.drop_table('pupil_view_records')
    op.drop_table('lesson_materials')
    op.drop_table('engagement_reviews')
    op.drop_table('lesson_reports')
