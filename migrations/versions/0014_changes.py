"""change management: changes, the items they touch, approvers and their decisions,
single-use approval links, change freezes

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "change",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False, unique=True),
        sa.Column("title", sa.String(998), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("risk", sa.String(8), nullable=False),
        sa.Column("risk_reasons", sa.JSON(), nullable=False),
        _at("planned_start", True),
        _at("planned_end", True),
        sa.Column("backout_plan", sa.Text(), nullable=False),
        sa.Column("problem_id", BigId, sa.ForeignKey("problem.id", ondelete="SET NULL"), nullable=True),
        sa.Column("requested_by", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        _at("status_changed_at"),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_index("ix_change_status", "change", ["status"])
    op.create_index("ix_change_planned_start", "change", ["planned_start"])
    op.create_index("ix_change_problem_id", "change", ["problem_id"])
    op.create_table(
        "change_item",
        sa.Column("change_id", BigId, sa.ForeignKey("change.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("node_type", sa.String(16), primary_key=True),
        sa.Column("node_id", sa.BigInteger(), primary_key=True),
    )
    op.create_index("ix_change_item_node", "change_item", ["node_type", "node_id"])
    op.create_table(
        "change_approver",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("change_id", BigId, sa.ForeignKey("change.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=True),
        sa.Column("team_id", BigId, sa.ForeignKey("team.id", ondelete="CASCADE"), nullable=True),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_via", sa.String(8), nullable=True),
        _at("decided_at", True),
        sa.UniqueConstraint("change_id", "agent_id", "team_id", name="uq_change_approver"),
    )
    op.create_index("ix_change_approver_change_id", "change_approver", ["change_id"])
    op.create_table(
        "change_approval_link",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("approver_id", BigId, sa.ForeignKey("change_approver.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
        _at("expires_at"),
        _at("used_at", True),
    )
    op.create_index("ix_change_approval_link_approver_id", "change_approval_link", ["approver_id"])
    op.create_table(
        "change_freeze",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("provisioned", sa.Boolean(), nullable=False),
        _at("created_at"),
    )


def downgrade() -> None:
    for table in ("change_freeze", "change_approval_link", "change_approver", "change_item", "change"):
        op.drop_table(table)
