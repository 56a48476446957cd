"""safeguarding: child-protection file, read log, incidents

cp_records holds every child-protection entry (restricted form answers never reach process data);
cp_reads is the read log the DSL sees; incidents of any kind open a review; pupils belong to the
organisation whose DSLs hold their file; grants expire; documents can be child-protection attachments;
notifications link to the page they are about; a task can name the roles its deadline escalates to.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:45:04.038333
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cp_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cp_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cp_reads_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cp_reads_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('action_taken', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('recorded_by_name', sa.String(length=200), nullable=False),
    sa.Column('review_opened', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_placement_id'), ['placement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_pupil_id'), ['pupil_id'], unique=False)

    op.create_table('cp_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('concern_id', sa.Integer(), nullable=True),
    sa.Column('placement_id', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('task_name', sa.String(length=300), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cp_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cp_records_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cp_records_concern_id'), ['concern_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cp_records_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cp_records_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cp_records_pupil_id'), ['pupil_id'], unique=False)

    with op.batch_alter_table('concerns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('raised_by_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_concerns_instance_id'), ['instance_id'], unique=False)
        batch_op.create_foreign_key('fk_concerns_instance_id', 'instances', ['instance_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('cp_access_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalate_to', sa.String(length=200), nullable=True))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=300), nullable=True))

    with op.batch_alter_table('pupils', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_pupils_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_foreign_key('fk_pupils_organisation_id', 'organisations', ['organisation_id'], ['id'])



def downgrade():
    with op.batch_alter_table('pupils', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pupils_organisation_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_pupils_organisation_id'))
        batch_op.drop_column('organisation_id')

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('restricted')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('link')

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('escalate_to')

    with op.batch_alter_table('cp_access_grants', schema=None) as batch_op:
        batch_op.drop_column('expires_at')

    with op.batch_alter_table('concerns', schema=None) as batch_op:
        batch_op.drop_constraint('fk_concerns_instance_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_concerns_instance_id'))
        batch_op.drop_column('raised_by_name')
        batch_op.drop_column('instance_id')

    with op.batch_alter_table('cp_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cp_records_pupil_id'))
        batch_op.drop_index(batch_op.f('ix_cp_records_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_cp_records_instance_id'))
        batch_op.drop_index(batch_op.f('ix_cp_records_concern_id'))
        batch_op.drop_index(batch_op.f('ix_cp_records_at'))

    op.drop_table('cp_records')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_pupil_id'))
        batch_op.drop_index(batch_op.f('ix_incidents_placement_id'))

    op.drop_table('incidents')
    with op.batch_alter_table('cp_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cp_reads_pupil_id'))
        batch_op.drop_index(batch_op.f('ix_cp_reads_at'))

    op.drop_table('cp_reads')
