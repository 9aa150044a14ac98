"""The OpenAI protocol: chat, completions, embeddings, Responses, media and their usage."""
