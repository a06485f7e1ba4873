"""The feedback tables: images, shown, shown_models, votes, suggestions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", WHEN, nullable=False),
    )
    op.create_table(
        "shown",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("server_id", sa.String(64), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("image_hash", sa.String(64), sa.ForeignKey("images.content_hash"), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.String(200), nullable=True),
        sa.Column("shown_at", WHEN, nullable=False),
    )
    op.create_index("ix_shown_image_hash", "shown", ["image_hash"])
    op.create_table(
        "shown_models",
        sa.Column("token", sa.String(32), sa.ForeignKey("shown.token", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(16), primary_key=True),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("captions", sa.JSON(), nullable=False),
    )
    op.create_index("ix_shown_models_version", "shown_models", ["version"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(32), sa.ForeignKey("shown.token", ondelete="CASCADE"), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("value", sa.String(16), nullable=False),
        sa.Column("voted_at", WHEN, nullable=False),
        sa.UniqueConstraint("token", "user_hash", name="one_vote_per_user"),
    )
    op.create_index("ix_votes_user_hash", "votes", ["user_hash"])
    op.create_index("ix_votes_voted_at", "votes", ["voted_at"])
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(32), sa.ForeignKey("shown.token", ondelete="CASCADE"), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("suggested_at", WHEN, nullable=False),
        sa.Column("reviewed_at", WHEN, nullable=True),
        sa.UniqueConstraint("token", "user_hash", name="one_suggestion_per_user"),
    )
    op.create_index("ix_suggestions_user_hash", "suggestions", ["user_hash"])
    op.create_index("ix_suggestions_status", "suggestions", ["status"])
    op.create_index("ix_suggestions_suggested_at", "suggestions", ["suggested_at"])


def downgrade() -> None:
    for table in ("suggestions", "votes", "shown_models", "shown", "images"):
        op.drop_table(table)
