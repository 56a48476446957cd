"""custom roles an organisation defines, carrying built-in roles' permissions (issue 17)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:50:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
