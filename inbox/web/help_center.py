"""The public help center at /help: published articles by category, search, en/es.

Server-rendered, no JavaScript, one small inline stylesheet: fast on a phone. Drafts do
not exist here: a draft's URL is a 404 like any unknown one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox import kb
from inbox.runtime.services import Services
from inbox.store.models import Article
from inbox.web.ui.i18n import pick_language
from inbox.web.ui.routes import TEMPLATES

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
        slug = kb.category_slug(article.category) or "other"
        name = article.category or TEXT[lang]["other"]
        groups.setdefault(slug, (name, []))[1].append(article)
    return groups


def render(request: Request, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    table = TEXT[lang]
    context.update(lang=lang, other_lang=other_language(lang), ht=lambda key, **kw: table[key].format(**kw), summary=kb.summary, cat_slug=kb.category_slug)
    context.setdefault("q", "")
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    if status == 200:
        response.headers["Cache-Control"] = "public, max-age=60"
    return response


def not_found(request: Request, lang: str) -> HTMLResponse:
    return render(request, "help/not_found.html", lang if lang in TEXT else "en", 404, switch_url=None)


def install(app: FastAPI) -> None:
    @app.get("/help", include_in_schema=False)
    async def help_root(request: Request) -> Response:
        svc: Services = request.app.state.services
        lang = pick_language(None, request.headers.get("accept-language"), svc.config.server.language)
        return RedirectResponse(f"/help/{lang}", status_code=303)

    @app.get("/help/{lang}", response_class=HTMLResponse, include_in_schema=False)
    async def help_home(request: Request, lang: str, q: str = Query("", max_length=200)) -> Response:
        if lang not in TEXT:
            return not_found(request, "en")
        svc: Services = request.app.state.services
        query = q.strip()
        async with svc.db.read() as session:
            if query:
                results = await kb.search(session, query, lang, limit=20)
                switch = f"/help/{other_language(lang)}?{urlencode({'q': query})}"
                return render(request, "help/search.html", lang, q=query, results=results, switch_url=switch)
            articles = await kb.published_in(session, lang)
        return render(request, "help/home.html", lang, q="", groups=group_by_category(articles, lang), switch_url=f"/help/{other_language(lang)}")

    @app.get("/help/{lang}/category/{category}", response_class=HTMLResponse, include_in_schema=False)
    async def help_category(request: Request, lang: str, category: str) -> Response:
        if lang not in TEXT:
            return not_found(request, "en")
        svc: Services = request.app.state.services
        async with svc.db.read() as session:
            articles = await kb.published_in(session, lang, category)
        if not articles:
            return not_found(request, lang)
        name = articles[0].category or TEXT[lang]["other"]
        return render(request, "help/category.html", lang, q="", name=name, articles=articles, switch_url=f"/help/{other_language(lang)}")

    @app.get("/help/{lang}/{slug}", response_class=HTMLResponse, include_in_schema=False)
    async def help_article(request: Request, lang: str, slug: str) -> Response:
        if lang not in TEXT:
            return not_found(request, "en")
        svc: Services = request.app.state.services
        async with svc.db.read() as session:
            article = await kb.get_published(session, lang, slug)
            if article is None:
                return not_found(request, lang)
            translated = (await kb.translations(session, article)).get(other_language(lang))
            related = [a for a in await kb.published_in(session, lang, kb.category_slug(article.category)) if a.id != article.id][:5] if article.category else []
        switch = f"/help/{translated.language}/{translated.slug}" if translated else f"/help/{other_language(lang)}"
        return render(request, "help/article.html", lang, q="", article=article, related=related, translated=translated, switch_url=switch)
