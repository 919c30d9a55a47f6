"""The customer portal at /portal: a contact's own requests, on every channel, in en/es.

Public web side like the help center (its own templates, no JavaScript, one inline
stylesheet), not the agent UI. Sign-in is by a one-time link sent by e-mail (the answer
is the same whether or not the address is known; requests are rate-limited per address
and per client), or by the signed "View your requests" link that every e-mail carries.
The session is a signed cookie (HttpOnly, SameSite=Lax) holding the contact; every form
carries a CSRF token derived from it. Every read is scoped to the person (the contact and
the contacts merged into it): another person's ids are a 404 like unknown ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from channels.base import InboundAttachment
from inbox.actions import portal as actions
from inbox.errors import DomainError, NotFound
from inbox.portal_tokens import COOKIE, PortalSession
from inbox.queries import portal as q
from inbox.runtime.services import Services
from inbox.web.ids import MAX_ID
from inbox.web.ratelimit import RateLimiter
from inbox.web.templates import TEMPLATES, pick_language
from inbox.web.uploads import UnreadableForm, UploadRefused, attached_files, reply_form
from routing.request_types import RequestTypeSpec
from routing.vocabulary import LANGUAGES

router = APIRouter(include_in_schema=False)

LANG_COOKIE = "fd_portal_lang"
FORM_COOKIE = "fd_portal_form"  # the nonce behind the sign-in form's CSRF token
PER_ADDRESS = (5, 900.0)  # sign-in requests per address per 15 minutes
PER_CLIENT = (20, 900.0)  # and per client address

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "portal": "Your requests",
        "help_center": "Help center",
        "other_language_name": "Español",
        "sign_in_title": "See your requests",
        "sign_in_intro": "Enter the e-mail address you write to us from. We will send you a link to sign in.",
        "email": "E-mail address",
        "send_link": "Send me a link",
        "sent_title": "Check your e-mail",
        "sent_text": "If {email} is an address we know, a sign-in link is on its way. It works once, for {minutes} minutes.",
        "sign_in_off": "Signing in by e-mail is not available here. Use the “View your requests” link in any e-mail we sent you.",
        "confirm_title": "Sign in",
        "confirm_text": "Continue to see your requests.",
        "continue": "Continue",
        "link_bad": "This link has expired or was already used. Ask for a new one.",
        "too_many": "Too many requests. Please wait a few minutes and try again.",
        "sign_out": "Sign out",
        "requests": "Your requests",
        "no_requests": "You have no requests yet.",
        "new_request": "New request",
        "status": "Status",
        "ticket": "Request #{n}",
        "updated": "Updated",
        "channel": "Channel",
        "you": "You",
        "support": "Support",
        "reply": "Reply",
        "your_reply": "Your reply",
        "attach": "Attach files",
        "send": "Send",
        "sent": "Sent. We will answer here and by your usual channel.",
        "back": "All your requests",
        "pick_type": "What can we help with?",
        "something_else": "Something else",
        "something_else_text": "Any other question or problem.",
        "subject": "Subject",
        "details": "Details",
        "required": "required",
        "choose": "Choose…",
        "submit": "Send request",
        "created": "Thank you. Your request was received.",
        "not_found": "We could not find that page.",
        "waiting_approval": "Waiting for approval",
        "approved": "Approved",
        "rejected": "Not approved",
        "answers": "Your answers",
        "files": "Files",
        "st_open": "Open",
        "st_pending": "Waiting",
        "st_snoozed": "Open",
        "st_resolved": "Resolved",
        "tst_new": "Received",
        "tst_open": "In progress",
        "tst_pending": "Waiting",
        "tst_resolved": "Resolved",
        "tst_closed": "Closed",
        "no_subject": "(no subject)",
        "error": "Something is not right",
    },
    "es": {
        "portal": "Sus solicitudes",
        "help_center": "Centro de ayuda",
        "other_language_name": "English",
        "sign_in_title": "Vea sus solicitudes",
        "sign_in_intro": "Escriba la dirección de correo desde la que nos escribe. Le enviaremos un enlace para entrar.",
        "email": "Correo electrónico",
        "send_link": "Enviarme un enlace",
        "sent_title": "Revise su correo",
        "sent_text": "Si {email} es una dirección que conocemos, le llegará un enlace para entrar. Sirve una vez, durante {minutes} minutos.",
        "sign_in_off": "Aquí no se puede entrar por correo. Use el enlace «Ver sus solicitudes» de cualquier correo que le enviamos.",
        "confirm_title": "Entrar",
        "confirm_text": "Continúe para ver sus solicitudes.",
        "continue": "Continuar",
        "link_bad": "Este enlace caducó o ya se usó. Pida uno nuevo.",
        "too_many": "Demasiadas solicitudes. Espere unos minutos y vuelva a intentarlo.",
        "sign_out": "Salir",
        "requests": "Sus solicitudes",
        "no_requests": "Todavía no tiene solicitudes.",
        "new_request": "Nueva solicitud",
        "status": "Estado",
        "ticket": "Solicitud #{n}",
        "updated": "Actualizada",
        "channel": "Canal",
        "you": "Usted",
        "support": "Soporte",
        "reply": "Responder",
        "your_reply": "Su respuesta",
        "attach": "Adjuntar archivos",
        "send": "Enviar",
        "sent": "Enviado. Le responderemos aquí y por su canal habitual.",
        "back": "Todas sus solicitudes",
        "pick_type": "¿En qué podemos ayudarle?",
        "something_else": "Otra cosa",
        "something_else_text": "Cualquier otra pregunta o problema.",
        "subject": "Asunto",
        "details": "Detalles",
        "required": "obligatorio",
        "choose": "Elija…",
        "submit": "Enviar solicitud",
        "created": "Gracias. Recibimos su solicitud.",
        "not_found": "No encontramos esa página.",
        "waiting_approval": "Esperando aprobación",
        "approved": "Aprobada",
        "rejected": "No aprobada",
        "answers": "Sus respuestas",
        "files": "Archivos",
        "st_open": "Abierta",
        "st_pending": "En espera",
        "st_snoozed": "Abierta",
        "st_resolved": "Resuelta",
        "tst_new": "Recibida",
        "tst_open": "En curso",
        "tst_pending": "En espera",
        "tst_resolved": "Resuelta",
        "tst_closed": "Cerrada",
        "no_subject": "(sin asunto)",
        "error": "Algo no está bien",
    },
}

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Site = Annotated[Services, Depends(_services)]


def language_of(request: Request, svc: Services) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return pick_language(chosen if chosen in LANGUAGES else None, request.headers.get("accept-language"), svc.config.server.language)


def session_of(request: Request, svc: Services) -> PortalSession | None:
    return svc.portal.check_session(request.cookies.get(COOKIE))


def render(request: Request, svc: Services, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language_of(request, svc)
    table = TEXT[lang]
    session = context.pop("session", None) or session_of(request, svc)
    context.update(
        lang=lang,
        other_lang="es" if lang == "en" else "en",
        pt=lambda key, **kw: table[key].format(**kw),
        session=session,
        csrf=svc.portal.csrf(session) if session is not None else "",
    )
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax", secure=_secure(svc), path="/portal")
    return response


def problem(request: Request, svc: Services, status: int, message_key: str | None = None, message: str | None = None) -> HTMLResponse:
    lang = language_of(request, svc)
    text = message or TEXT[lang][message_key or "not_found"]
    return render(request, svc, "portal/message.html", status, title=TEXT[lang]["error"], text=text)


def _secure(svc: Services) -> bool:
    return svc.config.server.public_url.startswith("https://")


def _start_session(svc: Services, contact_id: int, target: str = "/portal") -> Response:
    session = svc.portal.new_session(contact_id, svc.config.portal.session_hours)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session.cookie,
        max_age=svc.config.portal.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(svc),
        path="/portal",
    )
    return response


def _limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    state = request.app.state
    if not hasattr(state, "portal_limiters"):
        state.portal_limiters = (RateLimiter(*PER_ADDRESS), RateLimiter(*PER_CLIENT))
    limiters: tuple[RateLimiter, RateLimiter] = state.portal_limiters
    return limiters


def _id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 19 and 0 < int(raw) <= MAX_ID else None


async def _form(request: Request) -> dict[str, str]:
    try:
        form = await request.form(max_fields=20, max_files=0)
    except Exception:
        return {}
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def _person(svc: Services, session: PortalSession) -> Any:
    return svc.db.query(lambda s: q.person_of(s, session.contact_id))


# -- signing in ---------------------------------------------------------------------------


@router.get("/portal", response_class=HTMLResponse)
async def portal_home(request: Request, svc: Site) -> Response:
    session = session_of(request, svc)
    if session is None:
        return _sign_in_page(request, svc)
    person = await _person(svc, session)
    if person is None:
        return _sign_in_page(request, svc)
    rows = await svc.db.query(lambda s: q.conversations_of(s, person[1]))
    return render(request, svc, "portal/home.html", rows=rows, session=session)


def _sign_in_page(request: Request, svc: Services, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = request.cookies.get(FORM_COOKIE) or svc.sessions.new_nonce()
    response = render(
        request,
        svc,
        "portal/sign_in.html",
        status,
        form_token=svc.sessions.login_token(nonce),
        enabled=svc.config.portal.email_channel is not None,
        **context,
    )
    response.set_cookie(FORM_COOKIE, nonce, max_age=12 * 3600, httponly=True, samesite="lax", secure=_secure(svc), path="/portal")
    return response


@router.post("/portal/sign-in", response_class=HTMLResponse)
async def portal_sign_in(request: Request, svc: Site) -> Response:
    form = await _form(request)
    if not svc.sessions.login_ok(request.cookies.get(FORM_COOKIE), form.get("csrf")):
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    email = form.get("email", "").strip().lower()[:320]
    if "@" not in email:
        return _sign_in_page(request, svc, 422, email=email, error=True)
    by_address, by_client = _limiters(request)
    client = request.client.host if request.client else "?"
    if not by_client.allow(client) or not by_address.allow(email):
        return problem(request, svc, 429, "too_many")
    await actions.request_sign_in(
        svc.ctx,
        email,
        channel_name=svc.config.portal.email_channel,
        minutes=svc.config.portal.link_minutes,
        language=language_of(request, svc),
    )
    lang = language_of(request, svc)
    text = TEXT[lang]["sent_text"].format(email=email, minutes=svc.config.portal.link_minutes)
    return render(request, svc, "portal/message.html", title=TEXT[lang]["sent_title"], text=text)


@router.get("/portal/in/{token}", response_class=HTMLResponse)
async def portal_link(request: Request, svc: Site, token: str) -> Response:
    """The one-time link shows a button: a mail scanner fetching the URL does not use it up."""
    nonce = request.cookies.get(FORM_COOKIE) or svc.sessions.new_nonce()
    response = render(request, svc, "portal/confirm.html", token=token[:100], form_token=svc.sessions.login_token(nonce))
    response.set_cookie(FORM_COOKIE, nonce, max_age=12 * 3600, httponly=True, samesite="lax", secure=_secure(svc), path="/portal")
    return response


@router.post("/portal/in/{token}", response_class=HTMLResponse)
async def portal_link_use(request: Request, svc: Site, token: str) -> Response:
    form = await _form(request)
    if not svc.sessions.login_ok(request.cookies.get(FORM_COOKIE), form.get("csrf")):
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    try:
        contact_id = await actions.redeem_sign_in(svc.ctx, token)
    except NotFound:
        return problem(request, svc, 404, "link_bad")
    return _start_session(svc, contact_id)


@router.get("/portal/v/{token}", response_class=HTMLResponse)
async def portal_view_link(request: Request, svc: Site, token: str) -> Response:
    """The signed "View your requests" link of every e-mail: it opens a portal session."""
    contact_id = svc.portal.check_view(token)
    if contact_id is None:
        return problem(request, svc, 404, "link_bad")
    return _start_session(svc, contact_id)


@router.post("/portal/sign-out")
async def portal_sign_out(request: Request, svc: Site) -> Response:
    session = session_of(request, svc)
    form = await _form(request)
    if session is not None and not svc.portal.csrf_ok(session, form.get("csrf")):
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    response = RedirectResponse("/portal", status_code=303)
    response.delete_cookie(COOKIE, path="/portal")
    return response


# -- the person's requests ------------------------------------------------------------------


async def _signed_in(request: Request, svc: Services) -> tuple[PortalSession, list[int]] | None:
    session = session_of(request, svc)
    if session is None:
        return None
    person = await _person(svc, session)
    return (session, person[1]) if person is not None else None


@router.get("/portal/requests/{conversation}", response_class=HTMLResponse)
async def portal_request(request: Request, svc: Site, conversation: str) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        return RedirectResponse("/portal", status_code=303)
    return await _request_page(request, svc, who, conversation)


async def _request_page(
    request: Request, svc: Services, who: tuple[PortalSession, list[int]], raw_id: str, status: int = 200, **context: Any
) -> Response:
    session, contacts = who
    conversation_id = _id(raw_id)

    def read(s: Any) -> Any:
        conversation = q.own_conversation(s, contacts, conversation_id) if conversation_id is not None else None
        if conversation is None:
            return None
        ticket, req = q.ticket_of(s, conversation.id)
        spec = q.request_type_named(s, req.request_type) if req is not None else None
        return conversation, q.thread(s, conversation.id), ticket, req, spec

    found = await svc.db.query(read)
    if found is None:
        return problem(request, svc, 404)
    conversation, messages, ticket, req, spec = found
    labels = {f.name: f.label for f in spec.spec.fields} if spec is not None else {}
    return render(
        request,
        svc,
        "portal/request.html",
        status,
        conversation=conversation,
        messages=messages,
        ticket=ticket,
        req=req,
        labels=labels,
        session=session,
        **context,
    )


@router.post("/portal/requests/{conversation}/reply", response_class=HTMLResponse)
async def portal_reply(request: Request, svc: Site, conversation: str) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    session, contacts = who
    try:
        fields, form = await reply_form(request)
        files = await attached_files(form)
    except (UnreadableForm, UploadRefused) as exc:
        return await _request_page(request, svc, who, conversation, 422, error=str(exc))
    if not svc.portal.csrf_ok(session, fields.get("csrf")):
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    conversation_id = _id(conversation)
    if conversation_id is None:
        return problem(request, svc, 404)
    try:
        await actions.portal_reply(
            svc.ctx,
            svc.ingestor,
            session.contact_id,
            conversation_id,
            fields.get("text", ""),
            [InboundAttachment(f.filename, f.content_type, f.data) for f in files],
        )
    except NotFound:
        return problem(request, svc, 404)
    except DomainError as exc:
        return await _request_page(request, svc, who, conversation, 422, error=str(exc), text=fields.get("text", ""))
    return RedirectResponse(f"/portal/requests/{conversation_id}?sent=1", status_code=303)


@router.get("/portal/tickets/{number}")
async def portal_ticket(request: Request, svc: Site, number: str) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        return RedirectResponse("/portal", status_code=303)
    value = _id(number)
    found = await svc.db.query(lambda s: q.conversation_of_ticket(s, who[1], value)) if value is not None and value < 2**31 else None
    if found is None:
        return problem(request, svc, 404)
    return RedirectResponse(f"/portal/requests/{found}", status_code=303)


@router.get("/portal/attachments/{attachment}")
async def portal_attachment(request: Request, svc: Site, attachment: str) -> Response:
    who = await _signed_in(request, svc)
    value = _id(attachment)
    found = await svc.db.query(lambda s: q.attachment_of(s, who[1], value)) if who is not None and value is not None else None
    if found is None:
        return problem(request, svc, 404)
    row, data = found
    safe_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in row.filename)[:120] or "file"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


# -- new requests -----------------------------------------------------------------------------


@router.get("/portal/new", response_class=HTMLResponse)
async def portal_new(request: Request, svc: Site) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        lang = request.query_params.get("lang")
        return RedirectResponse(f"/portal?lang={lang}" if lang in LANGUAGES else "/portal", status_code=303)
    kinds = await svc.db.query(q.request_types_in)
    return render(request, svc, "portal/new.html", kinds=kinds, session=who[0])


async def _type(svc: Services, raw: str | None) -> q.StoredType | None | bool:
    """The chosen type; None for "something else"; False for an id that is no type."""
    if not raw or raw == "other":
        return None
    value = _id(raw)
    if value is None:
        return False
    kinds = await svc.db.query(q.request_types_in)
    return next((k for k in kinds if k.id == value), False)


@router.get("/portal/new/{kind}", response_class=HTMLResponse)
async def portal_new_form(request: Request, svc: Site, kind: str) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        return RedirectResponse("/portal", status_code=303)
    chosen = await _type(svc, kind)
    if chosen is False:
        return problem(request, svc, 404)
    return render(request, svc, "portal/form.html", kind=chosen, values={}, session=who[0])


@router.post("/portal/new/{kind}", response_class=HTMLResponse)
async def portal_new_submit(request: Request, svc: Site, kind: str) -> Response:
    who = await _signed_in(request, svc)
    if who is None:
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    session = who[0]
    chosen = await _type(svc, kind)
    if chosen is False:
        return problem(request, svc, 404)
    spec: RequestTypeSpec | None = chosen.spec if isinstance(chosen, q.StoredType) else None
    try:
        fields, form = await reply_form(request)
        files = await attached_files(form)
        named = {}
        for f in spec.fields if spec is not None else ():
            if f.kind == "attachment":
                got = await attached_files(form, f"field.{f.name}")
                if got:
                    named[f.name] = InboundAttachment(got[0].filename, got[0].content_type, got[0].data)
    except (UnreadableForm, UploadRefused) as exc:
        return render(request, svc, "portal/form.html", 422, kind=chosen, values={}, error=str(exc), session=session)
    if not svc.portal.csrf_ok(session, fields.get("csrf")):
        return problem(request, svc, 403, message="CSRF check failed: reload the page and try again.")
    answers = {k.removeprefix("field."): v for k, v in fields.items() if k.startswith("field.")}
    try:
        conversation_id, _ = await actions.open_request(
            svc.ctx,
            svc.ingestor,
            session.contact_id,
            channel_name=svc.config.portal.email_channel,
            subject=fields.get("subject", ""),
            text=fields.get("text", ""),
            request_type=spec,
            answers=answers,
            files=named,
            attachments=[InboundAttachment(f.filename, f.content_type, f.data) for f in files],
        )
    except DomainError as exc:
        return render(
            request, svc, "portal/form.html", 422, kind=chosen, values=fields, error=str(exc), error_field=exc.code, session=session
        )
    return RedirectResponse(f"/portal/requests/{conversation_id}?created=1", status_code=303)


def when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


TEMPLATES.env.filters.setdefault("portal_when", when)
