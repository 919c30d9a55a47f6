"""The agent web UI: server-rendered Jinja2 pages with a little plain JavaScript."""
