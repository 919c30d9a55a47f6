"""`frontdesk kb import DIR`: front matter, translation groups, idempotent re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from inbox.actions import kb_import
from inbox.actions.runner import CLI
from inbox.runtime.services import Services
from inbox.store.models import Article

EN = """---
title: How to reset your password
category: Account
---
Click **Forgot password** on the sign-in page.
"""

ES = """---
title: Cómo restablecer tu contraseña
category: Cuenta
slug: restablecer-contrasena
---
Pulsa **¿Olvidaste tu contraseña?** en la página de inicio de sesión.
"""

DRAFT = """---
title: Upcoming changes
status: draft
language: en
translation: roadmap
---
Not yet.
"""


def write_folder(root: Path) -> Path:
    folder = root / "kb"
    (folder / "account").mkdir(parents=True)
    (folder / "account" / "reset-password.en.md").write_text(EN)
    (folder / "account" / "reset-password.es.md").write_text(ES)
    (folder / "roadmap.md").write_text(DRAFT)
    (folder / "notes.txt").write_text("not an article")
    return folder


async def run_import(services: Services, folder: Path) -> kb_import.ImportReport:
    parsed = kb_import.read_folder(folder)
    report, _ = await kb_import.import_drafts(services.ctx, CLI, parsed)
    return report


async def articles(services: Services) -> list[Article]:
    async with services.db.read() as session:
        return list((await session.scalars(select(Article).order_by(Article.language, Article.slug))).all())


async def test_import_creates_translations_and_reimport_changes_nothing(services: Services, tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    first = await run_import(services, folder)
    assert (first.counts["created"], first.errors) == (3, [])
    rows = await articles(services)
    by_slug = {(a.language, a.slug): a for a in rows}
    en, es = by_slug["en", "how-to-reset-your-password"], by_slug["es", "restablecer-contrasena"]
    assert en.translation_key == es.translation_key == "reset-password"
    assert (en.status, en.category, es.category) == ("published", "Account", "Cuenta")
    assert "<strong>Forgot password</strong>" in en.html
    assert by_slug["en", "upcoming-changes"].status == "draft"

    again = await run_import(services, folder)
    assert (again.counts["created"], again.counts["updated"], again.counts["unchanged"]) == (0, 0, 3)
    assert [(a.id, a.updated_at) for a in await articles(services)] == [(a.id, a.updated_at) for a in rows]


async def test_reimport_after_an_edit_updates_in_place(services: Services, tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    await run_import(services, folder)
    before = {a.translation_key: a.id for a in await articles(services) if a.language == "es"}
    (folder / "account" / "reset-password.es.md").write_text(
        ES.replace("Cómo restablecer", "Restablecer").replace("slug: restablecer-contrasena\n", "")
    )
    report = await run_import(services, folder)
    assert (report.counts["updated"], report.counts["unchanged"], report.counts["created"]) == (1, 2, 0)
    es = [a for a in await articles(services) if a.language == "es"]
    assert len(es) == 1 and es[0].id == before["reset-password"]
    assert (es[0].title, es[0].slug) == ("Restablecer tu contraseña", "restablecer-tu-contrasena")


async def test_a_bad_file_is_reported_and_the_rest_imported(services: Services, tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    (folder / "broken.md").write_text("---\ntitle: Broken\nauthor: me\n---\nbody\n")
    (folder / "bad-language.md").write_text("---\ntitle: Hallo\nlanguage: de\n---\nbody\n")
    report = await run_import(services, folder)
    assert report.counts["created"] == 3
    assert len(report.errors) == 2
    assert any("broken.md" in e and "line 3" in e for e in report.errors)
    assert any("bad-language.md" in e and "language" in e for e in report.errors)


def test_front_matter_defaults_come_from_the_file_name_and_heading() -> None:
    draft = kb_import.parse("# Where is my order?\n\nIt ships today.\n", "shipping.es.md")
    assert (draft.title, draft.language, draft.translation_key, draft.slug, draft.status) == (
        "Where is my order?", "es", "shipping", "where-is-my-order", "published",
    )  # fmt: skip
    assert draft.body == "It ships today.\n"
    with pytest.raises(kb_import.FrontMatterError):
        kb_import.parse("---\ntitle: never closed\n", "x.md")
    with pytest.raises(kb_import.FrontMatterError):
        kb_import.parse("no title here", "x.md")


def test_the_example_folder_parses(tmp_path: Path) -> None:
    parsed = kb_import.read_folder(Path(__file__).resolve().parents[3] / "config" / "kb-example")
    assert len(parsed) >= 6 and all(not isinstance(d, str) for _, d in parsed)
    assert {d.language for _, d in parsed if not isinstance(d, str)} == {"en", "es"}


async def test_count_is_per_translation_and_language(services: Services, tmp_path: Path) -> None:
    await run_import(services, write_folder(tmp_path))
    await run_import(services, write_folder(tmp_path / "again"))
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 3


def test_cli_import_twice_then_publish_a_problem(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from inbox import cli
    from inbox.pipeline.tickets import create_problem
    from inbox.store.db import Database

    config = tmp_path / "frontdesk.toml"
    config.write_text(f'[server]\nsecret_key = "cli-test-secret-0123456789"\n[database]\nurl = "{db_url}"\n')
    folder = write_folder(tmp_path)
    assert cli.main(["kb", "import", str(folder), "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(": 3 created, 0 updated, 0 unchanged")
    assert cli.main(["kb", "import", str(folder), "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{folder}: 0 created, 0 updated, 3 unchanged"]

    async def add_problem() -> int:
        db = Database(db_url)
        try:
            return await db.run(lambda conn: create_problem(conn, "Exports time out", [], workaround="Export one month at a time."))
        finally:
            await db.dispose()

    problem_id = asyncio.run(add_problem())
    assert cli.main(["kb", "publish-problem", str(problem_id), "--language", "es", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("created article ") and "/help/es/known-error-1-exports-time-out" in out
    assert cli.main(["kb", "publish-problem", "999", "--config", str(config)]) == 1
