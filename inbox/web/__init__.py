"""The web surfaces: the REST API and the agent UI (siblings that never import each other)."""
