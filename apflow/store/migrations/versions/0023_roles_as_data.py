"""custom roles an organisation defines, carrying built-in roles' permissions (issue 17)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'roles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('title', sa.String(length=80), nullable=False),
        sa.Column('carries', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('organisation_id', 'key', name='uq_roles_organisation_key'),
    )
    op.create_index('ix_roles_organisation_id', 'roles', ['organisation_id'])
    with op.batch_alter_table('user_roles') as batch_op:
        batch_op.add_column(sa.Column('custom_role_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_user_roles_custom_role_id', ['custom_role_id'])
        batch_op.create_foreign_key('fk_user_roles_custom_role_id', 'roles', ['custom_role_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('user_roles') as batch_op:
        batch_op.drop_constraint('fk_user_roles_custom_role_id', type_='foreignkey')
        batch_op.drop_index('ix_user_roles_custom_role_id')
        batch_op.drop_column('custom_role_id')
    op.drop_index('ix_roles_organisation_id', table_name='roles')
    op.drop_table('roles')
