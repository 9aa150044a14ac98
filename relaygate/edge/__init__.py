"""The HTTP edge: what a connection may do before the application sees a request (docs/security.md)."""
