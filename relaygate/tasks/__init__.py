"""Asynchronous upstream tasks (Midjourney, Suno): who owns them and what the upstream last said."""
