"""Alembic's environment for the feedback tables. Run from `captionbot.feedback.migrate` only, which hands over
an open connection: no URL, no logging setup here."""

from alembic import context

from captionbot.feedback.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
