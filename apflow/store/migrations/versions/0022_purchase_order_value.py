"""what a purchase order commits, in pence, for cost per placement (R112, R114: value for money)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 05:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purchase_orders') as batch_op:
        batch_op.add_column(sa.Column('value_pence', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('purchase_orders') as batch_op:
        batch_op.drop_column('value_pence')
