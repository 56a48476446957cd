"""evidence packs

A log of every evidence pack produced (issue 16): a PDF of a placement's file or of a provider's record discloses
pupils' data, so who produced which, when and for which audience is kept.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evidence_packs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=True),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('pupils', sa.Integer(), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('produced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('produced_by', sa.Integer(), nullable=True),
    sa.Column('produced_by_name', sa.String(length=200), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['produced_by'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_packs') as batch_op:
        batch_op.create_index('ix_evidence_packs_placement_id', ['placement_id'])
        batch_op.create_index('ix_evidence_packs_pupil_id', ['pupil_id'])
        batch_op.create_index('ix_evidence_packs_provider_id', ['provider_id'])
        batch_op.create_index('ix_evidence_packs_produced_at', ['produced_at'])


def downgrade():
    op.drop_table('evidence_packs')
