"""The Anthropic Messages protocol: its adapter and routes."""
