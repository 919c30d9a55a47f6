"""Surge detection's pure steps: tokens, TF-IDF cosine, name boost, single-link clusters, plan."""

from __future__ import annotations

from routing.surge import Item, Settings, clusters, cosine, find_surges, mentions, plan, tokens, vectors

OUTAGE = [
    "Checkout is down, I can't pay",
    "checkout gives an error when I pay",
    "El checkout está caído, no puedo pagar",
    "chekout broken?? cannot pay",
    "Is checkout broken? payment fails",
]
ORDINARY = [
    "How do I change my billing address?",
    "¿Puedo pedir un reembolso?",
    "I want to cancel my subscription",
    "Do you ship to Canada?",
    "¿Cómo borro mi cuenta?",
    "Where is my invoice for March?",
]


def test_tokens_fold_accents_drop_stop_words_and_stem() -> None:
    assert tokens("¡El pago está CAÍDO!") == ["pago", "caido"]
    assert tokens("Payments failing") == tokens("payment fails")
    assert "the" not in tokens("the checkout") and tokens("") == []
    assert mentions(tokens("el Checkout no va"), ["Checkout", "Payments API"]) == {"Checkout"}
    assert mentions(tokens("the payments api is slow"), ["Payments API"]) == {"Payments API"}


def test_cosine_of_tfidf_vectors() -> None:
    vecs = vectors([tokens(t) for t in ("checkout down", "checkout down", "refund please")])
    assert abs(cosine(vecs[0], vecs[1]) - 1.0) < 1e-9
    assert cosine(vecs[0], vecs[2]) == 0.0


def test_single_link_joins_chains_over_the_threshold() -> None:
    sims = [[0, 0.5, 0, 0], [0.5, 0, 0.5, 0], [0, 0.5, 0, 0], [0, 0, 0, 0]]
    assert clusters(sims, 0.4) == [[0, 1, 2], [3]]
    assert clusters(sims, 0.6) == [[0], [1], [2], [3]]


def items(texts: list[str], start: int = 1) -> list[Item]:
    return [Item(start + n, start + n, t) for n, t in enumerate(texts)]


def test_five_similar_messages_make_a_surge_naming_the_service_and_four_do_not() -> None:
    names = ["Checkout", "Search"]
    found = find_surges(items(OUTAGE + ORDINARY), names, Settings())
    assert len(found) == 1
    assert found[0].name == "Checkout" and sorted(found[0].conversation_ids) == [1, 2, 3, 4, 5]
    assert find_surges(items(OUTAGE[:4] + ORDINARY), names, Settings()) == []
    assert find_surges(items(ORDINARY * 2), names, Settings()) == []  # the same questions twice: 2 < 5 each
    # Five messages from one conversation are one customer, not a surge.
    same = [Item(n, 1, t) for n, t in enumerate(OUTAGE)]
    assert find_surges(same, names, Settings()) == []


def test_plan_extends_an_open_suggestion_instead_of_opening_another() -> None:
    window = items(OUTAGE + ["checkout down again, can't pay"] + ORDINARY)
    [first] = plan(window, ["Checkout"], {}, Settings())
    assert first.extends is None and len(first.conversation_ids) == 6
    [again] = plan(window, ["Checkout"], {7: {1, 2, 3, 4, 5}}, Settings())
    assert again.extends == 7 and again.conversation_ids == [6]
    assert plan(window, ["Checkout"], {7: {1, 2, 3, 4, 5, 6}}, Settings()) == []
