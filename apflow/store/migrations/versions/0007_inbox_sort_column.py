"""inbox sort column: human_tasks.sort_due (due_at, or the far future) with indexes the inbox sorts on

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:10:00
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FAR = datetime(9999, 12, 31)


def upgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sort_due', sa.DateTime(timezone=True), nullable=True))
    tasks = sa.table('human_tasks', sa.column('id', sa.String), sa.column('due_at', sa.DateTime(timezone=True)),
                     sa.column('sort_due', sa.DateTime(timezone=True)))
    bind = op.get_bind()
    for task_id, due_at in bind.execute(sa.select(tasks.c.id, tasks.c.due_at)).all():
        bind.execute(tasks.update().where(tasks.c.id == task_id).values(sort_due=due_at or FAR))
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.alter_column('sort_due', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_human_tasks_ready_role')
        batch_op.drop_index('ix_human_tasks_ready_assignee')
        batch_op.create_index('ix_human_tasks_ready_role', ['state', 'role', 'sort_due'], unique=False)
        batch_op.create_index('ix_human_tasks_ready_assignee', ['assignee_id', 'state', 'sort_due'], unique=False,
                              sqlite_where=sa.text('assignee_id IS NOT NULL'), postgresql_where=sa.text('assignee_id IS NOT NULL'))
        batch_op.create_index('ix_human_tasks_ready_due', ['state', 'sort_due'], unique=False)


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_ready_due')
        batch_op.drop_index('ix_human_tasks_ready_assignee')
        batch_op.drop_index('ix_human_tasks_ready_role')
        batch_op.create_index('ix_human_tasks_ready_assignee', ['state', 'assignee_id', 'due_at'], unique=False)
        batch_op.create_index('ix_human_tasks_ready_role', ['state', 'role', 'due_at'], unique=False)
        batch_op.drop_column('sort_due')
