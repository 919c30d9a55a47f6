"""The account page's "Sign out everywhere": every session of the agent ends, this one too."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from inbox.actions.sessions import end_all_sessions
from inbox.sessions import COOKIE
from inbox.web.ui.routes import AgentForm

router = APIRouter(include_in_schema=False)


@router.post("/account/sessions/end")
async def sign_out_everywhere(page: AgentForm) -> Response:
    await end_all_sessions(page.services.ctx, page.actor, page.agent.agent_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
