"""session epochs, idempotency keys, outbox dead letters and leases

users.session_epoch ends every browser session of a person at sign-out, and users.credentials_changed_at ends
their tokens and sessions when the password changes; idempotency_keys remembers the answer to a request that
creates something, so a request sent again gives the same answer; outbox.dead_at marks a message given up on
(managers see and resend it) and outbox.claimed_until is the lease one sender holds on one message.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('credentials_changed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key', 'scope', name='uq_idempotency_keys_user_key_scope')
    )
    with op.batch_alter_table('idempotency_keys') as batch_op:
        batch_op.create_index('ix_idempotency_keys_created_at', ['created_at'])


def downgrade():
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('dead_at')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('credentials_changed_at')
        batch_op.drop_column('session_epoch')
