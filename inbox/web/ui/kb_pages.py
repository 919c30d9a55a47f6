"""Agent UI for the knowledge base at /ui/kb: list, write, edit, publish and unpublish
articles; and the "solved by article" button of a conversation. Agents and admins alike."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox import kb
from inbox.queries import conversations as conv
from inbox.runtime.services import Services
from inbox.store.models import Article
from inbox.web.ui.routes import Page, posted, signed_in

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "kb": "Knowledge base",
        "new": "New article",
        "edit": "Edit article",
        "title": "Title",
        "body": "Body (Markdown)",
        "category": "Category",
        "language": "Language",
        "slug": "Slug (part of the address; empty: from the title)",
        "translation_key": "Translation group (the same for the English and Spanish versions)",
        "status": "Status",
        "draft": "Draft",
        "published": "Published",
        "publish": "Publish",
        "unpublish": "Unpublish",
        "save": "Save",
        "view": "View in the help center",
        "none": "No articles yet. Write one, or import a folder with `frontdesk kb import DIR`.",
        "updated": "Updated",
        "saved": "Saved.",
        "solved": "Solved",
        "all": "All",
        "suggested": "Suggested articles",
        "no_suggestions": "No matching articles.",
        "insert": "Insert link",
        "solved_by": "Solved by this",
        "solved_done": "Recorded as solved by this article.",
        "insert_hint": "Alt+1…3 inserts a link into the reply.",
        "translation": "Translation",
    },
    "es": {
        "kb": "Base de conocimiento",
        "new": "Nuevo artículo",
        "edit": "Editar artículo",
        "title": "Título",
        "body": "Texto (Markdown)",
        "category": "Categoría",
        "language": "Idioma",
        "slug": "Slug (parte de la dirección; vacío: a partir del título)",
        "translation_key": "Grupo de traducción (el mismo para las versiones en inglés y español)",
        "status": "Estado",
        "draft": "Borrador",
        "published": "Publicado",
        "publish": "Publicar",
        "unpublish": "Despublicar",
        "save": "Guardar",
        "view": "Ver en el centro de ayuda",
        "none": "Todavía no hay artículos. Escribe uno o importa una carpeta con `frontdesk kb import DIR`.",
        "updated": "Actualizado",
        "saved": "Guardado.",
        "solved": "Resueltas",
        "all": "Todos",
        "suggested": "Artículos sugeridos",
        "no_suggestions": "Ningún artículo coincide.",
        "insert": "Insertar enlace",
        "solved_by": "Resuelto con este",
        "solved_done": "Registrado como resuelto con este artículo.",
        "insert_hint": "Alt+1…3 inserta un enlace en la respuesta.",
        "translation": "Traducción",
    },
}


def kb_text(lang: str) -> Any:
    table = TEXT.get(lang, TEXT["en"])
    return lambda key: table.get(key, TEXT["en"].get(key, key))


def _form_draft(title: str, body: str, language: str, category: str, slug: str, status: str, translation_key: str) -> kb.ArticleDraft:
    return kb.ArticleDraft(
        title=title, body=body.replace("\r\n", "\n"), language=language, category=category.strip() or None,
        slug=slug.strip() or None, status=status, translation_key=translation_key.strip() or None,
    )  # fmt: skip


def install(app: FastAPI) -> None:
    def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return page.render(template, status, kt=kb_text(page.lang), **context)

    @app.get("/ui/kb", response_class=HTMLResponse, include_in_schema=False)
    async def kb_list(request: Request, status: str = "", language: str = "") -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        async with svc.db.read() as session:
            query = select(Article)
            if status in kb.STATUSES:
                query = query.where(Article.status == status)
            if language in kb.LANGUAGES:
                query = query.where(Article.language == language)
            articles = list((await session.scalars(query.order_by(Article.category, Article.title, Article.language).limit(500))).all())
            solved = await kb.solved_counts(session)
        return render(page, "kb/list.html", articles=articles, solved=solved, view_status=status, view_language=language)

    @app.get("/ui/kb/new", response_class=HTMLResponse, include_in_schema=False)
    async def kb_new(request: Request, translation_of: int | None = None) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        form: dict[str, Any] = {"language": page.lang, "status": "draft"}
        if translation_of:
            async with svc.db.read() as session:
                source = await kb.get_article(session, translation_of)
            if source is not None:
                form.update(
                    language="es" if source.language == "en" else "en",
                    translation_key=source.translation_key or source.slug,
                    body=source.body,
                )
        return render(page, "kb/edit.html", article=None, form=form)

    @app.post("/ui/kb/new", response_class=HTMLResponse, include_in_schema=False)
    async def kb_create(
        request: Request,
        csrf: str = Form(""), title: str = Form(""), body: str = Form(""), language: str = Form("en"), category: str = Form(""),
        slug: str = Form(""), status: str = Form("draft"), translation_key: str = Form(""),
    ) -> Response:  # fmt: skip
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        draft = _form_draft(title, body, language, category, slug, status, translation_key)
        try:
            article_id = await svc.db.run(lambda conn: kb.save_article(conn, draft))
        except kb.KbError as exc:
            return render(page, "kb/edit.html", 422, article=None, form=_as_form(draft), error=str(exc))
        return RedirectResponse(f"/ui/kb/{article_id}?saved=1", status_code=303)

    @app.get("/ui/kb/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    async def kb_edit(request: Request, article_id: int, saved: str = "") -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        async with svc.db.read() as session:
            article = await kb.get_article(session, article_id)
            if article is None:
                return page.render("ui/error.html", 404, message="404")
            others = await kb.translations(session, article, published_only=False)
        return render(page, "kb/edit.html", article=article, form=_as_form(article), translations=others, notice=kb_text(page.lang)("saved") if saved else None)

    @app.post("/ui/kb/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    async def kb_update(
        request: Request, article_id: int,
        csrf: str = Form(""), title: str = Form(""), body: str = Form(""), language: str = Form("en"), category: str = Form(""),
        slug: str = Form(""), status: str = Form("draft"), translation_key: str = Form(""),
    ) -> Response:  # fmt: skip
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        draft = _form_draft(title, body, language, category, slug, status, translation_key)
        try:
            await svc.db.run(lambda conn: kb.save_article(conn, draft, article_id))
        except kb.KbError as exc:
            if exc.missing:
                return page.render("ui/error.html", 404, message="404")
            async with svc.db.read() as session:
                article = await kb.get_article(session, article_id)
            return render(page, "kb/edit.html", 422, article=article, form=_as_form(draft), error=str(exc))
        return RedirectResponse(f"/ui/kb/{article_id}?saved=1", status_code=303)

    @app.post("/ui/kb/{article_id}/status", include_in_schema=False)
    async def kb_status(request: Request, article_id: int, csrf: str = Form(""), status: str = Form("")) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        svc: Services = request.app.state.services
        try:
            await svc.db.run(lambda conn: kb.set_status(conn, article_id, status))
        except kb.KbError as exc:
            return page.render("ui/error.html", 404 if exc.missing else 422, message=str(exc))
        back = request.headers.get("referer") or ""
        return RedirectResponse("/ui/kb" if back.rstrip("/").endswith("/ui/kb") else f"/ui/kb/{article_id}", status_code=303)

    @app.post("/ui/kb/conversations/{conversation_id}/solved", include_in_schema=False)
    async def kb_solved(request: Request, conversation_id: int, csrf: str = Form(""), article_id: int = Form(0)) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc: Services = request.app.state.services
        async with svc.db.read() as session:
            if await conv.get_visible(session, page.who, conversation_id) is None:
                return page.render("ui/error.html", 404, message="404")
        agent_id = page.who.agent_id
        try:
            await svc.db.run(lambda conn: kb.record_resolution(conn, conversation_id, article_id, agent_id))
        except kb.KbError as exc:
            return page.render("ui/error.html", 404, message=str(exc))
        return RedirectResponse(f"/conversations/{conversation_id}?solved={article_id}", status_code=303)


def _as_form(article: Article | kb.ArticleDraft) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "language": article.language,
        "category": article.category or "",
        "slug": article.slug or "",
        "status": article.status,
        "translation_key": article.translation_key or "",
    }
