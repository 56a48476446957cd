"""process library: diagram and form drafts edited in the browser, and the record of every change

Revision ID: 0006
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'process_drafts',
        sa.Column('process_id', sa.String(length=200), nullable=False),
        sa.Column('source_file', sa.String(length=300), nullable=False),
        sa.Column('xml', sa.Text(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=80), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('process_id'),
    )
    op.create_table(
        'form_drafts',
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'process_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=200), nullable=True),
        sa.Column('form_name', sa.String(length=300), nullable=True),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('by', sa.String(length=80), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('content', sa.Text(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('process_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_changes_process_id'), ['process_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_changes_form_name'), ['form_name'], unique=False)


def downgrade():
    with op.batch_alter_table('process_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_changes_form_name'))
        batch_op.drop_index(batch_op.f('ix_process_changes_process_id'))
    op.drop_table('process_changes')
    op.drop_table('form_drafts')
    op.drop_table('process_drafts')
