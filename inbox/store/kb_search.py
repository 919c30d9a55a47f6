"""Article search in English and Spanish: accent folding, stemming and the two indexes.

Accents are folded in Python on both databases, before indexing and before querying,
so "contraseña" and "contrasena" are the same word whatever the server has installed
(PostgreSQL's `unaccent` is an extension that needs a superuser). Then:

- SQLite: an FTS5 table (rowid = article id, unicode61 with remove_diacritics 2) holds
  the title and body already stemmed with the article language's Snowball stemmer, plus
  the unstemmed words for search-as-you-type prefixes. FTS5's own porter tokenizer is
  English-only, which is why stemming happens here.
- PostgreSQL: a tsvector column built with the language's own configuration
  (`english` / `spanish`, Snowball stemmers too), title weighted A over body B, and the
  unstemmed words in `simple` at weight D for prefixes.

Queries are OR of their terms ranked by relevance (BM25 / ts_rank), title above body,
because customers write sentences, not keywords.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession

from routing.vocabulary import LANGUAGES

CONFIGS = {"en": "english", "es": "spanish"}
MAX_TERMS = 24

# Words too common to say anything about an article (folded, so without accents),
# including what customers say around a question ("I need", "quiero").
STOPWORDS = {
    "en": frozenset(
        "a an and are as at be but by can do does did for from has have how i if in into is it its "
        "me my no not of on or our so than that the their them then there these they this to too "
        "was we were what when where which who why will with you your yours am been can't cannot "
        "could would should hi hello thanks thank please need want help get know tell".split()
    ),
    "es": frozenset(
        "a al algo como con cual cuando de del desde donde el ella en entre era es esa ese eso esta "
        "este esto estoy fue ha hay la las le les lo los me mi mis muy no nos o para pero por que "
        "quien se si sin sobre su sus te tengo ti tu tus un una uno unos y ya yo hola gracias "
        "puedo puede favor necesito necesita quiero quisiera ayuda saber".split()
    ),
}

_WORD = re.compile(r"[a-z0-9]+")
_URL = re.compile(r"https?://\S+|\]\([^)]*\)")
_SPANISH_MARKS = re.compile(r"[ñ¿¡áéíóú]", re.IGNORECASE)


def fold(value: str) -> str:
    """Lower case without diacritics: "Contraseña" -> "contrasena"."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(value: str) -> list[str]:
    return _WORD.findall(fold(_URL.sub(" ", value)))


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(CONFIGS.get(language, "english"))


def terms(value: str, language: str) -> list[str]:
    """The searchable terms of a text: folded, stop words dropped, stemmed."""
    stop = STOPWORDS.get(language, STOPWORDS["en"])
    kept = [w for w in words(value) if w not in stop]
    return list(_stemmer(language).stemWords(kept))


def guess_language(value: str, default: str = "en") -> str:
    """English or Spanish, from stop words and Spanish letters; `default` when unsure."""
    tokens = words(value)
    english = sum(t in STOPWORDS["en"] for t in tokens)
    spanish = sum(t in STOPWORDS["es"] for t in tokens) + 2 * len(_SPANISH_MARKS.findall(value))
    if english == spanish:
        return default if default in LANGUAGES else "en"
    return "es" if spanish > english else "en"


# -- the index ------------------------------------------------------------------------------


def index_article(conn: Connection, article_id: int, language: str, title: str, body: str) -> None:
    """(Re)index one article; call in the transaction that saved it."""
    plain_words = " ".join(words(f"{title} {body}"))
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM article_fts WHERE rowid = :id"), {"id": article_id})
        conn.execute(
            text("INSERT INTO article_fts (rowid, title, body, words) VALUES (:id, :title, :body, :words)"),
            {"id": article_id, "title": " ".join(terms(title, language)), "body": " ".join(terms(body, language)), "words": plain_words},
        )
        return
    config = CONFIGS.get(language, "english")
    conn.execute(
        text(
            "UPDATE article SET search_vector ="
            " setweight(to_tsvector(CAST(:config AS regconfig), :title), 'A')"
            " || setweight(to_tsvector(CAST(:config AS regconfig), :body), 'B')"
            " || setweight(to_tsvector('simple', :words), 'D')"
            " WHERE id = :id"
        ),
        {"id": article_id, "config": config, "title": " ".join(words(title)), "body": " ".join(words(body)), "words": plain_words},
    )


def unindex_article(conn: Connection, article_id: int) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM article_fts WHERE rowid = :id"), {"id": article_id})


# -- queries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    article_id: int
    score: float


def query_terms(query: str, language: str, *, prefix: bool) -> tuple[list[str], str | None]:
    """Whole words of the query (folded, no stop words) and the word being typed, if any."""
    tokens = words(query)[:MAX_TERMS]
    typing = None
    if prefix and tokens and not re.search(r"\s$", query):
        typing = tokens.pop()
    stop = STOPWORDS.get(language, STOPWORDS["en"])
    whole = [t for t in tokens if t not in stop]
    if typing is not None and typing in stop:
        typing = None
    return whole, typing


async def search_ids(
    session: AsyncSession, query: str, language: str, *, prefix: bool = False, published_only: bool = True, limit: int = 10
) -> list[Hit]:
    """Best matching articles in `language`, best first."""
    whole, typing = query_terms(query, language, prefix=prefix)
    if not whole and not typing:
        return []
    params: dict[str, object] = {"language": language, "limit": limit}
    status = " AND a.status = 'published'" if published_only else ""
    if session.get_bind().dialect.name == "sqlite":
        stemmer = _stemmer(language)
        parts = [f'"{s}"' for s in dict.fromkeys(stemmer.stemWords(whole))]
        if typing:
            parts.append(f'"{stemmer.stemWord(typing)}"*')
        match = "{title body} : (" + " OR ".join(parts) + ")"
        if typing:  # a half-typed word is matched on the unstemmed words too
            match += f' OR words : "{typing}"*'
        params["match"] = match
        sql = (
            "SELECT a.id, bm25(article_fts, 10.0, 3.0, 1.0) AS score FROM article_fts"
            " JOIN article a ON a.id = article_fts.rowid"
            f" WHERE article_fts MATCH :match AND a.language = :language{status}"
            " ORDER BY score, a.id LIMIT :limit"
        )
        rows = (await session.execute(text(sql), params)).all()
        return [Hit(int(r[0]), -float(r[1])) for r in rows]
    params["config"] = CONFIGS.get(language, "english")
    params["whole"] = " | ".join(dict.fromkeys(whole))
    params["typing"] = f"{typing}:*" if typing else ""
    sql = (
        "WITH q AS (SELECT to_tsquery(CAST(:config AS regconfig), :whole)"
        " || to_tsquery(CAST(:config AS regconfig), :typing)"
        " || to_tsquery('simple', :typing) AS query)"
        " SELECT a.id, ts_rank(a.search_vector, q.query) AS score FROM article a, q"
        f" WHERE a.search_vector @@ q.query AND a.language = :language{status}"
        " ORDER BY score DESC, a.id LIMIT :limit"
    )
    rows = (await session.execute(text(sql), params)).all()
    return [Hit(int(r[0]), float(r[1])) for r in rows]
