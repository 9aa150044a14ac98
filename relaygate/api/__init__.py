"""The management REST API under /api (SPEC section 6): one module per resource, each calling services."""
