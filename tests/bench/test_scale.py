"""bench/scale.py's pure parts: percentiles, the desk's plan, the text and the JSON keys (no seeding here)."""

from __future__ import annotations

import unicodedata

from bench import scale


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert scale.percentile(values, 50) == 50.0
    assert scale.percentile(values, 95) == 95.0
    assert scale.percentile(values, 99) == 99.0
    assert scale.percentile(values, 100) == 100.0
    assert scale.percentile([7.0], 95) == 7.0
    assert scale.percentile([], 95) == 0.0
    assert scale.percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert scale.summary([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.0, "p95": 4.0, "p99": 4.0, "n": 4}


def test_the_text_is_deterministic_bilingual_and_accented() -> None:
    def texts(seed: int) -> list[tuple[str, str]]:
        maker = scale.TextMaker(seed)
        return [maker.customer(spanish=i % 2 == 0) for i in range(200)]

    first = texts(3)
    assert first == texts(3) and first != texts(4)
    assert len(set(first)) > 150  # varied
    text = " ".join(body for _, body in first)
    assert scale.ACCENTED in text and scale.COMMON_WORD in text
    assert any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", text))
    assert scale.UNACCENTED == "".join(c for c in unicodedata.normalize("NFD", scale.ACCENTED) if not unicodedata.combining(c))
    maker = scale.TextMaker(5)
    many = " ".join(maker.customer(spanish=False)[1] for _ in range(2000))
    assert scale.PHRASE in many and "refund" in many  # the phrase and the prefix's words occur


def test_the_plan_has_the_issues_shape_scaled_down() -> None:
    plan = scale.make_plan(20_000, 7)
    assert sum(plan.conv_sizes) == 20_000
    assert plan.conversations == 3_000 and plan.contacts == 800
    assert len(plan.conv_contact) == len(plan.conv_sizes) == len(plan.conv_start) == plan.conversations
    big = plan.conv_sizes[plan.big_conversations[0]]
    assert big == 400  # 2,000 at full size, scaled
    busy = sum(1 for c in plan.conv_contact if c == plan.busy_contacts[0])
    assert busy >= 50  # 300 at full size
    assert 3 <= len(plan.rare_messages) <= 5
    assert 0.3 < sum(plan.conv_spanish) / plan.conversations < 0.5
    times = list(scale.timeline(plan, 7))
    assert len(times) == 20_000
    assert all(a[0] <= b[0] for a, b in zip(times, times[1:], strict=False))  # oldest first
    assert plan == scale.make_plan(20_000, 7)


def test_the_json_has_the_keys_scripts_compare() -> None:
    desk = scale.Desk("sqlite", "sqlite+aiosqlite:///x.db", 1000, 500.0, 3.0)
    timed = scale.Timed()
    for ms in (10.0, 20.0, 30.0):
        timed.add(ms, 200, "x")
    measured = {
        "classes": {name: timed for name in ("search", "inbox", "conversation", "contact", "dashboard 365d")},
        "alone": {},
        "rss_kib": 204800,
        "export": {"growth_mb": 1.5},
        "reply_cpu_ms": None,
        "bare_insert_cpu_ms": None,
    }
    result = scale.result_json(desk, measured, 1 << 20)
    assert tuple(result) == scale.JSON_KEYS
    assert result["search_p95_ms"] == 30.0 and result["rss_mb"] == 200.0 and result["export_rss_growth_mb"] == 1.5
    assert result["reply_cpu_ms"] is None
    missing = scale.result_json(desk, {**measured, "classes": {}, "export": {"available": False}}, 0)
    assert missing["dashboard_365d_ms"] is None and missing["search_p95_ms"] is None and missing["export_rss_growth_mb"] is None
