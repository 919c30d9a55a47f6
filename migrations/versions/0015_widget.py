"""a contact's unverified email (claimed in the widget's pre-chat form)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch alter of `contact` on SQLite would copy the table.
    op.add_column("contact", sa.Column("unverified_email", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("contact", "unverified_email")
