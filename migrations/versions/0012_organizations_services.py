"""organizations and contact details; the service desk's graph: services, configuration
items, their dependencies, subscribers, what an incident affects, and broadcasts

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _stamps() -> list[sa.Column[sa.DateTime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        *_stamps(),
    )
    # Plain ADD COLUMNs: a batch alter of `contact` on SQLite would copy the table.
    op.add_column("contact", sa.Column("phone", sa.String(64), nullable=True))
    op.add_column("contact", sa.Column("notes", sa.Text(), nullable=True))
    # SQLite cannot add a constraint to a table in place: the column goes in bare there.
    op.add_column("contact", sa.Column("organization_id", BigId, nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(
            "fk_contact_organization_id_organization", "contact", "organization", ["organization_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_contact_organization_id", "contact", ["organization_id"])
    op.create_table(
        "service",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("criticality", sa.String(8), nullable=False),
        sa.Column("team_id", BigId, sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True),
        sa.Column("provisioned", sa.Boolean(), nullable=False),
        *_stamps(),
    )
    op.create_table(
        "config_item",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service_id", BigId, sa.ForeignKey("service.id", ondelete="SET NULL"), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("provisioned", sa.Boolean(), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_config_item_service_id", "config_item", ["service_id"])
    op.create_table(
        "dependency",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("source_type", "source_id", "target_type", "target_id", name="uq_dependency_edge"),
    )
    op.create_index("ix_dependency_target", "dependency", ["target_type", "target_id"])
    op.create_table(
        "service_subscriber",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("service_id", BigId, sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=False),
        sa.Column("organization_id", BigId, sa.ForeignKey("organization.id", ondelete="CASCADE"), nullable=True),
        sa.Column("contact_id", BigId, sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("service_id", "organization_id", "contact_id", name="uq_service_subscriber"),
    )
    op.create_index("ix_service_subscriber_service_id", "service_subscriber", ["service_id"])
    op.create_table(
        "ticket_affected",
        sa.Column("ticket_id", BigId, sa.ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("node_type", sa.String(16), primary_key=True),
        sa.Column("node_id", sa.BigInteger(), primary_key=True),
    )
    op.create_index("ix_ticket_affected_node", "ticket_affected", ["node_type", "node_id"])
    op.create_table(
        "broadcast",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, sa.ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_broadcast_ticket", "broadcast", ["ticket_id", "id"])
    op.create_table(
        "broadcast_recipient",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("broadcast_id", BigId, sa.ForeignKey("broadcast.id", ondelete="CASCADE"), nullable=False),
        sa.Column("contact_id", BigId, sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", BigId, sa.ForeignKey("channel.id", ondelete="SET NULL"), nullable=True),
        sa.Column("message_id", BigId, sa.ForeignKey("message.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("broadcast_id", "contact_id", name="uq_broadcast_recipient"),
    )


def downgrade() -> None:
    for table in ("broadcast_recipient", "broadcast", "ticket_affected", "service_subscriber", "dependency", "config_item", "service"):
        op.drop_table(table)
    op.drop_index("ix_contact_organization_id", table_name="contact")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("organization_id")
        batch.drop_column("notes")
        batch.drop_column("phone")
    op.drop_table("organization")
