"""Queries: what the surfaces read (who may see what, the shapes they show); never a write."""
