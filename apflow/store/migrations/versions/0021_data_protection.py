"""read log, retention and subject access

read_log holds one row per read of a pupil's records (who, in which roles, what, when, from which route: R111);
retention_runs claims each day's run of the retention rules; retention_deletions says what the rules deleted, under
which rule and when, never the deleted content.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('read_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('roles', sa.String(length=300), nullable=False),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.Column('route', sa.String(length=500), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('read_log', schema=None) as batch_op:
        batch_op.create_index('ix_read_log_pupil_at', ['pupil_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_read_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_read_log_user_id'), ['user_id'], unique=False)

    op.create_table('retention_runs',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted', sa.JSON(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('retention_deletions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_day', sa.Date(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('record', sa.String(length=60), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('cascaded', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retention_deletions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_deletions_run_day'), ['run_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_deletions_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_deletions_pupil_id'), ['pupil_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_deletions_organisation_id'), ['organisation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('retention_deletions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_deletions_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_retention_deletions_pupil_id'))
        batch_op.drop_index(batch_op.f('ix_retention_deletions_rule'))
        batch_op.drop_index(batch_op.f('ix_retention_deletions_run_day'))
    op.drop_table('retention_deletions')
    op.drop_table('retention_runs')
    with op.batch_alter_table('read_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_read_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_read_log_at'))
        batch_op.drop_index('ix_read_log_pupil_at')
    op.drop_table('read_log')
