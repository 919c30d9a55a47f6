"""The knowledge base, the quarantine and GDPR erasure through every surface that offers
them: the same audit entry and the same stored result, and the same refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from inbox.actions import kb as kb_actions
from inbox.actions.runner import CLI
from inbox.pipeline.articles import ArticleDraft
from inbox.pipeline.tickets import create_problem
from inbox.store.models import Article, AuditEntry, Contact, Message, QuarantineItem
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces

FIELDS = ("title", "body", "language", "category", "slug", "status", "translation_key")
GIFT = {
    "title": " Gift  cards ",
    "body": "Gift cards **never** expire.\n",
    "language": "en",
    "category": "Billing",
    "slug": "gift-cards",
    "status": "published",
    "translation_key": "gift-cards",
}


def article_file(folder: Path, fields: dict[str, str], name: str = "gift-cards.md") -> Path:
    """One Markdown file with front matter for `frontdesk kb import` (the folder)."""
    folder.mkdir(exist_ok=True)
    head = "".join(f"{'translation' if k == 'translation_key' else k}: {v.strip()}\n" for k, v in fields.items() if k != "body")
    (folder / name).write_text(f"---\n{head}---\n{fields['body']}")
    return folder


async def stored(surfaces: Surfaces, article_id: int) -> dict[str, object]:
    async with surfaces.api.services.db.read() as session:
        article = await session.get(Article, article_id)
    assert article is not None
    return {**{f: getattr(article, f) for f in FIELDS}, "html": article.html, "published": article.published_at is not None}


async def only_article_id(surfaces: Surfaces) -> int:
    async with surfaces.api.services.db.read() as session:
        ids = (await session.scalars(select(Article.id))).all()
    assert len(ids) == 1
    return ids[0]


async def seed_article(surfaces: Surfaces, **changes: str) -> int:
    draft = ArticleDraft(**{**GIFT, "title": "Gift cards", "status": "draft", **changes})
    saved = await kb_actions.create_article(surfaces.api.services.ctx, CLI, draft)
    return saved.article_id


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_article_create_is_one_action(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/kb/articles", json=GIFT)
        assert response.status_code == 201, response.text
    elif surface == "ui":
        response = await surfaces.form("/ui/kb/new", GIFT)
        assert response.status_code == 303, response.text
    else:
        result = await surfaces.cli("kb", "import", str(article_file(tmp_path / "kb", GIFT)))
        assert result.status == 0, result.stderr
    article_id = await only_article_id(surfaces)
    assert await stored(surfaces, article_id) == {
        **GIFT,
        "title": "Gift cards",
        "html": "<p>Gift cards <strong>never</strong> expire.</p>\n",
        "published": True,
    }
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == (
        "article.create",
        f"article:{article_id}",
        {"title": "Gift cards", "status": "published"},
    )


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_article_update_is_one_action(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    article_id = await seed_article(surfaces)
    before = await stored(surfaces, article_id)
    new = {**GIFT, "title": "Gift cards and vouchers", "status": "published"}
    if surface == "api":
        response = await surfaces.call("PATCH", f"/api/v1/kb/articles/{article_id}", json={"title": new["title"], "status": "published"})
        assert response.status_code == 200, response.text
    elif surface == "ui":
        response = await surfaces.form(f"/ui/kb/{article_id}", new)
        assert response.status_code == 303, response.text
    else:
        result = await surfaces.cli("kb", "import", str(article_file(tmp_path / "kb", new)))
        assert result.status == 0, result.stderr
        assert f"updated\t{tmp_path / 'kb' / 'gift-cards.md'}" in result.stdout
    after = await stored(surfaces, article_id)
    assert after == {**before, "title": "Gift cards and vouchers", "status": "published", "published": True}
    entry = await surfaces.last_audit()
    details = {"changed": ["title", "status"], "title": "Gift cards and vouchers", "status": "published"}
    assert (entry.action, entry.target, entry.details) == ("article.update", f"article:{article_id}", details)


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_publishing_is_an_update_of_the_status(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    article_id = await seed_article(surfaces, title="Gift cards")
    if surface == "api":
        response = await surfaces.call("PATCH", f"/api/v1/kb/articles/{article_id}", json={"status": "published"})
        assert response.status_code == 200, response.text
    elif surface == "ui":
        response = await surfaces.form(f"/ui/kb/{article_id}/status", {"status": "published"})
        assert response.status_code == 303, response.text
    else:
        result = await surfaces.cli("kb", "import", str(article_file(tmp_path / "kb", {**GIFT, "title": "Gift cards"})))
        assert result.status == 0, result.stderr
    assert (await stored(surfaces, article_id))["published"] is True
    assert (await surfaces.client.get("/help/en/gift-cards")).status_code == 200
    entry = await surfaces.last_audit()
    assert (entry.action, entry.details) == ("article.update", {"changed": ["status"], "title": "Gift cards", "status": "published"})
    # The same once more changes nothing and logs nothing.
    count = len(await surfaces.audit_actions())
    again = await surfaces.call("PATCH", f"/api/v1/kb/articles/{article_id}", json={"status": "published"})
    assert again.status_code == 200 and len(await surfaces.audit_actions()) == count


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_a_taken_slug_is_a_conflict_everywhere(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    await seed_article(surfaces, translation_key="")
    before = await surfaces.audit_actions()
    clash = {**GIFT, "title": "Other", "translation_key": "other"}
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/kb/articles", json=clash)
        assert response.status_code == 409 and response.json()["error"] == {
            "code": "conflict",
            "message": "slug: 'gift-cards' is taken in en",
        }
    elif surface == "ui":
        response = await surfaces.form("/ui/kb/new", clash)
        assert response.status_code == 409 and "slug: &#39;gift-cards&#39; is taken in en" in response.text
        assert 'value="Other"' in response.text  # what the user typed stays in the form
    else:
        result = await surfaces.cli("kb", "import", str(article_file(tmp_path / "kb", clash, "other.md")))
        assert result.status == 1 and "slug: 'gift-cards' is taken in en" in result.stderr
    assert await surfaces.audit_actions() == before
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 1


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_an_invalid_article_is_refused_everywhere(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    bad = {**GIFT, "slug": "Not A Slug!"}
    message = "slug: lower-case letters, digits and single dashes"
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/kb/articles", json=bad)
        assert response.status_code == 422 and response.json()["error"] == {"code": "invalid", "message": message}
    elif surface == "ui":
        response = await surfaces.form("/ui/kb/new", bad)
        assert response.status_code == 422 and message in response.text
    else:
        result = await surfaces.cli("kb", "import", str(article_file(tmp_path / "kb", bad)))
        assert result.status == 1 and message in result.stderr
    assert await surfaces.audit_actions() == []


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_a_missing_article_is_not_found_everywhere(surfaces: Surfaces, surface: str) -> None:
    if surface == "api":
        response = await surfaces.call("PATCH", "/api/v1/kb/articles/999999", json={"status": "published"})
        assert response.status_code == 404 and response.json()["error"] == {"code": "not_found", "message": "article not found"}
        deleted = await surfaces.call("DELETE", "/api/v1/kb/articles/999999")
        assert deleted.status_code == 404
    else:
        response = await surfaces.form("/ui/kb/999999", GIFT)
        assert response.status_code == 404 and "article not found" in response.text
        status = await surfaces.form("/ui/kb/999999/status", {"status": "published"})
        assert status.status_code == 404
    assert await surfaces.audit_actions() == []


async def test_article_delete_is_audited_with_its_title(surfaces: Surfaces) -> None:
    article_id = await seed_article(surfaces)
    assert (await surfaces.call("DELETE", f"/api/v1/kb/articles/{article_id}")).status_code == 204
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("article.delete", f"article:{article_id}", {"title": "Gift cards"})


# -- known errors --------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["api", "cli"])
async def test_publish_known_error_is_one_action(surfaces: Surfaces, surface: str) -> None:
    services = surfaces.api.services
    problem_id = await services.db.run(lambda conn: create_problem(conn, "Exports time out", [], workaround="Export one month at a time."))
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/problems/{problem_id}/article", json={"language": "es"})
        assert response.status_code == 201, response.text
    else:
        result = await surfaces.cli("kb", "publish-problem", str(problem_id), "--language", "es")
        assert result.status == 0, result.stderr
        assert result.stdout.startswith("created article ")
    article_id = await only_article_id(surfaces)
    article = await stored(surfaces, article_id)
    assert (article["slug"], article["category"], article["status"]) == (
        "known-error-1-exports-time-out",
        "Problemas conocidos",
        "published",
    )
    assert "Export one month at a time." in str(article["body"])
    entry = await surfaces.last_audit()
    details = {"problem_id": problem_id, "language": "es", "outcome": "created"}
    assert (entry.action, entry.target, entry.details) == ("article.publish_known_error", f"article:{article_id}", details)


@pytest.mark.parametrize("surface", ["api", "cli"])
async def test_publishing_an_unknown_problem_is_not_found(surfaces: Surfaces, surface: str) -> None:
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/problems/999999/article", json={})
        assert response.status_code == 404 and response.json()["error"]["message"] == "problem not found"
    else:
        result = await surfaces.cli("kb", "publish-problem", "999999")
        assert result.status == 1 and "problem not found" in result.stderr
    assert await surfaces.audit_actions() == []


# -- quarantine ----------------------------------------------------------------------------


async def held_item(surfaces: Surfaces, tmp_path: Path, raw: bytes) -> int:
    """A spool channel in the config (its adapter parses again) and one held item."""
    surfaces.add_channel_config({"name": "drop", "type": "spool", "inbox_dir": str(tmp_path / "in"), "outbox_dir": str(tmp_path / "out")})
    channel = await add_channel(surfaces.api.services, "drop", "spool")
    async with surfaces.api.services.db.transaction() as session:
        item = QuarantineItem(channel_id=channel.id, external_id="q-1", error="not JSON", raw=raw)
        session.add(item)
        await session.flush()
        return item.id


async def retry(surfaces: Surfaces, surface: str, item_id: int) -> tuple[int, str]:
    """Retry through a surface: (status: HTTP or exit, what it said)."""
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/quarantine/{item_id}/retry")
        return response.status_code, response.text
    if surface == "ui":
        response = await surfaces.form(f"/admin/quarantine/{item_id}", {"action": "retry"})
        return response.status_code, response.headers.get("location", "") + response.text
    result = await surfaces.cli("quarantine", "retry", str(item_id))
    return result.status, result.stdout + result.stderr


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_quarantine_retry_is_one_action(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    item_id = await held_item(surfaces, tmp_path, b'{"id": "q-1", "from": "ana@example.com", "text": "Where is my parcel?"}')
    status, said = await retry(surfaces, surface, item_id)
    assert status == {"api": 200, "ui": 303, "cli": 0}[surface], said
    async with surfaces.api.services.db.read() as session:
        item = await session.get(QuarantineItem, item_id)
        message = await session.scalar(select(Message).where(Message.external_id == "q-1"))
    assert item is not None and item.status == "retried"
    assert message is not None and message.text == "Where is my parcel?"
    entry = await surfaces.last_audit()
    details = {"ok": True, "message_id": message.id, "conversation_id": message.conversation_id}
    assert (entry.action, entry.target, entry.details) == ("quarantine.retry", f"quarantine:{item_id}", details)
    # Retried is no longer held: a second retry is refused as a conflict.
    again, said = await retry(surfaces, surface, item_id)
    assert again == {"api": 409, "ui": 409, "cli": 1}[surface] and "is retried, not held" in said.replace("+", " ").replace("%2C", ",")


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_input_that_still_cannot_be_parsed_stays_held(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    item_id = await held_item(surfaces, tmp_path, b'{"id": "q-1", "from": ')
    status, said = await retry(surfaces, surface, item_id)
    assert status == {"api": 409, "ui": 409, "cli": 1}[surface]
    assert "still cannot parse item" in said.replace("+", " ")
    async with surfaces.api.services.db.read() as session:
        item = await session.get(QuarantineItem, item_id)
    assert item is not None and item.status == "held" and item.error.startswith("retry failed: not JSON")
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details["ok"]) == ("quarantine.retry", f"quarantine:{item_id}", False)


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_retrying_a_missing_item_is_not_found(surfaces: Surfaces, surface: str) -> None:
    status, said = await retry(surfaces, surface, 999999)
    assert status == {"api": 404, "ui": 404, "cli": 1}[surface] and "quarantine item not found" in said
    assert await surfaces.audit_actions() == []


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_quarantine_discard_is_one_action(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    item_id = await held_item(surfaces, tmp_path, b"garbage")
    if surface == "api":
        assert (await surfaces.call("DELETE", f"/api/v1/quarantine/{item_id}")).status_code == 204
        assert (await surfaces.call("DELETE", f"/api/v1/quarantine/{item_id}")).status_code == 404
    else:
        assert (await surfaces.form(f"/admin/quarantine/{item_id}", {"action": "delete"})).status_code == 303
        assert (await surfaces.form(f"/admin/quarantine/{item_id}", {"action": "delete"})).status_code == 404
    async with surfaces.api.services.db.read() as session:
        item = await session.get(QuarantineItem, item_id)
    assert item is not None and (item.status, item.raw) == ("deleted", b"")
    assert (await surfaces.audit_actions())[-1] == ("quarantine.delete", f"quarantine:{item_id}")
    entry = await surfaces.last_audit()
    assert entry.details == {"channel": "drop"}


# -- GDPR erasure (the CLI is its only surface) ----------------------------------------------


async def test_erase_contact_is_audited_with_its_counts(surfaces: Surfaces) -> None:
    services = surfaces.api.services
    channel = await add_channel(services)
    [result] = await services.ingestor.ingest(channel, [inbound("a1", sender="ana@example.com", name="Ana", text="my IBAN is X")])
    erased = await surfaces.cli("erase-contact", "ANA@example.com", "--yes")
    assert erased.status == 0, erased.stderr
    assert erased.stdout.strip() == "erased: 1 conversations, 1 messages, 1 identities, 0 blobs"
    async with services.db.read() as session:
        contact_id = await session.scalar(select(Message.contact_id).where(Message.external_id == "a1"))
        contact = await session.get(Contact, contact_id)
        text = await session.scalar(select(Message.text).where(Message.external_id == "a1"))
    assert contact is not None and (contact.name, contact.email, text) == ("Erased contact", None, "[erased]")
    entry = await surfaces.last_audit()
    counts = {"conversations": 1, "messages": 1, "identities": 1, "blobs": 0}
    assert (entry.action, entry.target, entry.details, entry.agent_id) == ("contact.erase", f"contact:{contact_id}", counts, None)
    assert result.conversation_id is not None


async def test_erasing_an_unknown_contact_is_not_found(surfaces: Surfaces) -> None:
    result = await surfaces.cli("erase-contact", "nobody@example.com", "--yes")
    assert result.status == 1 and "no contact 'nobody@example.com'" in result.stderr
    exported = await surfaces.cli("export-contact", "nobody@example.com")
    assert exported.status == 1 and "no contact 'nobody@example.com'" in exported.stderr
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
