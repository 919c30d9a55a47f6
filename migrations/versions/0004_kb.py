"""knowledge base: translation groups, rendered html, problem links, search index, solved-by

Revision ID: 0004
Revises: 0003

The search index is dialect-specific: an FTS5 table on SQLite (fed with folded,
stemmed text by inbox.kb_search) and a weighted tsvector column with a GIN index on
PostgreSQL (built with the article language's own text-search configuration).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("translation_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("problem_id", BigId, nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f("fk_article_problem_id_problem"), "problem", ["problem_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_article_translation_key"), ["translation_key", "language"])
    op.create_index(op.f("ix_article_problem_id"), "article", ["problem_id"])
    op.create_index("ix_article_status_language", "article", ["status", "language"])
    op.create_table(
        "article_resolution",
        sa.Column("id", BigId, nullable=False),
        sa.Column("conversation_id", BigId, sa.ForeignKey("conversation.id", name=op.f("fk_article_resolution_conversation_id_conversation")), nullable=False),
        sa.Column("article_id", BigId, sa.ForeignKey("article.id", ondelete="CASCADE", name=op.f("fk_article_resolution_article_id_article")), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agent.id", name=op.f("fk_article_resolution_agent_id_agent")), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_resolution")),
        sa.UniqueConstraint("conversation_id", "article_id", name=op.f("uq_article_resolution_conversation_id")),
    )
    op.create_index(op.f("ix_article_resolution_article_id"), "article_resolution", ["article_id"])
    if op.get_bind().dialect.name == "sqlite":
        # rowid = article.id; holds folded, stemmed text (see inbox.kb_search).
        op.execute("CREATE VIRTUAL TABLE article_fts USING fts5(title, body, words, tokenize = 'unicode61 remove_diacritics 2')")
    else:
        op.execute("ALTER TABLE article ADD COLUMN search_vector tsvector")
        op.execute("CREATE INDEX ix_article_search_vector ON article USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS article_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_search_vector")
        op.execute("ALTER TABLE article DROP COLUMN IF EXISTS search_vector")
    op.drop_index(op.f("ix_article_resolution_article_id"), table_name="article_resolution")
    op.drop_table("article_resolution")
    op.drop_index("ix_article_status_language", table_name="article")
    op.drop_index(op.f("ix_article_problem_id"), table_name="article")
    with op.batch_alter_table("article") as batch:
        batch.drop_constraint(op.f("uq_article_translation_key"), type_="unique")
        batch.drop_constraint(op.f("fk_article_problem_id_problem"), type_="foreignkey")
        batch.drop_column("published_at")
        batch.drop_column("problem_id")
        batch.drop_column("html")
        batch.drop_column("translation_key")
