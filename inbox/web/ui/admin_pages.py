"""Admin pages, admin role only: channels, rules (with the rule tester), quarantine, audit.

Items provisioned from the config file are listed read-only; every change is audited.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import channels
from channels.base import CheckResult
from inbox.actions import quarantine
from inbox.errors import Conflict
from inbox.pipeline.router import load_stored_rules
from inbox.runtime import managed_channels
from inbox.runtime.reingest import Reingestor
from inbox.runtime.services import Services
from inbox.store import audit
from inbox.store.models import Agent, AuditEntry, Channel, QuarantineItem, Rule
from inbox.web.api.routing_admin import SampleMessage, _known_names, _validated, explain
from inbox.web.errors import ApiError
from inbox.web.ui.routes import AdminForm, Page, posted, services_of, signed_in
from routing.rules import InvalidRule, validate_rule

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CHANNEL_TYPES = ("email", *sorted(channels.ADAPTERS))
SECTIONS = ("channels", "rules", "teams", "agents", "tokens", "canned", "quarantine", "audit")


def back(section: str, **params: str) -> RedirectResponse:
    from urllib.parse import urlencode

    return RedirectResponse(f"/admin/{section}" + (f"?{urlencode(params)}" if params else ""), status_code=303)


def render_admin(page: Page, section: str, http_status: int = 200, **context: Any) -> Response:
    flash = page.request.query_params.get("flash", "")
    error = page.request.query_params.get("error", "")
    context.setdefault("error", error)
    return page.render(f"ui/admin_{section}.html", http_status, section=section, sections=SECTIONS, flash=flash, **context)


def parse_settings(raw: str) -> dict[str, Any]:
    """A channel's settings from the form: a JSON object (secrets are sealed on save)."""
    try:
        settings = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"settings are not valid JSON: {exc.msg}") from None
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    return settings


async def check_channel(svc: Services, row: Channel) -> list[CheckResult]:
    """The same checks as `frontdesk channels test NAME` and the API's test."""
    try:
        config = managed_channels.config_of(row, svc.config.channel, svc.secrets)
    except managed_channels.ChannelSettingsError as exc:
        return [CheckResult("configuration", False, str(exc))]
    return await managed_channels.check(config, svc.channels.context)


def install(app: FastAPI) -> None:
    from inbox.web.ui import admin_people

    admin_people.install(app)

    @app.get("/admin", include_in_schema=False)
    async def admin_home(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        return page if not isinstance(page, Page) else RedirectResponse("/admin/channels", status_code=303)

    # ---- channels ----------------------------------------------------------
    @app.get("/admin/channels", response_class=HTMLResponse, include_in_schema=False)
    async def channels_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            rows = [managed_channels.view(c) for c in (await session.scalars(select(Channel).order_by(Channel.name))).all()]
        edit = request.query_params.get("edit", "")
        return render_admin(page, "channels", channels=rows, types=CHANNEL_TYPES, edit=edit, json=json)

    @app.post("/admin/channels", include_in_schema=False)
    async def channel_add(
        request: Request, csrf: str = Form(""), name: str = Form(""), type: str = Form(""), settings: str = Form("")  # noqa: A002
    ) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        name = name.strip().lower()
        if not SLUG.match(name) or type not in CHANNEL_TYPES:
            return back("channels", error=page.t("channel_invalid"))
        svc = services_of(request)
        try:
            await managed_channels.create(svc.db, svc.bus, svc.secrets, page.who.agent_id, name, type, parse_settings(settings))
        except managed_channels.ChannelSettingsError as exc:
            return back("channels", error="; ".join(exc.problems))
        except ValueError as exc:
            return back("channels", error=str(exc))
        return back("channels", flash=page.t("saved"))

    @app.post("/admin/channels/{channel_id}", include_in_schema=False)
    async def channel_edit(request: Request, channel_id: int, csrf: str = Form(""), settings: str = Form(""), enabled: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        try:
            await managed_channels.update(svc.db, svc.bus, svc.secrets, page.who.agent_id, channel_id, parse_settings(settings), bool(enabled))
        except managed_channels.ChannelSettingsError as exc:
            return back("channels", error="; ".join(exc.problems), edit=str(channel_id))
        except ValueError as exc:
            return back("channels", error=str(exc), edit=str(channel_id))
        return back("channels", flash=page.t("saved"))

    @app.post("/admin/channels/{channel_id}/toggle", include_in_schema=False)
    async def channel_toggle(request: Request, channel_id: int, csrf: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.read() as session:
            row = await session.get(Channel, channel_id)
        if row is None:
            return page.render("ui/error.html", 404, message=page.t("not_found"))
        try:
            await managed_channels.update(svc.db, svc.bus, svc.secrets, page.who.agent_id, channel_id, None, not row.enabled)
        except managed_channels.ChannelSettingsError as exc:
            return back("channels", error="; ".join(exc.problems))
        return back("channels", flash=page.t("saved"))

    @app.post("/admin/channels/{channel_id}/test", response_class=HTMLResponse, include_in_schema=False)
    async def channel_test(request: Request, channel_id: int, csrf: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.read() as session:
            row = await session.get(Channel, channel_id)
            rows = [managed_channels.view(c) for c in (await session.scalars(select(Channel).order_by(Channel.name))).all()]
        if row is None:
            return page.render("ui/error.html", 404, message=page.t("not_found"))
        results = await check_channel(svc, row)
        async with svc.db.transaction() as session:
            await audit.record(session, page.who.agent_id, "channel.test", f"channel:{row.id}", {"ok": all(r.ok for r in results)})
        return render_admin(page, "channels", channels=rows, types=CHANNEL_TYPES, edit="", json=json, tested=row.name, results=results)

    # ---- rules -------------------------------------------------------------
    async def rules_context(svc: Services) -> dict[str, Any]:
        async with svc.db.read() as session:
            rules = list((await session.scalars(select(Rule).order_by(Rule.position, Rule.id))).all())
        return {"rules": rules, "json": json, "channel_types": CHANNEL_TYPES}

    @app.get("/admin/rules", response_class=HTMLResponse, include_in_schema=False)
    async def rules_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        context = await rules_context(services_of(request))
        wanted = request.query_params.get("try", "")
        trying = next((r for r in context["rules"] if str(r.id) == wanted), None)
        return render_admin(page, "rules", trying=trying, **context)

    @app.post("/admin/rules", include_in_schema=False)
    async def rule_add(request: Request, csrf: str = Form(""), name: str = Form(""), conditions: str = Form(""), actions: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        try:
            data = {"name": name.strip(), "if": json.loads(conditions or "{}"), "then": json.loads(actions or "{}")}
        except json.JSONDecodeError as exc:
            return back("rules", error=f"JSON: {exc.msg}")
        try:
            async with svc.db.transaction() as session:
                await _validated(svc, session, data)
                position = (await session.scalar(select(func.max(Rule.position)))) or 0
                rule = Rule(name=data["name"], conditions=data["if"], actions=data["then"], position=position + 1, enabled=True)
                session.add(rule)
                await session.flush()
                await audit.record(session, page.who.agent_id, "rule.create", f"rule:{rule.id}", {"name": rule.name})
        except ApiError as exc:
            return back("rules", error=exc.message)
        except IntegrityError:
            return back("rules", error=page.t("name_taken"))
        return back("rules", flash=page.t("saved"))

    @app.post("/admin/rules/{rule_id}/toggle", include_in_schema=False)
    async def rule_toggle(request: Request, rule_id: int, csrf: str = Form(""), delete: str = Form("")) -> Response:
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.transaction() as session:
            rule = await session.get(Rule, rule_id)
            if rule is None or rule.provisioned:
                return page.render("ui/error.html", 404 if rule is None else 409, message=page.t("read_only" if rule else "not_found"))
            if delete:
                await session.delete(rule)
                await audit.record(session, page.who.agent_id, "rule.delete", f"rule:{rule_id}", {"name": rule.name})
            else:
                rule.enabled = not rule.enabled
                await audit.record(session, page.who.agent_id, "rule.update", f"rule:{rule_id}", {"enabled": rule.enabled})
        return back("rules", flash=page.t("saved"))

    @app.post("/admin/rules/test", response_class=HTMLResponse, include_in_schema=False)
    async def rule_test(
        request: Request,
        csrf: str = Form(""),
        text: str = Form(""),
        subject: str = Form(""),
        sender: str = Form("customer@example.com"),
        channel_type: str = Form("email"),
        conditions: str = Form(""),
        actions: str = Form(""),
    ) -> Response:
        """Which rules fire on a sample message; with a rule's JSON given, only that rule."""
        page = await posted(request, csrf, admin=True)
        if not isinstance(page, Page):
            return page
        svc = services_of(request)
        sample = SampleMessage(channel="test", channel_type=channel_type, sender=sender or "customer@example.com", subject=subject or None, text=text)
        error = ""
        outcome: dict[str, Any] | None = None
        async with svc.db.read() as session:
            teams, agents = await _known_names(session)
            try:
                if conditions.strip() or actions.strip():
                    rules = [validate_rule({"name": "tested", "if": json.loads(conditions or "{}"), "then": json.loads(actions or "{}")})]
                else:
                    rules = await session.run_sync(lambda s: load_stored_rules(s.connection()))
                outcome = explain(rules, sample, svc, teams, agents, page.lang)
            except json.JSONDecodeError as exc:
                error = f"JSON: {exc.msg}"
            except InvalidRule as exc:
                error = "; ".join(exc.problems)
        context = await rules_context(svc)
        return render_admin(page, "rules", outcome=outcome, sample=sample, tested_if=conditions, tested_then=actions, **{**context, "error": error})

    # ---- quarantine --------------------------------------------------------
    @app.get("/admin/quarantine", response_class=HTMLResponse, include_in_schema=False)
    async def quarantine_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            query = (
                select(QuarantineItem.id, QuarantineItem.external_id, QuarantineItem.error, QuarantineItem.status, QuarantineItem.created_at, Channel.name)
                .join(Channel, Channel.id == QuarantineItem.channel_id)
                .where(QuarantineItem.status != "deleted")
                .order_by(QuarantineItem.id.desc())
                .limit(200)
            )
            items = list((await session.execute(query)).all())
        return render_admin(page, "quarantine", items=items)

    @app.get("/admin/quarantine/{item_id}", response_class=HTMLResponse, include_in_schema=False)
    async def quarantine_item(request: Request, item_id: int) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            item = await session.get(QuarantineItem, item_id)
        if item is None:
            return page.render("ui/error.html", 404, message=page.t("not_found"))
        # Shown as text in <pre>, escaped by the template: raw input stays inert.
        raw = item.raw[:200_000].decode("utf-8", errors="replace")
        return render_admin(page, "quarantine_item", item=item, raw=raw)

    @app.post("/admin/quarantine/{item_id}", include_in_schema=False)
    async def quarantine_action(page: AdminForm, item_id: int, action: Annotated[str, Form()] = "") -> Response:
        if action == "retry":
            try:
                await quarantine.retry_item(page.services.ctx, page.actor, item_id, Reingestor(page.services))
            except Conflict as exc:  # the item stays held, with its new error
                return back("quarantine", error=exc.message)
            return back("quarantine", flash=page.t("retried"))
        if action == "delete":
            await quarantine.discard_item(page.services.ctx, page.actor, item_id)
            return back("quarantine", flash=page.t("deleted_item"))
        return back("quarantine")

    # ---- audit -------------------------------------------------------------
    @app.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
    async def audit_page(request: Request) -> Response:
        page = await signed_in(request, admin=True)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            query = select(AuditEntry, Agent.email).outerjoin(Agent, Agent.id == AuditEntry.agent_id).order_by(AuditEntry.id.desc()).limit(200)
            entries = list((await session.execute(query)).all())
        return render_admin(page, "audit", entries=entries, json=json)
