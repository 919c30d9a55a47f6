"""Admin pages for people and saved text: teams, agents (invite, role, deactivate), API tokens, canned responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from inbox.actions import tokens
from inbox.actions.runner import Actor
from inbox.auth import create_login_link
from inbox.errors import DomainError
from inbox.store import audit
from inbox.store.models import Agent, ApiToken, CannedResponse, Team, TeamMember
from inbox.web.api.routing_admin import _set_members
from inbox.web.errors import ApiError, status_of
from inbox.web.ui.admin_pages import back, render_admin
from inbox.web.ui.routes import Page, posted, services_of, signed_in

ASSIGNMENTS = ("round_robin", "least_open", "manual")


def _emails(raw: str) -> list[str]:
    return [e.strip().lower() for e in raw.replace("\n", ",").split(",") if e.strip()]


def install(app: FastAPI) -> None:
    # ---- teams -------------------------------------------------------------
    @app.get("/admin/teams", response_class=HTMLResponse, include_in_schema=False)
    async def teams_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            teams = list((await session.scalars(select(Team).order_by(Team.name))).all())
            rows = (await session.execute(select(TeamMember.team_id, Agent.email).join(Agent, Agent.id == TeamMember.agent_id).order_by(Agent.email))).all()
        members: dict[int, list[str]] = {}
        for team_id, email in rows:
            members.setdefault(team_id, []).append(email)
        return render_admin(page, "teams", teams=teams, members=members, assignments=ASSIGNMENTS)

    @app.post("/admin/teams", include_in_schema=False)
    async def team_save(
        request: Request, csrf: str = Form(""), name: str = Form(""), assignment: str = Form("round_robin"), members: str = Form("")
    ) -> Response:
        """Create a team, or change an existing (UI-made) team's members and assignment."""
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        name = name.strip()
        if not name or assignment not in ASSIGNMENTS:
            return back("teams", error=page.t("invalid"))
        try:
            async with services_of(request).db.transaction() as session:
                team = await session.scalar(select(Team).where(Team.name == name))
                if team is not None and team.provisioned:
                    return back("teams", error=page.t("read_only"))
                if team is None:
                    team = Team(name=name, assignment=assignment)
                    session.add(team)
                    await session.flush()
                team.assignment = assignment
                await _set_members(session, team, _emails(members))
                await audit.record(session, page.who.agent_id, "team.save", f"team:{team.id}", {"members": _emails(members), "assignment": assignment})
        except ApiError as exc:
            return back("teams", error=exc.message)
        return back("teams", flash=page.t("saved"))

    # ---- agents ------------------------------------------------------------
    @app.get("/admin/agents", response_class=HTMLResponse, include_in_schema=False)
    async def agents_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            agents = list((await session.scalars(select(Agent).order_by(Agent.name))).all())
        return render_admin(page, "agents", agents=agents)

    @app.post("/admin/agents", response_class=HTMLResponse, include_in_schema=False)
    async def agent_invite(request: Request, csrf: str = Form(""), email: str = Form(""), name: str = Form(""), role: str = Form("agent")) -> Response:
        """Invite an agent: they get a one-time sign-in link (shown once) and choose a password."""
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        email = email.strip().lower()
        if "@" not in email or not name.strip() or role not in ("admin", "agent"):
            return back("agents", error=page.t("invalid"))
        try:
            async with svc.db.transaction() as session:
                agent = Agent(email=email, name=name.strip()[:255], role=role)
                session.add(agent)
                await session.flush()
                token = await create_login_link(session, agent, hours=72)
                await audit.record(session, page.who.agent_id, "agent.invite", f"agent:{agent.id}", {"email": email, "role": role})
        except IntegrityError:
            return back("agents", error=page.t("name_taken"))
        async with svc.db.read() as session:
            agents = list((await session.scalars(select(Agent).order_by(Agent.name))).all())
        link = f"{svc.config.server.public_url.rstrip('/')}/login/once/{token}"
        return render_admin(page, "agents", agents=agents, invite_link=link, invited=email)

    @app.post("/admin/agents/{agent_id}", include_in_schema=False)
    async def agent_update(request: Request, agent_id: int, csrf: str = Form(""), role: str = Form(""), active: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.transaction() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            wants_active = active == "1"
            if agent.id == page.who.agent_id and (role == "agent" or not wants_active):
                return back("agents", error=page.t("not_yourself"))
            if role in ("admin", "agent"):
                agent.role = role
            if agent.active and not wants_active:
                agent.session_version += 1  # signed out everywhere
            agent.active = wants_active
            await audit.record(session, page.who.agent_id, "agent.update", f"agent:{agent.id}", {"role": agent.role, "active": agent.active})
        return back("agents", flash=page.t("saved"))

    # ---- API tokens --------------------------------------------------------
    async def tokens_context(request: Request) -> dict[str, Any]:
        async with services_of(request).db.read() as session:
            rows = (
                await session.execute(
                    select(ApiToken, Agent.email).join(Agent, Agent.id == ApiToken.agent_id).order_by(ApiToken.revoked, ApiToken.id.desc()).limit(500)
                )
            ).all()
            agents = list(await session.scalars(select(Agent.email).where(Agent.active.is_(True)).order_by(Agent.email)))
        return {"tokens": rows, "agents": agents}

    @app.get("/admin/tokens", response_class=HTMLResponse, include_in_schema=False)
    async def tokens_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        return render_admin(page, "tokens", **await tokens_context(request))

    @app.post("/admin/tokens", response_class=HTMLResponse, include_in_schema=False)
    async def token_create(request: Request, csrf: str = Form(""), agent: str = Form(""), name: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        try:
            token = await tokens.create_token(services_of(request).ctx, Actor.of(page.who), agent, name)
        except DomainError as exc:
            return render_admin(page, "tokens", status_of(exc), error=exc.message, **await tokens_context(request))
        return render_admin(page, "tokens", new_token=token, **await tokens_context(request))

    @app.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
    async def token_revoke(request: Request, token_id: int, csrf: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        try:
            await tokens.revoke_token(services_of(request).ctx, Actor.of(page.who), token_id)
        except DomainError as exc:
            return page.refuse(exc)
        return back("tokens", flash=page.t("saved"))

    # ---- canned responses --------------------------------------------------
    @app.get("/admin/canned", response_class=HTMLResponse, include_in_schema=False)
    async def canned_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            rows = list((await session.scalars(select(CannedResponse).order_by(CannedResponse.name))).all())
        return render_admin(page, "canned", canned=rows)

    @app.post("/admin/canned", include_in_schema=False)
    async def canned_save(request: Request, csrf: str = Form(""), name: str = Form(""), text: str = Form(""), remove: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        name = name.strip()[:255]
        async with services_of(request).db.transaction() as session:
            if remove:
                await session.execute(delete(CannedResponse).where(CannedResponse.name == name))
                await audit.record(session, page.who.agent_id, "canned.delete", f"canned:{name}", {})
                return back("canned", flash=page.t("saved"))
            if not name or not text.strip():
                return back("canned", error=page.t("invalid"))
            row = await session.scalar(select(CannedResponse).where(CannedResponse.name == name))
            if row is None:
                session.add(CannedResponse(name=name, text=text.strip()))
            else:
                row.text = text.strip()
            await audit.record(session, page.who.agent_id, "canned.save", f"canned:{name}", {})
        return back("canned", flash=page.t("saved"))
