"""index follow-ups by state and expiry, and by state and send start: the worker's idle checks
stay cheap with many follow-ups planned ahead

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_status_expires", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "ix_followups_status_started", ["status", "sending_started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_status_started")
        batch_op.drop_index("ix_followups_status_expires")
