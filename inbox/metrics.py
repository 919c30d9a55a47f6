"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_INGESTED = Counter("frontdesk_messages_ingested_total", "Inbound messages stored", ["channel"])
MESSAGES_DUPLICATE = Counter("frontdesk_messages_duplicate_total", "Inbound redeliveries recognised", ["channel"])
MESSAGES_QUARANTINED = Counter("frontdesk_messages_quarantined_total", "Inbound input quarantined", ["channel"])
INGEST_SECONDS = Histogram("frontdesk_ingest_seconds", "Time to commit one ingest batch")
OUTBOX_SENT = Counter("frontdesk_outbox_sent_total", "Outbound messages sent")
OUTBOX_RETRIED = Counter("frontdesk_outbox_retried_total", "Outbound sends rescheduled")
OUTBOX_FAILED = Counter("frontdesk_outbox_failed_total", "Outbound sends given up")
OUTBOX_UNKNOWN = Counter("frontdesk_outbox_unknown_total", "Outbound sends in doubt, not repeated (delivery unknown)")
HTTP_REQUESTS = Counter("frontdesk_http_requests_total", "HTTP requests", ["method", "status"])
