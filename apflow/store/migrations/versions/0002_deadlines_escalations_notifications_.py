"""deadlines, escalations, notifications, outbox, calendars

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:38:52.338834
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)

    op.create_table('school_calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id')
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('deadline_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('human_task_id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_tasks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deadline_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_alerts_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_alerts_human_task_id'), ['human_task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_alerts_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_alerts_state'), ['state'], unique=False)

    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('human_task_id', sa.String(length=36), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('task_name', sa.String(length=300), nullable=False),
    sa.Column('missed_by', sa.String(length=200), nullable=False),
    sa.Column('overdue_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_tasks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_human_task_id'), ['human_task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_state'), ['state'], unique=False)

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_soon_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pupil_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('pupil_ref', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('provider_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('deadline_by_diagram', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('pending_timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attached_to', sa.String(length=36), nullable=True))



def downgrade():
    with op.batch_alter_table('pending_timers', schema=None) as batch_op:
        batch_op.drop_column('attached_to')

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('deadline_by_diagram')
        batch_op.drop_column('provider_name')
        batch_op.drop_column('pupil_ref')
        batch_op.drop_column('pupil_name')
        batch_op.drop_column('due_soon_at')

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalations_state'))
        batch_op.drop_index(batch_op.f('ix_escalations_role'))
        batch_op.drop_index(batch_op.f('ix_escalations_instance_id'))
        batch_op.drop_index(batch_op.f('ix_escalations_human_task_id'))

    op.drop_table('escalations')
    with op.batch_alter_table('deadline_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_alerts_state'))
        batch_op.drop_index(batch_op.f('ix_deadline_alerts_instance_id'))
        batch_op.drop_index(batch_op.f('ix_deadline_alerts_human_task_id'))
        batch_op.drop_index(batch_op.f('ix_deadline_alerts_due_at'))

    op.drop_table('deadline_alerts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_user_id'))

    op.drop_table('notifications')
    op.drop_table('school_calendars')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_next_attempt_at'))

    op.drop_table('outbox')
