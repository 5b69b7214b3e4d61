"""The store of release 0.1.0, as its ``metadata.create_all`` made it (no revision recorded):
allocations, quota grants, courses and their audit, running servers, GPU samples, the GPU
queue, starts under way, warnings, start timings and the admins' actions.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gpu_allocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("unit_uuid", sa.String(128), nullable=False, index=True),
        sa.Column("username", sa.String(255), nullable=False, index=True),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("container", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True, index=True),
        sa.Column("end_reason", sa.String(64), nullable=True),
    )
    op.create_table(
        "quota_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False, index=True),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("extra_hours", sa.Float, nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "course_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("course", sa.String(64), nullable=False, index=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "servers",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("server", sa.String(255), primary_key=True),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("container", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "gpu_samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("unit_uuid", sa.String(128), nullable=False),
        sa.Column("utilisation", sa.Integer, nullable=True),
        sa.Column("memory_used_mib", sa.Integer, nullable=True),
        sa.Column("holders", sa.Integer, nullable=False),
        sa.Column("course", sa.String(64), nullable=True),
    )
    op.create_table(
        "spawn_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
    )
    op.create_table(
        "starts",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("server", sa.String(255), primary_key=True),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
    )
    op.create_table(
        "warnings",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("server", sa.String(255), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("stop_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "spawn_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False, index=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("course", sa.String(64), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("0001 is the first schema: restore a backup instead")
