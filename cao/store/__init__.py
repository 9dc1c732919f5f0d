"""SQLite persistence: one module per table group, all sharing cao.store.db."""
