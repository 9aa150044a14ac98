"""The upstream HTTP client: connection pools, retries and health judgement of channel answers."""
