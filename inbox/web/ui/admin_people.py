"""Admin pages for people and saved text: teams, agents (invite, role, deactivate), API
tokens, canned responses. Every change is an action (inbox.actions), audited there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from inbox.actions import agents, canned, teams, tokens
from inbox.errors import DomainError
from inbox.queries.agents import active_emails, list_agents
from inbox.queries.teams import list_teams
from inbox.store.models import Agent, ApiToken, CannedResponse, Team
from inbox.web.errors import status_of
from inbox.web.ids import Id
from inbox.web.ui.admin_pages import FormText, back, render_admin
from inbox.web.ui.routes import AdminForm, AdminPage, Page
from routing.vocabulary import ASSIGNMENT_STRATEGIES

router = APIRouter(include_in_schema=False)


def _emails(raw: str) -> list[str]:
    return [e.strip().lower() for e in raw.replace("\n", ",").split(",") if e.strip()]


# ---- teams -------------------------------------------------------------------


async def render_teams(page: Page, http_status: int = 200, **context: Any) -> Response:
    rows = await page.services.db.query(list_teams)
    members = {t.id: t.members for t in rows}
    return render_admin(page, "teams", http_status, teams=rows, members=members, assignments=ASSIGNMENT_STRATEGIES, **context)


@router.get("/admin/teams", response_class=HTMLResponse)
async def teams_page(page: AdminPage) -> Response:
    return await render_teams(page)


@router.post("/admin/teams", response_class=HTMLResponse)
async def team_save(page: AdminForm, name: FormText = "", assignment: FormText = "round_robin", members: FormText = "") -> Response:
    """Create a team, or change an existing (UI-made) team's members and assignment."""
    async with page.services.db.read() as session:
        team_id = await session.scalar(select(Team.id).where(Team.name == name.strip()))
    try:
        if team_id is None:
            await teams.create_team(page.services.ctx, page.actor, name, assignment, _emails(members))
        else:
            await teams.update_team(page.services.ctx, page.actor, team_id, assignment=assignment, members=_emails(members))
    except DomainError as exc:
        return await render_teams(page, status_of(exc), error=page.message_of(exc))
    return back("teams", flash="saved")


# ---- agents ------------------------------------------------------------------


async def render_agents(page: Page, http_status: int = 200, **context: Any) -> Response:
    rows = await page.services.db.query(lambda s: list_agents(s, by_name=True))
    return render_admin(page, "agents", http_status, agents=rows, **context)


@router.get("/admin/agents", response_class=HTMLResponse)
async def agents_page(page: AdminPage) -> Response:
    return await render_agents(page)


@router.post("/admin/agents", response_class=HTMLResponse)
async def agent_invite(page: AdminForm, email: FormText = "", name: FormText = "", role: FormText = "agent") -> Response:
    """Invite an agent: they get a one-time sign-in link (shown once) and choose a password."""
    try:
        created = await agents.create_agent(page.services.ctx, page.actor, email, name, role, invite=True)
    except DomainError as exc:
        return await render_agents(page, status_of(exc), error=page.message_of(exc))
    return await render_agents(page, invite_link=created.login_link, invited=created.agent.email)


@router.post("/admin/agents/{agent_id}", response_class=HTMLResponse)
async def agent_update(page: AdminForm, agent_id: Id, role: FormText = "", active: FormText = "") -> Response:
    """Change an agent's role, or (de)activate them; the form always sends both."""
    changes: agents.AgentChanges = {"active": active == "1"}
    if role:
        changes["role"] = role  # type: ignore[typeddict-item]  # checked by the action
    try:
        await agents.update_agent(page.services.ctx, page.actor, agent_id, changes)
    except DomainError as exc:
        return await render_agents(page, status_of(exc), error=page.message_of(exc))
    return back("agents", flash="saved")


# ---- API tokens --------------------------------------------------------------


async def tokens_context(page: Page) -> dict[str, Any]:
    async with page.services.db.read() as session:
        rows = (
            await session.execute(
                select(ApiToken, Agent.email)
                .join(Agent, Agent.id == ApiToken.agent_id)
                .order_by(ApiToken.revoked, ApiToken.id.desc())
                .limit(500)
            )
        ).all()
    return {"tokens": rows, "agents": await page.services.db.query(active_emails)}


@router.get("/admin/tokens", response_class=HTMLResponse)
async def tokens_page(page: AdminPage) -> Response:
    return render_admin(page, "tokens", **await tokens_context(page))


@router.post("/admin/tokens", response_class=HTMLResponse)
async def token_create(page: AdminForm, agent: FormText = "", name: FormText = "") -> Response:
    try:
        token = await tokens.create_token(page.services.ctx, page.actor, agent, name)
    except DomainError as exc:
        return render_admin(page, "tokens", status_of(exc), error=exc.message, **await tokens_context(page))
    return render_admin(page, "tokens", new_token=token, **await tokens_context(page))


@router.post("/admin/tokens/{token_id}/revoke")
async def token_revoke(page: AdminForm, token_id: Id) -> Response:
    try:
        await tokens.revoke_token(page.services.ctx, page.actor, token_id)
    except DomainError as exc:
        return page.refuse(exc)
    return back("tokens", flash="saved")


# ---- canned responses --------------------------------------------------------


async def render_canned(page: Page, http_status: int = 200, **context: Any) -> Response:
    async with page.services.db.read() as session:
        rows = list((await session.scalars(select(CannedResponse).order_by(CannedResponse.name))).all())
    return render_admin(page, "canned", http_status, canned=rows, **context)


@router.get("/admin/canned", response_class=HTMLResponse)
async def canned_page(page: AdminPage) -> Response:
    return await render_canned(page)


@router.post("/admin/canned", response_class=HTMLResponse)
async def canned_save(page: AdminForm, name: FormText = "", text: FormText = "", remove: FormText = "") -> Response:
    """Save a canned response by name (a new one, or new text for an existing one), or
    delete it (with `remove`)."""
    try:
        if remove:
            await canned.delete_canned(page.services.ctx, page.actor, name)
        else:
            await canned.save_canned(page.services.ctx, page.actor, name, text)
    except DomainError as exc:
        return await render_canned(page, status_of(exc), error=page.message_of(exc))
    return back("canned", flash="deleted_item" if remove else "saved")
