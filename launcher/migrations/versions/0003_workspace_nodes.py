"""Swarm mode: the node each student's workspace lives on, so that their servers are placed
there (release 0.1.0 ran on one host only).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_nodes",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("course", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(255), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workspace_nodes")
