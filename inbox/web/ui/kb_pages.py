"""Agent UI for the knowledge base at /ui/kb: list, write, edit, publish and unpublish
articles; and the "solved by article" button of a conversation. Agents and admins alike."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox.actions import kb as kb_actions
from inbox.errors import DomainError, NotFound
from inbox.pipeline.articles import ArticleDraft
from inbox.queries import kb
from inbox.store.models import Article
from inbox.web.errors import status_of
from inbox.web.ids import MAX_ID, Id
from inbox.web.ui.routes import AgentForm, AgentPage, Page
from routing.vocabulary import ARTICLE_STATUSES, LANGUAGES

router = APIRouter(include_in_schema=False)

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


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return page.render(template, status, kt=kb_text(page.lang), **context)


class ArticleForm:
    """The article editor's fields, as posted (what the user typed is kept on a refusal)."""

    def __init__(
        self,
        title: Annotated[str, Form()] = "",
        body: Annotated[str, Form()] = "",
        language: Annotated[str, Form()] = "en",
        category: Annotated[str, Form()] = "",
        slug: Annotated[str, Form()] = "",
        status: Annotated[str, Form()] = "draft",
        translation_key: Annotated[str, Form()] = "",
    ) -> None:
        self.draft = ArticleDraft(
            title=title, body=body.replace("\r\n", "\n"), language=language, category=category.strip() or None,
            slug=slug.strip() or None, status=status, translation_key=translation_key.strip() or None,
        )  # fmt: skip

    def changes(self) -> dict[str, str | None]:
        """Every field, as an update: an emptied optional field is cleared."""
        d = self.draft
        return {
            "title": d.title, "body": d.body, "language": d.language, "category": d.category,
            "slug": d.slug, "status": d.status, "translation_key": d.translation_key,
        }  # fmt: skip


@router.get("/ui/kb", response_class=HTMLResponse)
async def kb_list(page: AgentPage, status: str = "", language: str = "") -> Response:
    async with page.services.db.read() as session:
        articles = await kb.by_category(
            session, status=status if status in ARTICLE_STATUSES else None, language=language if language in LANGUAGES else None
        )
        solved = await kb.solved_counts(session)
    return render(page, "kb/list.html", articles=articles, solved=solved, view_status=status, view_language=language)


@router.get("/ui/kb/new", response_class=HTMLResponse)
async def kb_new(page: AgentPage, translation_of: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    form: dict[str, Any] = {"language": page.lang, "status": "draft"}
    if translation_of:
        async with page.services.db.read() as session:
            source = await kb.get_article(session, translation_of)
        if source is not None:
            form.update(
                language="es" if source.language == "en" else "en",
                translation_key=source.translation_key or source.slug,
                body=source.body,
            )
    return render(page, "kb/edit.html", article=None, form=form)


@router.post("/ui/kb/new", response_class=HTMLResponse)
async def kb_create(page: AgentForm, posted: Annotated[ArticleForm, Depends()]) -> Response:
    try:
        saved = await kb_actions.create_article(page.services.ctx, page.actor, posted.draft)
    except DomainError as exc:
        return render(page, "kb/edit.html", status_of(exc), article=None, form=_as_form(posted.draft), error=exc.message)
    return RedirectResponse(f"/ui/kb/{saved.article_id}?saved=1", status_code=303)


@router.get("/ui/kb/{article_id}", response_class=HTMLResponse)
async def kb_edit(page: AgentPage, article_id: Id, saved: str = "") -> Response:
    async with page.services.db.read() as session:
        article = await kb.get_article(session, article_id)
        if article is None:
            raise NotFound.of("article")
        others = await kb.translations(session, article, published_only=False)
    notice = kb_text(page.lang)("saved") if saved else None
    return render(page, "kb/edit.html", article=article, form=_as_form(article), translations=others, notice=notice)


@router.post("/ui/kb/{article_id}", response_class=HTMLResponse)
async def kb_update(page: AgentForm, article_id: Id, posted: Annotated[ArticleForm, Depends()]) -> Response:
    try:
        await kb_actions.update_article(page.services.ctx, page.actor, article_id, posted.changes())
    except NotFound:
        raise
    except DomainError as exc:
        async with page.services.db.read() as session:
            article = await kb.get_article(session, article_id)
        return render(page, "kb/edit.html", status_of(exc), article=article, form=_as_form(posted.draft), error=exc.message)
    return RedirectResponse(f"/ui/kb/{article_id}?saved=1", status_code=303)


@router.post("/ui/kb/{article_id}/status")
async def kb_status(page: AgentForm, article_id: Id, status: Annotated[str, Form()] = "") -> Response:
    await kb_actions.set_article_status(page.services.ctx, page.actor, article_id, status)
    back = page.request.headers.get("referer") or ""
    return RedirectResponse("/ui/kb" if back.rstrip("/").endswith("/ui/kb") else f"/ui/kb/{article_id}", status_code=303)


@router.post("/ui/kb/conversations/{conversation_id}/solved")
async def kb_solved(page: AgentForm, conversation_id: Id, article_id: Annotated[int, Form(ge=0, le=MAX_ID)] = 0) -> Response:
    await kb_actions.record_resolution(page.services.ctx, page.actor, conversation_id, article_id)
    return RedirectResponse(f"/conversations/{conversation_id}?solved={article_id}", status_code=303)


def _as_form(article: Article | ArticleDraft) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "language": article.language,
        "category": article.category or "",
        "slug": article.slug or "",
        "status": article.status,
        "translation_key": article.translation_key or "",
    }
