"""pending timers: an index on the moment each one next falls due, coalesce(retry_at, due_at)

The scheduler asks "which timer is due next" after every firing; without this index that was a scan
and sort of every pending timer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 19:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_pending_timers_next_at', 'pending_timers', [sa.text('coalesce(retry_at, due_at)')], unique=False)


def downgrade():
    op.drop_index('ix_pending_timers_next_at', table_name='pending_timers')
