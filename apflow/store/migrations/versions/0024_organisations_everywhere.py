"""every person in an organisation, processes owned by one (issue 17)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 06:50:00

The installation gets its own organisation (organisations.is_default): the one there is when there is exactly one,
else a new school named by APFLOW_ORGANISATION_NAME ("Our school" when unset). Every person who belonged to no
organisation joins it, every instance with no organisation belongs to it, and every process deployed so far is owned
by it (its processes are shared with every organisation of the installation); a pupil with no organisation gets
their first placement's, else it.
"""
import sqlalchemy as sa
from alembic import op

from apflow.config import organisation_name

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations') as batch_op:
        batch_op.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('process_versions') as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_process_versions_organisation_id', 'organisations', ['organisation_id'], ['id'])

    bind = op.get_bind()
    organisations = sa.table('organisations', sa.column('id', sa.Integer), sa.column('name', sa.String),
                             sa.column('kind', sa.String), sa.column('is_default', sa.Boolean))
    existing = bind.execute(sa.select(organisations.c.id, organisations.c.name)).all()
    name = organisation_name()
    named = [row.id for row in existing if row.name == name]
    if named:
        default_id = named[0]
    elif len(existing) == 1:  # a single-school install that already named its school
        default_id = existing[0].id
    else:
        bind.execute(organisations.insert().values(name=name, kind='school', is_default=True))
        default_id = bind.execute(sa.select(organisations.c.id).where(organisations.c.name == name)).scalar_one()
    bind.execute(organisations.update().where(organisations.c.id == default_id).values(is_default=True))

    users = sa.table('users', sa.column('id', sa.Integer))
    members = sa.table('user_organisations', sa.column('user_id', sa.Integer), sa.column('organisation_id', sa.Integer))
    alone = bind.execute(sa.select(users.c.id).where(~sa.exists().where(members.c.user_id == users.c.id))).scalars().all()
    if alone:
        bind.execute(members.insert(), [{'user_id': user_id, 'organisation_id': default_id} for user_id in alone])
    instances = sa.table('instances', sa.column('organisation_id', sa.Integer))
    bind.execute(instances.update().where(instances.c.organisation_id.is_(None)).values(organisation_id=default_id))
    # a pupil recorded before organisations were set: the school of their first placement, else the installation's own
    pupils = sa.table('pupils', sa.column('id', sa.Integer), sa.column('organisation_id', sa.Integer))
    placements = sa.table('placements', sa.column('id', sa.Integer), sa.column('pupil_id', sa.Integer), sa.column('instance_id', sa.Integer))
    placed = sa.table('instances', sa.column('id', sa.Integer), sa.column('organisation_id', sa.Integer))
    first = (sa.select(placed.c.organisation_id).select_from(placements.join(placed, placed.c.id == placements.c.instance_id))
             .where(placements.c.pupil_id == pupils.c.id).order_by(placements.c.id).limit(1).scalar_subquery())
    bind.execute(pupils.update().where(pupils.c.organisation_id.is_(None)).values(organisation_id=first))
    bind.execute(pupils.update().where(pupils.c.organisation_id.is_(None)).values(organisation_id=default_id))
    versions = sa.table('process_versions', sa.column('organisation_id', sa.Integer))
    bind.execute(versions.update().where(versions.c.organisation_id.is_(None)).values(organisation_id=default_id))


def downgrade():
    with op.batch_alter_table('process_versions') as batch_op:
        batch_op.drop_constraint('fk_process_versions_organisation_id', type_='foreignkey')
        batch_op.drop_column('organisation_id')
    with op.batch_alter_table('organisations') as batch_op:
        batch_op.drop_column('is_default')
