"""placement types, professionals involved, staff invitations

placements.placement_type and purpose (R54) decide which steps a placement needs; providers.requires_rlp
records whether the provider's policy asks for a Relational Learning Plan; pupil_professionals and
professional_updates record who else works with the pupil and what they were told (R13); users.invite_hash
lets a manager invite a member of staff to set their own password.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('placements') as batch_op:
        batch_op.add_column(sa.Column('placement_type', sa.String(length=40), nullable=False, server_default='part_time_ap'))
        batch_op.add_column(sa.Column('purpose', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('providers') as batch_op:
        batch_op.add_column(sa.Column('requires_rlp', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('invite_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('invite_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_users_invite_hash', ['invite_hash'])
    op.create_table('pupil_professionals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=60), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=80), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pupil_professionals') as batch_op:
        batch_op.create_index('ix_pupil_professionals_pupil_id', ['pupil_id'])
    op.create_table('professional_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('told_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['professional_id'], ['pupil_professionals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('professional_updates') as batch_op:
        batch_op.create_index('ix_professional_updates_professional_id', ['professional_id'])


def downgrade():
    op.drop_table('professional_updates')
    op.drop_table('pupil_professionals')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_constraint('uq_users_invite_hash', type_='unique')
        batch_op.drop_column('invite_expires_at')
        batch_op.drop_column('invite_hash')
    with op.batch_alter_table('providers') as batch_op:
        batch_op.drop_column('requires_rlp')
    with op.batch_alter_table('placements') as batch_op:
        batch_op.drop_column('purpose')
        batch_op.drop_column('placement_type')
