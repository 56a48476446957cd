"""indexes for questions asked at every step: which timer falls due next, which tasks I delegated

pending_timers: coalesce(retry_at, due_at), the moment each one next falls due; the scheduler asks
"which timer is due next" after every firing, which without this index was a scan and sort of every
pending timer. human_tasks: (owner_id, state, sort_due) where owner_id is set, the one way of seeing
a task (having delegated it) that no index served, so a page of GET /api/v1/tasks walked every
ready task.

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
    op.create_index('ix_human_tasks_ready_owner', 'human_tasks', ['owner_id', 'state', 'sort_due'], unique=False,
                    sqlite_where=sa.text('owner_id IS NOT NULL'), postgresql_where=sa.text('owner_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_human_tasks_ready_owner', table_name='human_tasks')
    op.drop_index('ix_pending_timers_next_at', table_name='pending_timers')
