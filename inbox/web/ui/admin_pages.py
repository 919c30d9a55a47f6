"""Admin pages, admin role only: channels, rules (with the rule tester), quarantine, audit.

Items provisioned from the config file are listed read-only; every change is an action
(inbox.actions), audited there. A refused change shows the form again with the reason.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

import channels
from inbox.actions import channels as channel_actions
from inbox.actions import quarantine
from inbox.actions import rules as rule_actions
from inbox.errors import DomainError, Invalid, NotFound
from inbox.queries.channels import CHANNEL_TYPES, list_channels
from inbox.queries.rules import known_names, list_rules
from inbox.runtime import managed_channels
from inbox.runtime.reingest import Reingestor
from inbox.store.models import Agent, AuditEntry, Channel, QuarantineItem, Rule
from inbox.web.errors import status_of
from inbox.web.ids import Id
from inbox.web.ui import config_form, rule_form, rule_tester
from inbox.web.ui.routes import AdminForm, AdminPage, Page
from routing.change_rules import is_change_rule
from routing.vocabulary import LANGUAGES

router = APIRouter(include_in_schema=False)

SECTIONS = ("channels", "rules", "teams", "agents", "tokens", "canned", "webhooks", "request_types", "quarantine", "audit")
FormText = Annotated[str, Form()]


def back(section: str, **keys: str) -> RedirectResponse:
    """Back to a section after a change; `flash` / `error` are UI text keys, never text."""
    return RedirectResponse(f"/admin/{section}" + (f"?{urlencode(keys)}" if keys else ""), status_code=303)


def render_admin(page: Page, section: str, http_status: int = 200, **context: Any) -> Response:
    """An admin section. A redirect's `?flash=` / `?error=` show only as a known UI text."""
    query = page.request.query_params
    context.setdefault("error", page.text_of(query.get("error", "")))
    flash = page.text_of(query.get("flash", ""))
    return page.render(f"ui/admin_{section}.html", http_status, section=section, sections=SECTIONS, flash=flash, **context)


def parse_json_object(raw: str, what: str) -> dict[str, Any]:
    """A JSON object typed into a form (channel settings, a rule's if / then)."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise Invalid(f"{what}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError):  # a number of thousands of digits; nesting deeper than Python's stack
        raise Invalid(f"{what}: not valid JSON: too large or too deeply nested") from None
    if not isinstance(value, dict):
        raise Invalid(f"{what}: must be a JSON object")
    return value


@router.get("/admin")
async def admin_home(page: AdminPage) -> Response:
    return RedirectResponse("/admin/channels", status_code=303)


# ---- channels ----------------------------------------------------------------


async def render_channels(page: Page, http_status: int = 200, **context: Any) -> Response:
    rows = await page.services.db.query(list_channels)
    context.setdefault("edit", page.request.query_params.get("edit", ""))
    type_fields = {ty: config_form.fields_of(channels.config_model(ty)) for ty in CHANNEL_TYPES}
    context.setdefault("marked", set())
    context.setdefault("tester", rule_tester.TesterForm())
    return render_admin(
        page,
        "channels",
        http_status,
        channels=rows,
        types=CHANNEL_TYPES,
        type_fields=type_fields,
        json=json,
        config_values=config_form.values_of,
        **context,
    )


@router.get("/admin/channels", response_class=HTMLResponse)
async def channels_page(page: AdminPage) -> Response:
    return await render_channels(page)


@router.post("/admin/channels", response_class=HTMLResponse)
async def channel_add(request: Request, page: AdminForm, name: FormText = "", type: FormText = "", settings: FormText = "") -> Response:  # noqa: A002
    """The settings come from the fields of the chosen type (named `s.TYPE.KEY`), or from the
    advanced JSON when that is filled in."""
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        if settings.strip() or type not in CHANNEL_TYPES:
            values = parse_json_object(settings, "settings")
        else:
            values = config_form.settings_from_form(channels.config_model(type), posted, f"s.{type}.")
        await channel_actions.create_channel(page.services.ctx, page.actor, name, type, values)
    except DomainError as exc:
        typed = {"name": name, "type": type, "settings": settings, "fields": posted}
        marked = config_form.fields_named(exc.message)
        return await render_channels(page, status_of(exc), error=page.message_of(exc), form=typed, marked=marked)
    return back("channels", flash="saved")


@router.post("/admin/channels/{channel_id}", response_class=HTMLResponse)
async def channel_edit(request: Request, page: AdminForm, channel_id: Id, settings: FormText = "", enabled: FormText = "") -> Response:
    """The settings come from the fields of the channel's type (named `e.KEY`; a secret left
    empty keeps its stored value, every other key is as typed), or from the advanced JSON when
    that is filled in (only the keys it gives change, as with the API's PATCH)."""
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        if settings.strip():
            await channel_actions.update_channel(
                page.services.ctx, page.actor, channel_id, parse_json_object(settings, "settings"), bool(enabled)
            )
        else:
            async with page.services.db.read() as session:
                type_name = await session.scalar(select(Channel.type).where(Channel.id == channel_id))
            if type_name is None or type_name not in CHANNEL_TYPES:
                raise NotFound.of("channel")
            values = config_form.settings_from_form(channels.config_model(type_name), posted, "e.")
            await channel_actions.update_channel(page.services.ctx, page.actor, channel_id, values, bool(enabled), replace=True)
    except DomainError as exc:
        typed = {"settings": settings, "fields": posted, "enabled": bool(enabled)}
        marked = config_form.fields_named(exc.message)
        return await render_channels(page, status_of(exc), error=page.message_of(exc), edit=str(channel_id), edit_form=typed, marked=marked)
    return back("channels", flash="saved")


@router.post("/admin/channels/{channel_id}/toggle")
async def channel_toggle(page: AdminForm, channel_id: Id) -> Response:
    async with page.services.db.read() as session:
        enabled = await session.scalar(select(Channel.enabled).where(Channel.id == channel_id))
    if enabled is None:
        raise NotFound.of("channel")
    await channel_actions.update_channel(page.services.ctx, page.actor, channel_id, None, not enabled)
    return back("channels", flash="saved")


@router.post("/admin/channels/{channel_id}/delete", response_class=HTMLResponse)
async def channel_delete(page: AdminForm, channel_id: Id) -> Response:
    """Only a channel that never carried a conversation goes; others are disabled instead."""
    try:
        await channel_actions.delete_channel(page.services.ctx, page.actor, channel_id)
    except DomainError as exc:
        return await render_channels(page, status_of(exc), error=page.message_of(exc), edit=str(channel_id))
    return back("channels", flash="saved")


@router.post("/admin/channels/{channel_id}/test", response_class=HTMLResponse)
async def channel_test(page: AdminForm, channel_id: Id) -> Response:
    """The same checks as `frontdesk channels test NAME` and the API's test."""
    try:
        tested, results = await managed_channels.test(page.services, page.actor, channel_id)
    except DomainError as exc:
        return await render_channels(page, status_of(exc), error=page.message_of(exc), edit="")
    return await render_channels(page, edit="", tested=tested, results=results)


# ---- rules -------------------------------------------------------------------


async def render_rules(page: Page, http_status: int = 200, **context: Any) -> Response:
    svc = page.services
    rules = await svc.db.query(list_rules)
    teams, agents = await svc.db.query(known_names)
    # What the builder's value boxes suggest: the engine's own choices, and the names a rule may use.
    suggest = {f"if-{k.name}": list(k.choices) for k in rule_form.CONDITIONS if k.choices}
    suggest |= {f"then-{k.name}": list(k.choices) for k in rule_form.ACTIONS if k.choices}
    suggest |= {f"if-{k.name}": list(k.choices) for k in rule_form.CHANGE_CONDITIONS if k.choices}
    suggest |= {
        "then-notify_team": teams,
        "if-channel_type": list(CHANNEL_TYPES),
        "if-language": list(LANGUAGES),
        "then-assign_team": teams,
        "then-assign_agent": agents,
    }
    if svc.policy.templates:
        suggest["then-auto_reply"] = sorted(svc.policy.templates.names)
    form = context.setdefault("form", {})
    form.setdefault("if_rows", rule_form.shown([]))
    form.setdefault("then_rows", rule_form.shown([]))
    context.setdefault("marked", set())
    context.setdefault("tester", rule_tester.TesterForm())
    return render_admin(
        page,
        "rules",
        http_status,
        rules=rules,
        json=json,
        channel_types=CHANNEL_TYPES,
        conditions_vocab=rule_form.CONDITIONS,
        actions_vocab=rule_form.ACTIONS,
        change_conditions_vocab=rule_form.CHANGE_CONDITIONS,
        change_actions_vocab=rule_form.CHANGE_ACTIONS,
        is_change_rule=lambda r: is_change_rule({"if": r.conditions}),
        operators=rule_form.OPERATORS,
        suggest=suggest,
        marked_key=rule_form.marked_key,
        blank_row=rule_form.Row(),
        tester_rules=(choices := rule_tester.rule_choices(rules)),
        testable={id_ for id_, _ in choices},
        **context,
    )


@router.get("/admin/rules", response_class=HTMLResponse)
async def rules_page(page: AdminPage) -> Response:
    wanted = page.request.query_params.get("try", "")
    rules = await page.services.db.query(list_rules)
    trying = next((r for r in rules if str(r.id) == wanted), None)
    return await render_rules(page, tester=rule_tester.TesterForm(rule=str(trying.id) if trying else ""))


def _rule_part(raw: str, rows: list[rule_form.Row], part: Literal["if", "then"], kind: str) -> tuple[dict[str, Any], Invalid | None]:
    """A rule's If or Then: its JSON box when filled in, else its rows (every row checked, so
    both parts' rows are marked at once)."""
    if raw.strip():
        return parse_json_object(raw, part), None
    try:
        return rule_form.assemble(rows, part, kind), None
    except Invalid as exc:
        return {}, exc


@router.post("/admin/rules", response_class=HTMLResponse)
async def rule_add(
    request: Request, page: AdminForm, name: FormText = "", conditions: FormText = "", actions: FormText = "", on: FormText = "message"
) -> Response:
    """The If and Then come from the builder's rows (`if-N-key/op/name/value`, `then-N-key/value`),
    or each from its JSON box under Advanced when that is filled in; either way the same object
    goes to the same action. `on`: what the rule applies to (conversations' messages or changes)."""
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if_rows, then_rows = rule_form.rows_of(posted, "if"), rule_form.rows_of(posted, "then")
    kind: rule_actions.RuleKind = "change" if on == "change" else "message"
    try:
        if_, if_problem = _rule_part(conditions, if_rows, "if", kind)
        then, then_problem = _rule_part(actions, then_rows, "then", kind)
        problem = if_problem or then_problem
        if problem is not None:
            raise problem
        await rule_actions.create_rule(page.services.ctx, page.actor, name, if_, then, on=kind)
    except DomainError as exc:
        typed = {
            "on": kind,
            "name": name,
            "conditions": conditions,
            "actions": actions,
            "if_rows": rule_form.shown(if_rows),
            "then_rows": rule_form.shown(then_rows),
        }
        marked = config_form.fields_named(exc.message)
        return await render_rules(page, status_of(exc), error=page.message_of(exc), form=typed, marked=marked)
    return back("rules", flash="saved")


@router.post("/admin/rules/test", response_class=HTMLResponse)
async def rule_test(page: AdminForm, form: Annotated[rule_tester.TesterForm, Form()]) -> Response:
    """What a rule (or every enabled one) would do on a conversation's latest message or a
    sample; the form stays as typed either way."""
    try:
        sample, outcome = await rule_tester.run(page.services, form, page.lang)
    except DomainError as exc:
        return await render_rules(page, status_of(exc), tester=form, tester_error=page.message_of(exc))
    return await render_rules(page, tester=form, outcome=outcome, sample=sample)


@router.post("/admin/rules/{rule_id}/toggle")
async def rule_toggle(page: AdminForm, rule_id: Id, delete: FormText = "") -> Response:
    """Enable or disable a rule, or delete it (with `delete`)."""
    if delete:
        await rule_actions.delete_rule(page.services.ctx, page.actor, rule_id)
        return back("rules", flash="deleted_item")
    async with page.services.db.read() as session:
        enabled = await session.scalar(select(Rule.enabled).where(Rule.id == rule_id))
    if enabled is None:
        raise NotFound.of("rule")
    await rule_actions.update_rule(page.services.ctx, page.actor, rule_id, {"enabled": not enabled})
    return back("rules", flash="saved")


# ---- quarantine --------------------------------------------------------------


async def render_quarantine(page: Page, http_status: int = 200, **context: Any) -> Response:
    async with page.services.db.read() as session:
        query = (
            select(
                QuarantineItem.id,
                QuarantineItem.external_id,
                QuarantineItem.error,
                QuarantineItem.status,
                QuarantineItem.created_at,
                Channel.name,
            )
            .join(Channel, Channel.id == QuarantineItem.channel_id)
            .where(QuarantineItem.status != "deleted")
            .order_by(QuarantineItem.id.desc())
            .limit(200)
        )
        items = list((await session.execute(query)).all())
    return render_admin(page, "quarantine", http_status, items=items, **context)


@router.get("/admin/quarantine", response_class=HTMLResponse)
async def quarantine_page(page: AdminPage) -> Response:
    return await render_quarantine(page)


@router.get("/admin/quarantine/{item_id}", response_class=HTMLResponse)
async def quarantine_item(page: AdminPage, item_id: Id) -> Response:
    async with page.services.db.read() as session:
        item = await session.get(QuarantineItem, item_id)
    if item is None:
        return page.render("ui/error.html", 404, message=page.t("not_found"))
    # Shown as text in <pre>, escaped by the template: raw input stays inert.
    raw = item.raw[:200_000].decode("utf-8", errors="replace")
    return render_admin(page, "quarantine_item", item=item, raw=raw)


@router.post("/admin/quarantine/{item_id}", response_class=HTMLResponse)
async def quarantine_action(page: AdminForm, item_id: Id, action: FormText = "") -> Response:
    try:
        if action == "retry":
            await quarantine.retry_item(page.services.ctx, page.actor, item_id, Reingestor(page.services))
            return back("quarantine", flash="retried")
        if action == "delete":
            await quarantine.discard_item(page.services.ctx, page.actor, item_id)
            return back("quarantine", flash="deleted_item")
    except DomainError as exc:
        return await render_quarantine(page, status_of(exc), error=page.message_of(exc))
    return back("quarantine")


# ---- audit -------------------------------------------------------------------


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(page: AdminPage) -> Response:
    async with page.services.db.read() as session:
        query = select(AuditEntry, Agent.email).outerjoin(Agent, Agent.id == AuditEntry.agent_id).order_by(AuditEntry.id.desc()).limit(200)
        entries = list((await session.execute(query)).all())
    return render_admin(page, "audit", entries=entries, json=json)
