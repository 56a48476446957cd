"""placement file and family contacts

human_tasks.answers keeps what each completed task was answered (child-protection fields removed), so the
placement file can show every answer as its form labels it; pupil_contacts holds a pupil's parents and
carers, linked to their accounts once they have one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_tasks') as batch_op:
        batch_op.add_column(sa.Column('answers', sa.JSON(), nullable=True))
    op.create_table('pupil_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('relationship', sa.String(length=60), nullable=False),
    sa.Column('email', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=60), nullable=False),
    sa.Column('parental_responsibility', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=80), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invite_hash', sa.String(length=64), nullable=True),
    sa.Column('invite_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invite_hash')
    )
    with op.batch_alter_table('pupil_contacts') as batch_op:
        batch_op.create_index('ix_pupil_contacts_pupil_id', ['pupil_id'])
        batch_op.create_index('ix_pupil_contacts_user_id', ['user_id'])


def downgrade():
    op.drop_table('pupil_contacts')
    with op.batch_alter_table('human_tasks') as batch_op:
        batch_op.drop_column('answers')
