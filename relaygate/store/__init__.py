"""Storage: the schema, the engine, migrations and the change feed. Knows nothing of HTTP."""
