"""The store: SQL tables, engine, migrations, repositories and the audit log."""
