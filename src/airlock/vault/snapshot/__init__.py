"""Snapshotters: one module per kind of thing destroyed (PostgreSQL, SQLite, files), each
knowing how to take it and how to put it back."""
