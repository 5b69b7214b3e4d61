"""Alembic's environment for the launcher's store: migrations run on the connection that
:mod:`launcher.schema` hands over (never from an alembic.ini), and record their revision in
the table ``launcher_schema``, apart from JupyterHub's own ``alembic_version`` (the two may
share a PostgreSQL database)."""

from alembic import context

from launcher.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite changes a column by copying its table
)
with context.begin_transaction():
    context.run_migrations()
