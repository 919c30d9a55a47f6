"""Surge detection: similar inbound messages in a short window, as pure functions.

The method, step by step (all on the CPU, no model, no external service):

1. `tokens`: lower-case, strip accents (NFKD, combining marks dropped), split on
   anything that is not a letter or digit, drop English and Spanish stop words and
   one-letter words, then stem lightly: a few plural/verb suffixes are cut (-ing, -ed,
   -es, -s; -ando, -iendo, -ción...) and every word is cut to its first 6 letters, so
   "payments", "payment" and "paymnt" mostly meet, as do "caído"/"caida"/"caidas".
2. `vectors`: TF-IDF over the messages of the window, with a smoothed idf
   ``log((1 + n + B) / (1 + df)) + 1``: `B` (`BACKGROUND`) pseudo-messages that share
   no word with any other stand for the ordinary traffic around the window, so a word
   every message of a quiet window shares (the "login" of five login complaints) still
   weighs more than the words each says differently; *symptom words* ("error", "down", "broken",
   "caído", "falla"...) say that something is wrong, not what, so their weight is
   multiplied by `SYMPTOM_WEIGHT`: two outages at once do not chain into one through
   them. Each vector is L2-normalised.
3. `similarity`: cosine of two vectors, plus `name_boost` when both messages name the
   same service or configuration item (`mentions`: every word of the name, tokenised
   the same way, appears in the message).
4. `clusters`: single-link — two messages are in one cluster when a chain of pairs
   at or above `threshold` joins them (union–find over the pairs).
5. `plan`: a cluster with messages from at least `min_messages` distinct conversations
   is a surge. A surge sharing a conversation with an open suggestion extends it;
   otherwise it becomes a new suggestion, naming the service or item most of its
   messages mention (None when they name none).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 0.3
DEFAULT_NAME_BOOST = 0.25

STOP_WORDS = frozenset(
    """
    a about after again all also am an and any are as at be been before being but by can
    could did do does doing for from had has have having he her here hers him his how
    i if in into is it its just me more most my no nor not now of off on once only or other
    our out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours hi hello hey thanks thank please pls since
    dear team regards best cheers get got im ive dont cant wont isnt doesnt again still
    al algo algun alguna alguno ante antes como con contra cual cuando de del desde donde
    durante e el ella ellas ellos en entre era eran es esa ese eso esta estaba estan estar
    este esto estos fue fueron ha han hay hola gracias la las le les lo los mas me mi mis
    mucho muy nada ni no nos nosotros o os otra otro para pero poco por porque que quien se
    ser si sin sobre son su sus tambien te tengo tiene tu tus un una uno unos unas usted ya
    yo saludos buenas buenos dias tardes favor ayuda
    """.split()
)

SYMPTOM_WORDS = frozenset(
    """
    error errors fail fails failing failed failure broken broke down outage issue issues problem problems
    working work works not cant cannot unable wont doesnt keeps stuck again anyone else today since
    falla fallando fallo fallan funciona funcionan caido caida caidos roto problema problemas
    hay pasa puedo deja todo nada
    """.split()
)
SYMPTOM_WEIGHT = 0.35
BACKGROUND = 20

_SUFFIXES = ("aciones", "iendo", "ando", "acion", "ation", "cion", "ing", "ed", "es", "s")
_WORD = re.compile(r"[a-z0-9]+")
STEM_LENGTH = 6


def fold(text: str) -> str:
    """Lower-case, without accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:STEM_LENGTH]


_SYMPTOM_STEMS = frozenset(stem(w) for w in SYMPTOM_WORDS)


def tokens(text: str) -> list[str]:
    """The message's words as the detector compares them (see the module's step 1)."""
    return [stem(w) for w in _WORD.findall(fold(text)) if len(w) > 1 and not w.isdigit() and w not in STOP_WORDS]


def mentions(text_tokens: Iterable[str], names: Iterable[str]) -> set[str]:
    """The names (of services, configuration items) every word of which the message has."""
    have = set(text_tokens)
    found = set()
    for name in names:
        words = tokens(name)
        if words and all(w in have for w in words):
            found.add(name)
    return found


Vector = dict[str, float]


def vectors(docs: Sequence[Sequence[str]], background: int = 0) -> list[Vector]:
    """L2-normalised TF-IDF vectors of tokenised documents, the idf taken over `docs`
    plus `background` documents that contain none of their words."""
    n = len(docs) + background
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    out: list[Vector] = []
    for doc in docs:
        tf = Counter(doc)
        vec = {
            term: count * (math.log((1 + n) / (1 + df[term])) + 1.0) * (SYMPTOM_WEIGHT if term in _SYMPTOM_STEMS else 1.0)
            for term, count in tf.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        out.append({term: v / norm for term, v in vec.items()})
    return out


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(term, 0.0) for term, v in a.items())


@dataclass(frozen=True, slots=True)
class Item:
    """One inbound message in the window."""

    message_id: int
    conversation_id: int
    text: str


@dataclass(frozen=True, slots=True)
class Settings:
    min_messages: int = 5
    threshold: float = DEFAULT_THRESHOLD
    name_boost: float = DEFAULT_NAME_BOOST


def similarity_matrix(items: Sequence[Item], names: Iterable[str], name_boost: float) -> tuple[list[list[float]], list[set[str]]]:
    """Pairwise similarities (cosine plus the shared-name boost) and each item's mentions."""
    toks = [tokens(item.text) for item in items]
    names = list(names)
    named = [mentions(t, names) for t in toks]
    vecs = vectors(toks, BACKGROUND)
    size = len(items)
    sims = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            score = cosine(vecs[i], vecs[j])
            if named[i] & named[j]:
                score += name_boost
            sims[i][j] = sims[j][i] = score
    return sims, named


def clusters(sims: Sequence[Sequence[float]], threshold: float) -> list[list[int]]:
    """Single-link clusters (indices, each sorted; clusters by first index) over `threshold`."""
    parent = list(range(len(sims)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(sims)):
        for j in range(i + 1, len(sims)):
            if sims[i][j] >= threshold:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(sims)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


@dataclass(slots=True)
class Surge:
    """A surge found in the window: its items and the name most of them mention."""

    items: list[Item]
    name: str | None
    extends: int | None = None  # the id of the open suggestion it adds to
    conversation_ids: list[int] = field(default_factory=list)


def find_surges(items: Sequence[Item], names: Iterable[str], settings: Settings) -> list[Surge]:
    """The clusters of the window with at least `min_messages` distinct conversations."""
    sims, named = similarity_matrix(items, names, settings.name_boost)
    out: list[Surge] = []
    for group in clusters(sims, settings.threshold):
        conversations = list(dict.fromkeys(items[i].conversation_id for i in group))
        if len(conversations) < settings.min_messages:
            continue
        counts: Counter[str] = Counter(name for i in group for name in named[i])
        name = min(counts, key=lambda n: (-counts[n], n)) if counts else None
        out.append(Surge([items[i] for i in group], name, conversation_ids=conversations))
    return out


def plan(items: Sequence[Item], names: Iterable[str], open_suggestions: Mapping[int, set[int]], settings: Settings) -> list[Surge]:
    """What to write: each surge either extends the open suggestion it shares a
    conversation with (`extends` set; only its new conversations kept) or is new.

    `items` should leave out conversations already in a decided suggestion; an open
    suggestion's conversations stay in, so the surge still gathers as it grows."""
    out: list[Surge] = []
    for surge in find_surges(items, names, settings):
        conversations = set(surge.conversation_ids)
        target = next((sid for sid, members in sorted(open_suggestions.items()) if members & conversations), None)
        if target is None:
            out.append(surge)
            continue
        new = [c for c in surge.conversation_ids if c not in open_suggestions[target]]
        if new:
            keep = [item for item in surge.items if item.conversation_id in set(new)]
            out.append(Surge(keep, surge.name, extends=target, conversation_ids=new))
    return out
