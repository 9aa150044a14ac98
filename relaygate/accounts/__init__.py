"""Management accounts: console sessions, access keys for scripts, login and registration, login throttling."""
