"""The public help center at /help: published articles by category, search, en/es.

Server-rendered, no JavaScript, one small inline stylesheet: fast on a phone. Drafts do
not exist here: a draft's URL is a 404 like any unknown one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox.pipeline.articles import category_slug, summary
from inbox.queries import kb
from inbox.runtime.services import Services
from inbox.store.models import Article
from inbox.web.templates import TEMPLATES, pick_language
from routing.vocabulary import LANGUAGES

router = APIRouter(include_in_schema=False)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "help_center": "Help center",
        "how_can_we_help": "How can we help?",
        "search": "Search",
        "search_label": "Search the help center",
        "search_placeholder": "Search articles",
        "results_for": "Results for “{q}”",
        "no_results": "No articles match “{q}”. Try other words, or contact us.",
        "no_articles": "There are no articles yet.",
        "other": "Other articles",
        "articles": "{n} articles",
        "article": "1 article",
        "language": "Language",
        "updated": "Updated",
        "not_found": "We could not find that page.",
        "back": "All articles",
        "in_other_language": "Leer en español",
        "other_language_name": "Español",
        "still_need_help": "Still need help? Write to us and we will answer.",
        "write_to_us": "Open a request",
        "chat_with_us": "Chat with us",
        "your_requests": "Your requests",
    },
    "es": {
        "help_center": "Centro de ayuda",
        "how_can_we_help": "¿En qué podemos ayudarte?",
        "search": "Buscar",
        "search_label": "Buscar en el centro de ayuda",
        "search_placeholder": "Buscar artículos",
        "results_for": "Resultados para «{q}»",
        "no_results": "Ningún artículo coincide con «{q}». Prueba con otras palabras o escríbenos.",
        "no_articles": "Todavía no hay artículos.",
        "other": "Otros artículos",
        "articles": "{n} artículos",
        "article": "1 artículo",
        "language": "Idioma",
        "updated": "Actualizado",
        "not_found": "No encontramos esa página.",
        "back": "Todos los artículos",
        "in_other_language": "Read in English",
        "other_language_name": "English",
        "still_need_help": "¿Sigues necesitando ayuda? Escríbenos y te responderemos.",
        "write_to_us": "Abrir una solicitud",
        "chat_with_us": "Chatear con nosotros",
        "your_requests": "Tus solicitudes",
    },
}

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def other_language(lang: str) -> str:
    return "es" if lang == "en" else "en"


def group_by_category(articles: list[Article], lang: str) -> OrderedDict[str, tuple[str, list[Article]]]:
    """{category slug: (name, articles)}, named categories first, uncategorised last."""
    groups: OrderedDict[str, tuple[str, list[Article]]] = OrderedDict()
    for article in sorted(articles, key=lambda a: (a.category is None, (a.category or "").casefold(), a.title.casefold())):
        slug = category_slug(article.category) or "other"
        name = article.category or TEXT[lang]["other"]
        groups.setdefault(slug, (name, []))[1].append(article)
    return groups


def render(request: Request, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    table = TEXT[lang]
    context.update(
        lang=lang, other_lang=other_language(lang), ht=lambda key, **kw: table[key].format(**kw), summary=summary, cat_slug=category_slug
    )
    context.setdefault("q", "")
    svc: Services = request.app.state.services
    # "Write to us" leads to the portal's new request and to the chat widget (the first widget channel).
    widget = next((c.name for c in svc.config.channels if c.type == "widget"), None)
    context.update(
        portal_new=f"/portal/new?lang={lang}", portal_home=f"/portal?lang={lang}", widget_url=f"/widget/{widget}/demo" if widget else None
    )
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    if status == 200:
        response.headers["Cache-Control"] = "public, max-age=60"
    return response


def not_found(request: Request, lang: str) -> HTMLResponse:
    return render(request, "help/not_found.html", lang if lang in TEXT else "en", 404, switch_url=None)


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Site = Annotated[Services, Depends(_services)]


@router.get("/help")
async def help_root(request: Request, svc: Site) -> Response:
    lang = pick_language(None, request.headers.get("accept-language"), svc.config.server.language)
    return RedirectResponse(f"/help/{lang}", status_code=303)


@router.get("/help/{lang}", response_class=HTMLResponse)
async def help_home(request: Request, svc: Site, lang: str, q: str = "") -> Response:
    if lang not in LANGUAGES:
        return not_found(request, "en")
    query = q.strip()[:200]  # a longer search is cut, not refused: the help center has no error page for it
    async with svc.db.read() as session:
        if query:
            results = await kb.search(session, query, lang, limit=20)
            switch = f"/help/{other_language(lang)}?{urlencode({'q': query})}"
            return render(request, "help/search.html", lang, q=query, results=results, switch_url=switch)
        articles = await kb.published_in(session, lang)
    return render(
        request, "help/home.html", lang, q="", groups=group_by_category(articles, lang), switch_url=f"/help/{other_language(lang)}"
    )


@router.get("/help/{lang}/category/{category}", response_class=HTMLResponse)
async def help_category(request: Request, svc: Site, lang: str, category: str) -> Response:
    if lang not in LANGUAGES:
        return not_found(request, "en")
    async with svc.db.read() as session:
        articles = await kb.published_in(session, lang, category)
    if not articles:
        return not_found(request, lang)
    name = articles[0].category or TEXT[lang]["other"]
    return render(request, "help/category.html", lang, q="", name=name, articles=articles, switch_url=f"/help/{other_language(lang)}")


@router.get("/help/{lang}/{slug}", response_class=HTMLResponse)
async def help_article(request: Request, svc: Site, lang: str, slug: str) -> Response:
    if lang not in LANGUAGES:
        return not_found(request, "en")
    async with svc.db.read() as session:
        article = await kb.get_published(session, lang, slug)
        if article is None:
            return not_found(request, lang)
        translated = (await kb.translations(session, article)).get(other_language(lang))
        related = (
            [a for a in await kb.published_in(session, lang, category_slug(article.category)) if a.id != article.id][:5]
            if article.category
            else []
        )
    switch = f"/help/{translated.language}/{translated.slug}" if translated else f"/help/{other_language(lang)}"
    return render(request, "help/article.html", lang, q="", article=article, related=related, translated=translated, switch_url=switch)
