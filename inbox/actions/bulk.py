"""Bulk changes: the same changes (and/or a macro) on many conversations, one result each.

The conversations are changed in batches of `BATCH`, each batch its own short write
transaction: 10,000 one-conversation transactions would pay a commit (an fsync) each and
take the writers' lock 10,000 times, while one transaction for all would hold that lock —
and so the ingest — for the whole run. If a batch fails as a whole, its conversations are
retried one transaction each, so one bad conversation fails alone.

With an idempotency key, each conversation's change is written with a `BulkItem` row in
the same transaction, and the result is stored with the key: a retry returns the stored
result, and a retry of an interrupted run resumes where it stopped — a macro's reply goes
out once per conversation, whatever happens to the request.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from inbox.actions.conversations import ConversationChanges, change_conversation, check_changes
from inbox.actions.macros import Plan, apply_plan, load_plan
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, DomainError, Invalid
from inbox.queries.conversations import visible_to
from inbox.store.db import insert_ids
from inbox.store.models import Agent, BulkItem, BulkRequest, Conversation, Team

log = logging.getLogger(__name__)

MAX_IDS = 10_000
BATCH = 100
MAX_KEY = 255


@dataclass(frozen=True, slots=True)
class BulkChange:
    ids: tuple[int, ...]
    changes: ConversationChanges | None = None
    macro_id: int | None = None

    def digest(self) -> str:
        body = {"ids": self.ids, "changes": None if self.changes is None else repr(self.changes), "macro": self.macro_id}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def bulk_change(ctx: Context, actor: Actor, request: BulkChange, *, idempotency_key: str | None = None) -> dict[str, Any]:
    """Apply `request` to each of its conversations; returns `{"updated": N, "errors":
    [{"id", "error"}]}` in the order given (an invisible or missing one: "not found")."""
    ids = list(dict.fromkeys(request.ids))
    if not ids:
        raise Invalid("ids: at least one conversation")
    if len(ids) > MAX_IDS:
        raise Invalid(f"ids: at most {MAX_IDS} conversations per request")
    if request.changes is None and request.macro_id is None:
        raise Invalid("give changes, a macro, or both")
    if request.changes is not None:
        check_changes(request.changes)
        await _check_names(ctx, request.changes)
    key = (idempotency_key or "").strip()
    if len(key) > MAX_KEY:
        raise Invalid(f"Idempotency-Key: at most {MAX_KEY} characters")

    request_id: int | None = None
    if key:
        claimed = await perform(ctx.db, ctx.bus, actor, lambda tx: _claim(tx, actor.name, key, request.digest()))
        if isinstance(claimed, dict):
            return claimed
        request_id = claimed
    macro_id = request.macro_id
    plan = await perform(ctx.db, ctx.bus, actor, lambda tx: load_plan(tx, actor, macro_id)) if macro_id is not None else None

    def work_on(batch: list[int]) -> Callable[[Tx], dict[int, str | None]]:
        return lambda tx: _batch(tx, batch, request.changes, plan, request_id)

    outcome: dict[int, str | None] = {}
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        try:
            outcome.update(await perform(ctx.db, ctx.bus, actor, work_on(batch)))
        except Exception as exc:
            if len(batch) == 1:
                outcome[batch[0]] = _reason(exc)
                continue
            for one in batch:
                try:
                    outcome.update(await perform(ctx.db, ctx.bus, actor, work_on([one])))
                except Exception as single:
                    outcome[one] = _reason(single)
    if request_id is not None:
        return await perform(ctx.db, ctx.bus, actor, lambda tx: _finish(tx, request_id, ids, outcome, request))
    result = _result(ids, outcome)
    await perform(ctx.db, ctx.bus, actor, lambda tx: _audit(tx, request, result))
    return result


async def _check_names(ctx: Context, changes: ConversationChanges) -> None:
    """An unknown assignee or team refuses the whole request, before any change."""

    def read(session: Any) -> None:
        if (
            changes.assignee
            and session.scalar(select(Agent.id).where(Agent.email == changes.assignee.strip().lower(), Agent.active.is_(True))) is None
        ):
            raise Invalid(f"no active agent {changes.assignee!r}")
        if changes.team and session.scalar(select(Team.id).where(Team.name == changes.team)) is None:
            raise Invalid(f"no team {changes.team!r}")

    await ctx.db.query(read)


def _claim(tx: Tx, scope: str, key: str, digest: str) -> dict[str, Any] | int:
    """The stored result of a finished request with this key, or the id of its row (new,
    or an interrupted run's: the run resumes)."""
    row = tx.conn.execute(
        select(BulkRequest.id, BulkRequest.digest, BulkRequest.result).where(BulkRequest.scope == scope, BulkRequest.key == key)
    ).first()
    if row is None:
        [new_id] = insert_ids(tx.conn, BulkRequest.__table__, [{"scope": scope, "key": key, "digest": digest, "created_at": tx.now}])
        return new_id
    if row.digest != digest:
        raise Conflict("this Idempotency-Key was used for another request", code="idempotency_key_reused")
    return dict(row.result) if row.result is not None else int(row.id)


def _batch(
    tx: Tx, batch: Sequence[int], changes: ConversationChanges | None, plan: Plan | None, request_id: int | None
) -> dict[int, str | None]:
    done: set[int] = set()
    if request_id is not None:
        done = set(
            tx.conn.scalars(select(BulkItem.conversation_id).where(BulkItem.request_id == request_id, BulkItem.conversation_id.in_(batch)))
        )
    todo = [cid for cid in batch if cid not in done]
    if not todo:
        return {}
    visible = set(tx.conn.scalars(select(Conversation.id).where(Conversation.id.in_(todo), visible_to(tx.session, tx.actor.principal))))
    outcome: dict[int, str | None] = {}
    for cid in todo:
        if cid not in visible:
            outcome[cid] = "not found"
            continue
        if plan is not None:
            apply_plan(tx, cid, plan)
        if changes is not None:
            change_conversation(tx, cid, changes)
        outcome[cid] = None
    if request_id is not None:
        tx.conn.execute(
            insert(BulkItem), [{"request_id": request_id, "conversation_id": cid, "error": error} for cid, error in outcome.items()]
        )
    return outcome


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return str(exc)[:255]
    log.exception("bulk change of one conversation failed", exc_info=exc)
    return "internal error"


def _result(ids: Sequence[int], outcome: dict[int, str | None]) -> dict[str, Any]:
    errors = [{"id": cid, "error": outcome[cid]} for cid in ids if outcome.get(cid) is not None]
    return {"updated": sum(1 for cid in ids if cid in outcome and outcome[cid] is None), "errors": errors}


def _finish(tx: Tx, request_id: int, ids: Sequence[int], outcome: dict[int, str | None], request: BulkChange) -> dict[str, Any]:
    """The result from the stored items (this run's and an interrupted run's), kept with
    the key; failures of this run that wrote no item are added."""
    stored: dict[int, str | None] = {}
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        rows = tx.conn.execute(
            select(BulkItem.conversation_id, BulkItem.error).where(BulkItem.request_id == request_id, BulkItem.conversation_id.in_(part))
        )
        stored.update({row.conversation_id: row.error for row in rows})
    result = _result(ids, {**outcome, **stored})
    tx.conn.execute(update(BulkRequest).where(BulkRequest.id == request_id).values(result=result))
    _audit(tx, request, result)
    return result


def _audit(tx: Tx, request: BulkChange, result: dict[str, Any]) -> None:
    details = {
        "conversations": len(request.ids),
        "macro_id": request.macro_id,
        "updated": result["updated"],
        "errors": len(result["errors"]),
    }
    tx.audit("conversation.bulk", "conversations", details)
