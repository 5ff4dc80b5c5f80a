"""inbox: a cursor per IMAP folder, the messages that concerned an interview, and copies of
sent follow-ups waiting to be appended to the Sent folder

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=300), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_cursors")),
        sa.UniqueConstraint("folder", name=op.f("uq_inbox_cursors_folder")),
    )
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=True),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("folder", sa.String(length=300), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sent_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hiring", sa.String(length=20), nullable=True),
        sa.Column("return_date", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], name=op.f("fk_inbox_messages_followup_id_followups")
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_inbox_messages_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_inbox_messages_message_id")),
    )
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_messages_interview_kind", ["interview_id", "kind"], unique=False
        )

    op.create_table(
        "inbox_sent_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["followup_id"],
            ["followups.id"],
            name=op.f("fk_inbox_sent_copies_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_sent_copies")),
        sa.UniqueConstraint("followup_id", name=op.f("uq_inbox_sent_copies_followup_id")),
    )
    with op.batch_alter_table("inbox_sent_copies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_sent_copies_next_try_at"), ["next_try_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_sent_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_sent_copies_next_try_at"))

    op.drop_table("inbox_sent_copies")
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_messages_interview_kind")

    op.drop_table("inbox_messages")
    op.drop_table("inbox_cursors")
