"""a contact's unverified email (claimed in the widget's pre-chat form)

Revision ID: 0013_widget
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_widget"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch alter of `contact` on SQLite would copy the table.
    op.add_column("contact", sa.Column("unverified_email", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("contact", "unverified_email")
