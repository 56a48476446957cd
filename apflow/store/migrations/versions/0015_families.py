"""family portal, reminders and notification preferences

notification_preferences: how each person wants each kind of notification (immediate, daily digest, in the app
only; lesson reminders on or off); digest_items: what waits for a person's daily digest e-mail, in the e-mail's
words; lesson_reminders: one row per parent and day a reminder e-mail went for (R7), so it never goes twice.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'kind', name='uq_notification_preferences_user_kind')
    )
    with op.batch_alter_table('notification_preferences') as batch_op:
        batch_op.create_index('ix_notification_preferences_user_id', ['user_id'])
    op.create_table('digest_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('digest_items') as batch_op:
        batch_op.create_index('ix_digest_items_user_sent', ['user_id', 'sent_at'])
        batch_op.create_index('ix_digest_items_created_at', ['created_at'])
    op.create_table('lesson_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'day', name='uq_lesson_reminders_user_day')
    )
    with op.batch_alter_table('lesson_reminders') as batch_op:
        batch_op.create_index('ix_lesson_reminders_user_id', ['user_id'])
        batch_op.create_index('ix_lesson_reminders_day', ['day'])


def downgrade():
    op.drop_table('lesson_reminders')
    op.drop_table('digest_items')
    op.drop_table('notification_preferences')
