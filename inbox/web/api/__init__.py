"""The REST API under /api/v1 (JSON, Bearer tokens, cursor pagination)."""
