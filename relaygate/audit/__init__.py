"""The audit log of management actions: who did what to which object, when, and from which address."""
