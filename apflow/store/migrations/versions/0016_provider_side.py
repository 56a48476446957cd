"""provider decisions, quality assurance and arrangement notices

The provider's own side of the policy (issue 15): its admission criteria and its decision on each referral before any
allocation (R12); its quality check of each Relational Learning Plan and Pupil Passport and its termly effectiveness
report to the commissioning school (R14); its notices of arrangements that may put a child at risk, each re-checked by
the school (R24).

Placements already past the choice of provider when this runs were taken on before apflow recorded providers'
decisions: each gets an 'accepted' decision that says so, so the allocation gate (no allocation before acceptance)
does not stop a placement already under way.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BEFORE_RECORDING = "Taken on before apflow recorded providers' decisions on referrals."


def upgrade():
    op.create_table('provider_admission_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('age_from', sa.Integer(), nullable=True),
    sa.Column('age_to', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id')
    )
    op.create_table('provider_referral_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('criteria_met', sa.JSON(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_by_name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('provider_referral_decisions') as batch_op:
        batch_op.create_index('ix_provider_referral_decisions_placement_id', ['placement_id'])
        batch_op.create_index('ix_provider_referral_decisions_provider_id', ['provider_id'])
    op.create_table('plan_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('comments', sa.Text(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_by', sa.Integer(), nullable=True),
    sa.Column('signed_by_name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signed_by'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id')
    )
    with op.batch_alter_table('plan_signoffs') as batch_op:
        batch_op.create_index('ix_plan_signoffs_placement_id', ['placement_id'])
    op.create_table('provider_effectiveness_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=60), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('what_worked', sa.Text(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('recorded_by_name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('placement_id', 'term', name='uq_effectiveness_report_term')
    )
    with op.batch_alter_table('provider_effectiveness_reports') as batch_op:
        batch_op.create_index('ix_provider_effectiveness_reports_placement_id', ['placement_id'])
        batch_op.create_index('ix_provider_effectiveness_reports_provider_id', ['provider_id'])
    op.create_table('arrangement_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('adult_name', sa.String(length=200), nullable=False),
    sa.Column('checks_confirmed', sa.Boolean(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_by', sa.Integer(), nullable=True),
    sa.Column('reported_by_name', sa.String(length=200), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('outcome_notes', sa.Text(), nullable=False),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_by_name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by'], ['users.id']),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('arrangement_notices') as batch_op:
        batch_op.create_index('ix_arrangement_notices_placement_id', ['placement_id'])
        batch_op.create_index('ix_arrangement_notices_provider_id', ['provider_id'])
        batch_op.create_index('ix_arrangement_notices_batch', ['batch'])
        batch_op.create_index('ix_arrangement_notices_instance_id', ['instance_id'])
    op.execute(sa.text(
        "INSERT INTO provider_referral_decisions (placement_id, provider_id, decision, reason, criteria_met, decided_at, "
        "decided_by, decided_by_name) SELECT id, provider_id, 'accepted', :why, '[]', updated_at, NULL, 'apflow' "
        "FROM placements WHERE provider_id IS NOT NULL AND status <> 'referred'").bindparams(why=BEFORE_RECORDING))


def downgrade():
    op.drop_table('arrangement_notices')
    op.drop_table('provider_effectiveness_reports')
    op.drop_table('plan_signoffs')
    op.drop_table('provider_referral_decisions')
    op.drop_table('provider_admission_criteria')
