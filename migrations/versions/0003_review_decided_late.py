"""review is decided when a follow-up would go out, not frozen when it is planned; contacts get
a topic and a greeting of their own; notes to the user are told apart; why a follow-up stopped

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("greeting", sa.String(length=200), nullable=True))
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="followup", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))
        batch_op.drop_column("review")
    # Notes to the user were told apart by their step names until now.
    op.execute(
        "UPDATE followups SET kind = 'note' "
        "WHERE step LIKE 'review_digest%' OR step LIKE 'notice_%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_column("reason")
        batch_op.drop_column("kind")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("greeting")
        batch_op.drop_column("topic")
