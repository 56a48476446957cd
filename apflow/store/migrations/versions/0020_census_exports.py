"""census and register exports

The school census AP return needs numbers apflow did not hold: the school's URN, LA and establishment numbers
(school_numbers), each AP setting's URN or UKPRN or setting type (provider_numbers), each pupil's UPN
(pupil_numbers) and each placement's primary reason as the census codes it (census_placements).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 05:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def _who():
    return [sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_by', sa.String(length=200), nullable=False)]


def upgrade():
    op.create_table('school_numbers',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('urn', sa.String(length=6), nullable=False),
    sa.Column('la_number', sa.String(length=3), nullable=False),
    sa.Column('estab_number', sa.String(length=4), nullable=False),
    *_who(),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id')
    )
    op.create_table('provider_numbers',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('urn', sa.String(length=6), nullable=False),
    sa.Column('ukprn', sa.String(length=8), nullable=False),
    sa.Column('setting_type', sa.String(length=3), nullable=False),
    *_who(),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id')
    )
    op.create_table('pupil_numbers',
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('upn', sa.String(length=13), nullable=False),
    *_who(),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pupil_id'),
    sa.UniqueConstraint('upn')
    )
    op.create_table('census_placements',
    sa.Column('placement_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=3), nullable=False),
    *_who(),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('placement_id')
    )


def downgrade():
    op.drop_table('census_placements')
    op.drop_table('pupil_numbers')
    op.drop_table('provider_numbers')
    op.drop_table('school_numbers')
