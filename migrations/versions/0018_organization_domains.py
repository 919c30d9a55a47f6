"""organization domains: one row per e-mail domain, unique across organizations (what the
ingest looks a new contact's verified address up in)

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "organization_domain",
        sa.Column("domain", sa.String(253), primary_key=True),
        sa.Column("organization_id", BigId, sa.ForeignKey("organization.id", ondelete="CASCADE"), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("organization_domain")
