"""The Gemini protocol: its adapter, key casing and routes."""
