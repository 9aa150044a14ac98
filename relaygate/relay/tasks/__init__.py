"""Asynchronous task protocols (Midjourney, Suno): submit, fetch and their shared pipeline."""
