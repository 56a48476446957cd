"""indexes for questions asked all the time: which timer falls due next, a page of someone's tasks

pending_timers: coalesce(retry_at, due_at), the moment each one next falls due; the scheduler asks
"which timer is due next" after every firing, which without this index was a scan and sort of every
pending timer. human_tasks: the ready-task indexes end with the whole list order (sort_due,
created_at, id), so a page is read off an index even where thousands of tasks share a due time
(every task without one shares the far future); and tasks someone delegated (owner_id) get one, the
one way of seeing a task no index served.

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


ORDER = ['sort_due', 'created_at', 'id']


def _task_indexes(tail):
    op.create_index('ix_human_tasks_ready_role', 'human_tasks', ['state', 'role', *tail], unique=False)
    op.create_index('ix_human_tasks_ready_assignee', 'human_tasks', ['assignee_id', 'state', *tail], unique=False,
                    sqlite_where=sa.text('assignee_id IS NOT NULL'), postgresql_where=sa.text('assignee_id IS NOT NULL'))
    op.create_index('ix_human_tasks_ready_due', 'human_tasks', ['state', *tail], unique=False)


def _drop_task_indexes():
    for name in ('ix_human_tasks_ready_role', 'ix_human_tasks_ready_assignee', 'ix_human_tasks_ready_due'):
        op.drop_index(name, table_name='human_tasks')


def upgrade():
    op.create_index('ix_pending_timers_next_at', 'pending_timers', [sa.text('coalesce(retry_at, due_at)')], unique=False)
    _drop_task_indexes()
    _task_indexes(ORDER)
    op.create_index('ix_human_tasks_ready_owner', 'human_tasks', ['owner_id', 'state', *ORDER], unique=False,
                    sqlite_where=sa.text('owner_id IS NOT NULL'), postgresql_where=sa.text('owner_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_human_tasks_ready_owner', table_name='human_tasks')
    _drop_task_indexes()
    _task_indexes(['sort_due'])
    op.drop_index('ix_pending_timers_next_at', table_name='pending_timers')
