"""Reports at scale: a covering index for the dashboard and its CSV export, and message.contact_id for erasure

The dashboard reads the conversations created in a date range over one index range scan
(no table rows); the CSV export pages over the same index by (created_at, id). GDPR erasure
finds a contact's messages by their author without scanning the message table.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

REPORT_COLUMNS = ["created_at", "id", "team_id", "assignee_id", "channel_id", "first_response_at", "resolved_at", "merged_into_id"]


def upgrade() -> None:
    # Plain CREATE INDEX: no table rebuild, on SQLite either.
    op.create_index("ix_conversation_report", "conversation", REPORT_COLUMNS)
    op.create_index("ix_message_contact", "message", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_message_contact", table_name="message")
    op.drop_index("ix_conversation_report", table_name="conversation")
