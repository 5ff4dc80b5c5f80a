"""inbox: senders the user counted as on an interview's side (`inbox count-as-reply`)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vouched_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("inbox_message_id", sa.Integer(), nullable=True),
        sa.Column("vouched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_message_id"],
            ["inbox_messages.id"],
            name=op.f("fk_vouched_senders_inbox_message_id_inbox_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_vouched_senders_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouched_senders")),
        sa.UniqueConstraint(
            "interview_id", "address", name=op.f("uq_vouched_senders_interview_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("vouched_senders")
