"""Each stored course specification carries the version of its format (release 0.1.0's
specifications are version 1), so that a launcher migrates an older one and refuses, with a
sentence, one written by a newer launcher, instead of leaving the course out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.add_column(
            sa.Column("spec_version", sa.Integer, nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("spec_version")
