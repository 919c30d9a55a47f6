"""the customer portal and request types: one-time portal sign-in links, e-mails outside
any conversation (through the outbox), the request types of the service catalogue and a
ticket's answers and approval

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "portal_link",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("contact_id", BigId, sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_portal_link_contact_id", "portal_link", ["contact_id"])
    op.create_table(
        "direct_mail",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("channel_id", BigId, sa.ForeignKey("channel.id", ondelete="CASCADE"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # outbox_item is neither `message` nor `contact`: a batch alter (a table copy on SQLite)
    # keeps no trigger to lose. Its message becomes optional; a direct mail is the other kind.
    with op.batch_alter_table("outbox_item") as batch:
        batch.alter_column("message_id", existing_type=BigId, nullable=True)
        batch.add_column(sa.Column("mail_id", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_outbox_item_mail_id", ["mail_id"])
    op.create_table(
        "request_type",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("team", sa.String(255), nullable=True),
        sa.Column("priority", sa.String(2), nullable=True),
        sa.Column("approver", sa.String(320), nullable=True),
        sa.Column("provisioned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ticket_request",
        sa.Column("ticket_id", BigId, sa.ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("request_type", sa.String(120), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("approver", sa.String(320), nullable=True),
        sa.Column("approval", sa.String(8), nullable=True),
        sa.Column("decided_by", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_ticket_request_request_type", "ticket_request", ["request_type"])


def downgrade() -> None:
    op.drop_table("ticket_request")
    op.drop_table("request_type")
    op.execute("DELETE FROM outbox_item WHERE message_id IS NULL")
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_constraint("uq_outbox_item_mail_id", type_="unique")
        batch.drop_column("mail_id")
        batch.alter_column("message_id", existing_type=BigId, nullable=False)
    op.drop_table("direct_mail")
    op.drop_index("ix_portal_link_contact_id", "portal_link")
    op.drop_table("portal_link")
