"""provider compliance documents with expiry dates

Issue 16, part 1 (R25, with R20-R22): each provider's insurance, safeguarding confirmation, registration, information
sharing agreement and site health and safety assessments, per provider or site, with the dates they run between. A
document due for renewal opens a task ahead of time; an expired one blocks new starts with the provider (and, for
insurance and safeguarding, runs the safeguarding cascade). Nothing existing is changed.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('compliance_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('site_name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decision_notes', sa.Text(), nullable=False),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('renewal_instance_id', sa.Integer(), nullable=True),
    sa.Column('lapsed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['provider_sites.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id']),
    sa.ForeignKeyConstraint(['renewal_instance_id'], ['instances.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('compliance_documents') as batch_op:
        batch_op.create_index('ix_compliance_documents_provider_id', ['provider_id'])
        batch_op.create_index('ix_compliance_documents_status_expires_on', ['status', 'expires_on'])


def downgrade():
    with op.batch_alter_table('compliance_documents') as batch_op:
        batch_op.drop_index('ix_compliance_documents_status_expires_on')
        batch_op.drop_index('ix_compliance_documents_provider_id')
    op.drop_table('compliance_documents')
