"""Admin pages for outbound webhooks: add, edit, disable / enable, delete (confirmed), send
a test, and read the delivery log with the reason a webhook was disabled."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from inbox.actions import webhooks
from inbox.errors import DomainError
from inbox.queries import webhooks as webhook_queries
from inbox.web.errors import status_of
from inbox.web.ids import Id
from inbox.web.ui.admin_pages import FormText, back, render_admin
from inbox.web.ui.routes import AdminForm, AdminPage, Page
from routing.vocabulary import EVENT_TYPES

router = APIRouter(include_in_schema=False)

FormList = Annotated[list[str], Form()]


def _picked(query: str | None) -> int | None:
    return int(query) if query and query.isdigit() else None


async def render_webhooks(page: Page, http_status: int = 200, **context: Any) -> Response:
    """The list, and (from the query string) one webhook's delivery log, edit form or delete question."""
    query = page.request.query_params
    rows = await page.services.db.query(webhook_queries.list_webhooks)
    shown = _picked(query.get("log")) or context.pop("log_id", None)
    log = await page.services.db.query(lambda session: webhook_queries.deliveries(session, shown)) if shown else []
    return render_admin(
        page,
        "webhooks",
        http_status,
        webhooks=rows,
        event_types=EVENT_TYPES,
        edit=context.pop("edit", None) or _picked(query.get("edit")),
        confirm=_picked(query.get("delete")),
        log_id=shown,
        log=log,
        **context,
    )


@router.get("/admin/webhooks", response_class=HTMLResponse)
async def webhooks_page(page: AdminPage) -> Response:
    return await render_webhooks(page)


@router.post("/admin/webhooks", response_class=HTMLResponse)
async def webhook_add(page: AdminForm, url: FormText = "", secret: FormText = "", events: FormList = []) -> Response:  # noqa: B006
    try:
        await webhooks.create_webhook(page.services.ctx, page.actor, url, events, secret)
    except DomainError as exc:
        typed = {"url": url, "events": events}  # never the secret back into the page
        return await render_webhooks(page, status_of(exc), error=page.message_of(exc), form=typed)
    return back("webhooks", flash="saved")


@router.post("/admin/webhooks/{webhook_id}", response_class=HTMLResponse)
async def webhook_edit(page: AdminForm, webhook_id: Id, url: FormText = "", secret: FormText = "", events: FormList = []) -> Response:  # noqa: B006
    try:
        await webhooks.update_webhook(page.services.ctx, page.actor, webhook_id, url=url, events=events, secret=secret or None)
    except DomainError as exc:
        return await render_webhooks(page, status_of(exc), error=page.message_of(exc), edit=webhook_id)
    return back("webhooks", flash="saved")


@router.post("/admin/webhooks/{webhook_id}/toggle", response_class=HTMLResponse)
async def webhook_toggle(page: AdminForm, webhook_id: Id, enabled: FormText = "") -> Response:
    await webhooks.update_webhook(page.services.ctx, page.actor, webhook_id, enabled=bool(enabled))
    return back("webhooks", flash="saved")


@router.post("/admin/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
async def webhook_delete(page: AdminForm, webhook_id: Id) -> Response:
    await webhooks.delete_webhook(page.services.ctx, page.actor, webhook_id)
    return back("webhooks", flash="saved")


@router.post("/admin/webhooks/{webhook_id}/test", response_class=HTMLResponse)
async def webhook_test(page: AdminForm, webhook_id: Id) -> Response:
    result = await webhooks.test_webhook(page.services.ctx, page.actor, webhook_id)
    return await render_webhooks(page, tested=result, log_id=webhook_id)
