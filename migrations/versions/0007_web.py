"""web: secrets shared by the worker and the web app, and the digest's single-use approve links

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_web_secrets")),
    )
    op.create_table(
        "web_approve_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["followup_id"],
            ["followups.id"],
            name=op.f("fk_web_approve_links_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_approve_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_approve_links_token_hash")),
    )
    with op.batch_alter_table("web_approve_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_approve_links_followup_id"), ["followup_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_approve_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_approve_links_followup_id"))

    op.drop_table("web_approve_links")
    op.drop_table("web_secrets")
