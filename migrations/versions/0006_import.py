"""interviews remember the calendar invitation they were imported from (UID and SEQUENCE)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_uid", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("source_sequence", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_interviews_source_uid", ["source_uid"])


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_constraint("uq_interviews_source_uid", type_="unique")
        batch_op.drop_column("source_sequence")
        batch_op.drop_column("source_uid")
