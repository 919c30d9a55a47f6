"""The public status page: /status (en/es), /status.json, /status/feed.atom, and
subscription by e-mail (subscribe, confirm from the e-mailed link, unsubscribe).

No sign-in, no JavaScript, one inline stylesheet (like the help center). What a service's
state is comes from `inbox.queries.status` (the rule: `routing.service_status`). The
subscribe form is rate-limited per client address and per e-mail address; it carries
no CSRF token (there is no session to protect, and a subscription only counts once the
address's owner confirms it), but a cross-site post (an Origin other than ours) is refused.
"""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from inbox.actions import status as actions
from inbox.errors import DomainError
from inbox.queries import status as queries
from inbox.runtime.services import Services
from inbox.runtime.status_watch import status_settings
from inbox.store.models import utcnow
from inbox.web.ratelimit import RateLimiter
from inbox.web.templates import TEMPLATES, pick_language
from routing.vocabulary import LANGUAGES

router = APIRouter(include_in_schema=False)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "all_operational": "All systems operational",
        "some_degraded": "Some systems are degraded",
        "some_outage": "Some systems are down",
        "operational": "Operational",
        "degraded": "Degraded performance",
        "outage": "Outage",
        "services": "Services",
        "no_services": "No services are listed yet.",
        "uptime": "{pct} without incidents in the last 90 days",
        "days_ago": "90 days ago",
        "today": "Today",
        "history_of": "History of {name}, the last 90 days",
        "day_state": "{day}: {state}",
        "incidents": "Current incidents",
        "past": "Past incidents",
        "no_incidents": "No incidents in the last 14 days.",
        "incident_affecting": "Incident affecting {names}",
        "started": "Started",
        "resolved": "Resolved",
        "investigating": "Investigating",
        "no_updates": "We are looking into it. Updates will appear here.",
        "subscribe": "Subscribe",
        "subscribe_title": "Get incident updates by e-mail",
        "email": "E-mail address",
        "subscribe_hint": "We send a confirmation link first. Every e-mail has an unsubscribe link.",
        "check_email": "Check your inbox: we sent a link to confirm your subscription.",
        "confirmed": "Subscribed: {email} will receive incident updates.",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_question": "Stop receiving incident updates by e-mail?",
        "unsubscribed": "You are unsubscribed. You will receive no more incident updates.",
        "too_many": "Too many attempts. Try again in a while.",
        "subscribing_off": "Subscribing by e-mail is not available here.",
        "language": "Language",
        "other_language_name": "Español",
        "feed": "Atom feed",
        "json": "JSON",
        "updated": "Updated",
        "back": "Back to the status page",
        "problem": "That did not work",
    },
    "es": {
        "all_operational": "Todos los sistemas funcionan",
        "some_degraded": "Algunos sistemas funcionan con problemas",
        "some_outage": "Algunos sistemas no funcionan",
        "operational": "Operativo",
        "degraded": "Rendimiento degradado",
        "outage": "Caída",
        "services": "Servicios",
        "no_services": "Todavía no hay servicios en la lista.",
        "uptime": "{pct} sin incidencias en los últimos 90 días",
        "days_ago": "Hace 90 días",
        "today": "Hoy",
        "history_of": "Historial de {name}, los últimos 90 días",
        "day_state": "{day}: {state}",
        "incidents": "Incidencias en curso",
        "past": "Incidencias pasadas",
        "no_incidents": "Ninguna incidencia en los últimos 14 días.",
        "incident_affecting": "Incidencia que afecta a {names}",
        "started": "Empezó",
        "resolved": "Resuelta",
        "investigating": "Investigando",
        "no_updates": "Lo estamos investigando. Las novedades aparecerán aquí.",
        "subscribe": "Suscribirme",
        "subscribe_title": "Recibe las novedades de las incidencias por correo",
        "email": "Correo electrónico",
        "subscribe_hint": "Primero enviamos un enlace de confirmación. Cada correo trae un enlace para darse de baja.",
        "check_email": "Revisa tu correo: te enviamos un enlace para confirmar la suscripción.",
        "confirmed": "Suscrito: {email} recibirá las novedades de las incidencias.",
        "unsubscribe_title": "Darse de baja",
        "unsubscribe_question": "¿Dejar de recibir por correo las novedades de las incidencias?",
        "unsubscribed": "Te has dado de baja. No recibirás más novedades de incidencias.",
        "too_many": "Demasiados intentos. Vuelve a probar dentro de un rato.",
        "subscribing_off": "La suscripción por correo no está disponible aquí.",
        "language": "Idioma",
        "other_language_name": "English",
        "feed": "Feed Atom",
        "json": "JSON",
        "updated": "Actualizado",
        "back": "Volver a la página de estado",
        "problem": "Eso no funcionó",
    },
}

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the confirm and unsubscribe links carry tokens
}
HEADLINE = {"operational": "all_operational", "degraded": "some_degraded", "outage": "some_outage"}
MAX_EMAIL_FIELD = 320
ATOM = "http://www.w3.org/2005/Atom"


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Site = Annotated[Services, Depends(_services)]


def language(request: Request, svc: Services, chosen: str | None) -> str:
    if chosen in LANGUAGES:
        return str(chosen)
    return pick_language(None, request.headers.get("accept-language"), svc.config.server.language)


def render(request: Request, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    table = TEXT[lang]
    svc = _services(request)
    context.update(
        lang=lang,
        other_lang="es" if lang == "en" else "en",
        st=lambda key, **kw: table[key].format(**kw),
        title=svc.config.status.title,
        subscribing=bool(svc.config.status.email_channel),
    )
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    response.headers["Cache-Control"] = "no-store" if template != "status/page.html" else "public, max-age=30"
    return response


def message_page(request: Request, lang: str, status: int, text: str, *, heading: str | None = None) -> HTMLResponse:
    return render(request, "status/message.html", lang, status, text=text, heading=heading or TEXT[lang]["problem"])


async def _page(svc: Services) -> queries.StatusPage:
    async with svc.db.read() as session:
        return await queries.status_page(session, all_services=svc.config.status.all_services, now=utcnow())


@router.get("/status", response_class=HTMLResponse)
async def status_home(request: Request, svc: Site, lang: str | None = None, subscribed: str | None = None) -> Response:
    chosen = language(request, svc, lang)
    page = await _page(svc)
    return render(
        request,
        "status/page.html",
        chosen,
        page=page,
        headline=TEXT[chosen][HEADLINE[page.state]],
        notice=TEXT[chosen]["check_email"] if subscribed == "1" else None,
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def page_json(page: queries.StatusPage) -> dict[str, Any]:
    """The documented shape of /status.json (docs/service-desk.md, "Status page")."""
    return {
        "status": page.state,
        "generated_at": _iso(page.generated_at),
        "services": [
            {
                "name": s.name,
                "description": s.description,
                "status": s.state,
                "uptime_90d": round(s.uptime, 4),
                "history": [{"date": day.isoformat(), "status": state} for day, state in s.history],
            }
            for s in page.services
        ],
        "incidents": [
            {
                "number": i.number,
                "status": "open" if i.open else "resolved",
                "severity": i.severity,
                "started_at": _iso(i.started_at),
                "resolved_at": _iso(i.resolved_at),
                "affects": i.affects,
                "services": i.services,
                "updates": [{"text": u.text, "at": _iso(u.at)} for u in i.updates],
            }
            for i in page.incidents
        ],
    }


@router.get("/status.json")
async def status_json(svc: Site) -> JSONResponse:
    page = await _page(svc)
    return JSONResponse(page_json(page), headers={"Cache-Control": "public, max-age=30", "Access-Control-Allow-Origin": "*"})


def atom_feed(page: queries.StatusPage, base_url: str, title: str) -> bytes:
    """One entry per public incident update (newest first), and one per incident without
    any update yet (its start), so a reader hears of an incident at once."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{base_url}/status"
    ET.SubElement(feed, f"{{{ATOM}}}link", href=f"{base_url}/status")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base_url}/status/feed.atom", type="application/atom+xml")
    entries: list[tuple[dt.datetime, str, str, str]] = []
    for incident in page.incidents:
        name = f"Incident #{incident.number}: {', '.join(incident.affects or incident.services)}"
        for n, update in enumerate(reversed(incident.updates), start=1):
            entries.append((update.at, f"{base_url}/status#incident-{incident.number}-update-{n}", name, update.text))
        if not incident.updates:
            entries.append(
                (incident.started_at, f"{base_url}/status#incident-{incident.number}", name, f"{incident.severity}: investigating")
            )
        if incident.resolved_at is not None:
            entries.append((incident.resolved_at, f"{base_url}/status#incident-{incident.number}-resolved", name, "Resolved"))
    entries.sort(key=lambda e: e[0], reverse=True)
    updated = entries[0][0] if entries else page.generated_at
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = title
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    for at, entry_id, name, text in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = entry_id
        ET.SubElement(entry, f"{{{ATOM}}}title").text = name
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(at)
        ET.SubElement(entry, f"{{{ATOM}}}link", href=entry_id)
        ET.SubElement(entry, f"{{{ATOM}}}content", type="text").text = text
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)


@router.get("/status/feed.atom")
async def status_feed(svc: Site) -> Response:
    page = await _page(svc)
    body = atom_feed(page, svc.config.server.public_url, svc.config.status.title)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers={"Cache-Control": "public, max-age=60"})


def _limiters(request: Request, svc: Services) -> tuple[RateLimiter, RateLimiter]:
    state = request.app.state
    if not hasattr(state, "status_limiters"):
        state.status_limiters = (RateLimiter(svc.config.status.subscribe_per_hour, 3600.0), RateLimiter(3, 3600.0))
    limiters: tuple[RateLimiter, RateLimiter] = state.status_limiters
    return limiters


def _same_origin(request: Request, svc: Services) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    ours = {urlsplit(svc.config.server.public_url).netloc, request.headers.get("host", "")}
    return urlsplit(origin).netloc in ours


@router.post("/status/subscribe", response_class=HTMLResponse)
async def status_subscribe(
    request: Request, svc: Site, email: Annotated[str, Form(max_length=MAX_EMAIL_FIELD)] = "", lang: Annotated[str, Form(max_length=8)] = ""
) -> Response:
    chosen = language(request, svc, lang)
    if not _same_origin(request, svc):
        return message_page(request, chosen, 403, TEXT[chosen]["problem"])
    by_client, by_email = _limiters(request, svc)
    now = time.monotonic()
    client = request.client.host if request.client else "?"
    if not by_client.allow(client, now) or not by_email.allow(email.strip().lower(), now):
        response = message_page(request, chosen, 429, TEXT[chosen]["too_many"])
        response.headers["Retry-After"] = "3600"
        return response
    try:
        await actions.subscribe(svc.ctx, status_settings(svc.config), email, chosen)
    except DomainError as exc:
        if exc.code == "status_email_off":
            return message_page(request, chosen, 409, TEXT[chosen]["subscribing_off"])
        return message_page(request, chosen, 422, str(exc))
    return RedirectResponse(f"/status?lang={chosen}&subscribed=1", status_code=303)


@router.get("/status/confirm", response_class=HTMLResponse)
async def status_confirm(request: Request, svc: Site, token: str = "", lang: str | None = None) -> Response:
    chosen = language(request, svc, lang)
    try:
        email = await actions.confirm(svc.ctx, token[: actions.MAX_TOKEN + 1])
    except DomainError as exc:
        return message_page(request, chosen, 409 if exc.kind == "conflict" else 400, str(exc))
    return message_page(request, chosen, 200, TEXT[chosen]["confirmed"].format(email=email), heading=TEXT[chosen]["subscribe"])


@router.get("/status/unsubscribe", response_class=HTMLResponse)
async def status_unsubscribe_form(request: Request, svc: Site, token: str = "", lang: str | None = None) -> Response:
    """A link prefetcher must not unsubscribe anyone: the link shows a button that posts."""
    chosen = language(request, svc, lang)
    return render(request, "status/unsubscribe.html", chosen, token=token[: actions.MAX_TOKEN])


@router.post("/status/unsubscribe", response_class=HTMLResponse)
async def status_unsubscribe(
    request: Request,
    svc: Site,
    token: Annotated[str, Form(max_length=actions.MAX_TOKEN)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    chosen = language(request, svc, lang)
    try:
        await actions.unsubscribe(svc.ctx, token)
    except DomainError:
        return message_page(request, chosen, 404, TEXT[chosen]["problem"])
    return message_page(request, chosen, 200, TEXT[chosen]["unsubscribed"], heading=TEXT[chosen]["unsubscribe_title"])
