"""claimed is not sending: a claim is a lease; a follow-up being sent knows its stream and place
in it; workers report themselves (alive, paused)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_from", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("stream", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("send_seq", sa.Integer(), nullable=True))
        batch_op.create_index("ix_followups_status_claim", ["status", "claim_until"], unique=False)
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inbox_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_status_claim")
        batch_op.drop_column("send_seq")
        batch_op.drop_column("stream")
        batch_op.drop_column("send_from")
        batch_op.drop_column("claim_until")
