"""`frontdesk kb import DIR`: a folder of Markdown files with a small front matter.

    ---
    title: How to reset your password
    category: Account
    language: en            # en | es; else from a name like reset-password.es.md; else en
    slug: reset-password    # else from the title
    status: published       # published (default) | draft
    translation: reset-password   # the group shared by the en and es versions;
                                  # else the file name without .en/.es and .md
    ---
    Markdown body...

Re-importing is idempotent: an article is found again by (translation key, language)
and updated in place, never duplicated. Each file is one `upsert_article` action (audited
like the same write through the API or the UI); a bad file is reported, not fatal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from inbox.actions.kb import upsert_article
from inbox.actions.runner import Actor, Context
from inbox.errors import DomainError
from inbox.pipeline.articles import ArticleDraft, Outcome, slugify

KEYS = {"title", "category", "language", "slug", "status", "translation", "translation_key"}
_LANG_SUFFIX = re.compile(r"^(?P<stem>.+?)\.(?P<lang>en|es)$")


class FrontMatterError(ValueError):
    pass


@dataclass
class ImportReport:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{self.counts[k]} {k}" for k in ("created", "updated", "unchanged")]
        return ", ".join(parts) + (f", {len(self.errors)} failed" if self.errors else "")


def parse(text: str, filename: str) -> ArticleDraft:
    """One file's front matter and body as an article draft."""
    meta: dict[str, str] = {}
    body = text.lstrip("\ufeff")
    if body.startswith("---"):
        head, sep, rest = body[3:].partition("\n---")
        if not sep:
            raise FrontMatterError("front matter opened with --- but never closed")
        for number, raw in enumerate(head.splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line:
                continue
            key, colon, value = line.partition(":")
            key = key.strip().lower()
            if not colon or key not in KEYS:
                raise FrontMatterError(f"line {number}: expected one of {', '.join(sorted(KEYS))} as 'key: value'")
            meta[key] = value.strip().strip("\"'")
        body = rest.split("\n", 1)[1] if "\n" in rest else ""
    name = Path(filename).name.removesuffix(".md").removesuffix(".markdown")
    suffix = _LANG_SUFFIX.match(name)
    stem = suffix.group("stem") if suffix else name
    language = meta.get("language") or (suffix.group("lang") if suffix else "en")
    title = meta.get("title") or _first_heading(body)
    if not title:
        raise FrontMatterError("no title: give 'title:' in the front matter or start with '# Title'")
    if not meta.get("title"):
        body = re.sub(r"\A\s*#\s+[^\n]*\n?", "", body)
    return ArticleDraft(
        title=title,
        body=body.strip() + "\n",
        language=language,
        category=meta.get("category") or None,
        slug=meta.get("slug") or slugify(title),
        status=meta.get("status") or "published",
        translation_key=meta.get("translation") or meta.get("translation_key") or slugify(stem),
    )


def _first_heading(body: str) -> str | None:
    match = re.match(r"\A\s*#\s+(.+)", body)
    return match.group(1).strip() if match else None


def read_folder(folder: Path) -> list[tuple[Path, ArticleDraft | str]]:
    """Every Markdown file under `folder`, parsed, or the reason it cannot be."""
    if not folder.is_dir():
        raise FrontMatterError(f"{folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".md", ".markdown") and p.is_file())
    out: list[tuple[Path, ArticleDraft | str]] = []
    for path in files:
        try:
            out.append((path, parse(path.read_text(encoding="utf-8"), path.name)))
        except (FrontMatterError, UnicodeDecodeError) as exc:
            out.append((path, str(exc)))
    return out


async def import_drafts(
    ctx: Context, actor: Actor, parsed: list[tuple[Path, ArticleDraft | str]]
) -> tuple[ImportReport, list[tuple[Path, Outcome]]]:
    """Upsert every parsed file, one action each; a bad file is reported, not fatal."""
    report = ImportReport()
    done: list[tuple[Path, Outcome]] = []
    for path, draft in parsed:
        if isinstance(draft, str):
            report.errors.append(f"{path}: {draft}")
            continue
        try:
            saved = await upsert_article(ctx, actor, draft)
        except DomainError as exc:
            report.errors.append(f"{path}: {exc.message}")
            continue
        report.counts[saved.outcome] += 1
        done.append((path, saved.outcome))
    return report, done
