"""trends, governors' reports, annual policy review, qualifications and destination follow-ups

qualifications: examination entries and results per placement (R15); destination_follow_ups: the 3- and 6-month
checks that a destination is sustained (R101), one row per destination and month; governors_reports: the termly
report to governors with its figures, narrative and presentation date (R110, R114); policy_reviews and
policy_review_feedback: the annual policy review and the feedback gathered for it (R113, R114).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('awarding_body', sa.String(length=100), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('result', sa.String(length=60), nullable=False),
    sa.Column('gained', sa.Boolean(), nullable=True),
    sa.Column('result_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('qualifications') as batch_op:
        batch_op.create_index('ix_qualifications_placement_id', ['placement_id'])
        batch_op.create_index('ix_qualifications_pupil_id', ['pupil_id'])
        batch_op.create_index('ix_qualifications_entered_on', ['entered_on'])
        batch_op.create_index('ix_qualifications_result_on', ['result_on'])
    op.create_table('destination_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('sustained', sa.Boolean(), nullable=True),
    sa.Column('checked_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['destination_id'], ['destinations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('destination_id', 'months', name='uq_destination_follow_ups_months')
    )
    with op.batch_alter_table('destination_follow_ups') as batch_op:
        batch_op.create_index('ix_destination_follow_ups_destination_id', ['destination_id'])
        batch_op.create_index('ix_destination_follow_ups_placement_id', ['placement_id'])
        batch_op.create_index('ix_destination_follow_ups_checked_on', ['checked_on'])
    op.create_table('governors_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('term', sa.String(length=60), nullable=False),
    sa.Column('term_start', sa.Date(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=False),
    sa.Column('presented_on', sa.Date(), nullable=True),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('written_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'term', name='uq_governors_reports_scope_term')
    )
    with op.batch_alter_table('governors_reports') as batch_op:
        batch_op.create_index('ix_governors_reports_organisation_id', ['organisation_id'])
    op.create_table('policy_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id']),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'year', name='uq_policy_reviews_scope_year')
    )
    with op.batch_alter_table('policy_reviews') as batch_op:
        batch_op.create_index('ix_policy_reviews_organisation_id', ['organisation_id'])
    op.create_table('policy_review_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('works_well', sa.Text(), nullable=False),
    sa.Column('to_change', sa.Text(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['policy_reviews.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('review_id', 'user_id', name='uq_policy_review_feedback_person')
    )
    with op.batch_alter_table('policy_review_feedback') as batch_op:
        batch_op.create_index('ix_policy_review_feedback_review_id', ['review_id'])


def downgrade():
    op.drop_table('policy_review_feedback')
    op.drop_table('policy_reviews')
    op.drop_table('governors_reports')
    op.drop_table('destination_follow_ups')
    op.drop_table('qualifications')
