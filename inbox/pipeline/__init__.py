"""The pipeline: inbound messages stored, routed (rules, tickets, SLAs) and answered through the outbox."""
