"""Actions: the one place every write lives.

One module per part of the domain, one function per use case. Each takes a `Context`, the
acting `Actor` and plain arguments, runs its work through `runner.perform` (transaction,
audit entry, events after commit) and raises `inbox.errors.DomainError` when it refuses.
API routes, UI pages, CLI commands, rules and the SLA watch call these; none of them opens
a write transaction of its own.
"""
