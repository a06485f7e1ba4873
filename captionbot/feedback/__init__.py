"""Feedback from chat: votes and better captions on the bots' replies, stored in a database (SQLite by default,
PostgreSQL by URL), reviewed, exported as a training data set, and summed up as an approval rate per model
version. Imports `core` only: no torch, no chat SDK."""
