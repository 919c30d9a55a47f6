"""The satisfaction survey's public pages at /csat/{token} (en/es, no JavaScript).

The e-mail carries five links, `/csat/{token}?rating=N`. Mail scanners and link previews
fetch every link of a message, so a GET never records anything: it shows the survey with
rating N already chosen and a comment box, and the customer's press of "Send" (a POST of
the same token) records it. One click on a link and one press of the button rate; a
scanner that fetched all five links rated nothing. The token is signed (HMAC with the
secret key) and expires after 7 days; the survey takes one rating, the first.

A rating given without a comment (a Telegram or Slack button: the press is the rating)
can take one comment later on the same page: it then shows the comment box alone, the
link the chat channel offers after the press ("Add a comment").
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from inbox.actions import csat as actions
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries import csat as queries
from inbox.runtime.services import Services
from inbox.store.models import utcnow
from inbox.web.templates import TEMPLATES, pick_language
from routing.csat import LABELS, RATINGS
from routing.vocabulary import LANGUAGES

router = APIRouter(include_in_schema=False)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "How did we do?",
        "intro": "Your request “{subject}” is resolved. How would you rate our help?",
        "intro_plain": "Your request is resolved. How would you rate our help?",
        "rating": "Your rating",
        "comment": "Anything you would like to tell us? (optional)",
        "send": "Send rating",
        "thanks_title": "Thank you!",
        "thanks": "Your rating has been recorded: {rating} of 5.",
        "already": "This survey was already answered. Thank you!",
        "gone_title": "Link not valid",
        "gone": "This rating link has expired or is not valid.",
        "pick": "Choose a rating from 1 to 5.",
        "too_long": "The comment is too long.",
        "comment_title": "Add a comment",
        "comment_intro": "You rated our help {rating} of 5. Thank you! Would you like to add a comment?",
        "your_comment": "Your comment",
        "send_comment": "Send comment",
        "empty": "Write a comment first.",
        "commented": "Your comment has been added to your rating. Thank you!",
        "other_language_name": "Español",
    },
    "es": {
        "title": "¿Qué tal le atendimos?",
        "intro": "Su solicitud «{subject}» está resuelta. ¿Cómo valora nuestra ayuda?",
        "intro_plain": "Su solicitud está resuelta. ¿Cómo valora nuestra ayuda?",
        "rating": "Su valoración",
        "comment": "¿Quiere contarnos algo más? (opcional)",
        "send": "Enviar valoración",
        "thanks_title": "¡Gracias!",
        "thanks": "Hemos registrado su valoración: {rating} de 5.",
        "already": "Esta encuesta ya fue respondida. ¡Gracias!",
        "gone_title": "Enlace no válido",
        "gone": "Este enlace de valoración ha caducado o no es válido.",
        "pick": "Elija una valoración de 1 a 5.",
        "too_long": "El comentario es demasiado largo.",
        "comment_title": "Añadir un comentario",
        "comment_intro": "Valoró nuestra ayuda con {rating} de 5. ¡Gracias! ¿Quiere añadir un comentario?",
        "your_comment": "Su comentario",
        "send_comment": "Enviar comentario",
        "empty": "Escriba antes un comentario.",
        "commented": "Su comentario se ha añadido a su valoración. ¡Gracias!",
        "other_language_name": "English",
    },
}
assert set(TEXT["en"]) == set(TEXT["es"])

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Site = Annotated[Services, Depends(_services)]


def _language(request: Request, svc: Services, survey_language: str | None) -> str:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if survey_language in LANGUAGES:
        return str(survey_language)
    return pick_language(None, request.headers.get("accept-language"), svc.config.server.language)


def _render(request: Request, lang: str, status: int, **context: Any) -> HTMLResponse:
    table = TEXT[lang if lang in TEXT else "en"]
    context.update(lang=lang, other_lang="es" if lang == "en" else "en", ct=lambda key, **kw: table[key].format(**kw))
    response = TEMPLATES.TemplateResponse(request, "csat/page.html", context, status_code=status)
    response.headers.update(HEADERS)
    return response


def _survey(svc: Services, token: str) -> int | None:
    return svc.csat.check(token, time.time())


def _form(
    request: Request, lang: str, token: str, view: queries.SurveyView, chosen: int | None, status: int = 200, error: str | None = None
) -> HTMLResponse:
    labels = LABELS.get(lang, LABELS["en"])
    return _render(
        request,
        lang,
        status,
        state="form",
        token=token,
        subject=view.subject,
        choices=list(zip(RATINGS, labels, strict=True)),
        chosen=chosen,
        error=error,
    )


@router.get("/csat/{token}", response_class=HTMLResponse)
async def survey_page(request: Request, svc: Site, token: str) -> HTMLResponse:
    survey_id = _survey(svc, token)
    now = utcnow()
    view = await svc.db.query(lambda s: queries.survey(s, survey_id, now)) if survey_id is not None else None
    if view is None or (view.expired and not view.rated):
        lang = _language(request, svc, view.language if view else None)
        return _render(request, lang, 404, state="gone")
    lang = _language(request, svc, view.language)
    if view.rated and view.comment is None and not view.expired:
        return _render(request, lang, 200, state="comment", token=token, rating=view.rating)
    if view.rated:
        return _render(request, lang, 200, state="already")
    raw = request.query_params.get("rating", "")
    chosen = int(raw) if raw in ("1", "2", "3", "4", "5") else None
    return _form(request, lang, token, view, chosen)


@router.post("/csat/{token}", response_class=HTMLResponse)
async def survey_answer(
    request: Request,
    svc: Site,
    token: str,
    rating: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=20_000)] = "",
) -> HTMLResponse:
    survey_id = _survey(svc, token)
    now = utcnow()
    view = await svc.db.query(lambda s: queries.survey(s, survey_id, now)) if survey_id is not None else None
    if view is None:
        return _render(request, _language(request, svc, None), 404, state="gone")
    lang = _language(request, svc, view.language)
    if view.rated and not rating:  # the comment after a rating given without one
        return await _comment(request, svc, lang, token, view, comment)
    value = int(rating) if rating in ("1", "2", "3", "4", "5") else None
    if value is None:
        return _form(request, lang, token, view, None, 422, TEXT[lang]["pick"])
    try:
        await actions.rate(svc.ctx, view.id, value, comment, via="web")
    except Invalid:
        return _form(request, lang, token, view, value, 422, TEXT[lang]["too_long"])
    except Conflict as exc:
        if exc.code == "already_rated":
            return _render(request, lang, 409, state="already")
        return _render(request, lang, 410, state="gone")
    except NotFound:
        return _render(request, lang, 404, state="gone")
    return _render(request, lang, 200, state="thanks", rating=value)


async def _comment(request: Request, svc: Services, lang: str, token: str, view: queries.SurveyView, comment: str) -> HTMLResponse:
    if view.comment is not None:
        return _render(request, lang, 409, state="already")
    if view.expired:
        return _render(request, lang, 410, state="gone")
    try:
        await actions.add_comment(svc.ctx, view.id, comment, via="web")
    except Invalid:
        error = TEXT[lang]["empty" if not comment.strip() else "too_long"]
        return _render(request, lang, 422, state="comment", token=token, rating=view.rating, error=error)
    except Conflict as exc:
        return _render(request, lang, 409 if exc.code == "has_comment" else 410, state="already" if exc.code == "has_comment" else "gone")
    except NotFound:
        return _render(request, lang, 404, state="gone")
    return _render(request, lang, 200, state="commented")
