"""Why a batch could not be stored: something a message holds, or the store itself?

The ingest retries a failed batch message by message only for the first kind (and
quarantines the message that still fails); for the second (the database is down, a
deadlock, the lease is gone) it raises, so the adapter retries the batch later and no
message is quarantined for what was not its fault.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from inbox.pipeline.inbound_text import repair_text
from inbox.store.leases import LeaseLost

# SQLSTATE classes of a database that is unavailable, not of a message it refuses:
# connection exception, transaction rollback (deadlock, serialisation), insufficient
# resources, operator intervention, system error.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
TRANSIENT = (
    LeaseLost,
    OSError,
    TimeoutError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def is_message_fault(exc: BaseException) -> bool:
    """Did storing fail because of what the messages hold (so that storing them one by
    one finds the culprit), rather than because the database or the lease is gone?"""
    if isinstance(exc, TRANSIENT) or not isinstance(exc, Exception):
        return False
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return False
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
            return False
    return True


def describe(exc: BaseException) -> str:
    """An error as an admin reads it: the driver's words, without SQLAlchemy's statement dump."""
    cause = exc.orig if isinstance(exc, sa_exc.StatementError) and exc.orig is not None else exc
    return repair_text(f"{type(cause).__name__}: {cause}")[:2000]
