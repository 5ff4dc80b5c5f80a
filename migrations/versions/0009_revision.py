"""follow-ups get a content revision (guards the send) and keep the bytes that went out

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("sent_bytes", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_column("sent_bytes")
        batch_op.drop_column("revision")
