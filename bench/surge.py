"""Precision and recall of surge detection on the labelled set bench/data/surge.jsonl.

    python bench/surge.py [--threshold 0.3] [--sweep]

The set (written by `bench/make_surge_data.py`): ordinary support traffic and outage
surges (bursts of 5+ messages about one failing thing from different customers), in
English and Spanish, with and without accents, with typos. Each message carries the
label of its surge or none, and a split: "tune" or "held_out" (whole surges and half of
the ordinary traffic each). The threshold was chosen on "tune" only (`--sweep` shows
the sweep); both halves are reported.

The replay is what the daemon's surge worker does: at each message's arrival it takes
the messages of the last `window_minutes` (10) and runs `routing.surge.plan` with the
suggestions still open, so a surge gathers into one suggestion as it grows.

Definitions:
- message level: a message is *predicted* when it ends up in any suggestion.
  precision = predicted messages that belong to a surge / predicted messages;
  recall = surge messages predicted / surge messages.
- surge level: a suggestion is *correct* when most of its messages belong to one
  labelled surge. precision = correct suggestions / suggestions; a labelled surge is
  *found* when a correct suggestion's majority is that surge; recall = surges found /
  labelled surges (all have 5+ messages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

from routing.surge import DEFAULT_NAME_BOOST, DEFAULT_THRESHOLD, Item, Settings, plan

DATA = Path(__file__).parent / "data" / "surge.jsonl"
NAMES = ["Checkout", "Payments", "Pagos", "Login", "API", "Dashboard", "Sync", "Search", "App", "Correo", "Facturas", "Envíos"]
WINDOW = dt.timedelta(minutes=10)


def load(split: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["at"] = dt.datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
    return [r for r in rows if split is None or r["split"] == split]


def replay(rows: list[dict[str, Any]], settings: Settings) -> list[set[int]]:
    """The suggestions (each a set of message ids) the worker would have made."""
    rows = sorted(rows, key=lambda r: r["at"])
    suggestions: list[set[int]] = []  # message ids; conversation == message in this set
    for n, row in enumerate(rows):
        window = [r for r in rows[: n + 1] if row["at"] - r["at"] <= WINDOW]
        items = [Item(r["id"], r["conversation"], r["text"]) for r in window]
        open_ = {i: set(s) for i, s in enumerate(suggestions)}
        for surge in plan(items, NAMES, open_, settings):
            ids = {item.conversation_id for item in surge.items}
            if surge.extends is None:
                suggestions.append(ids)
            else:
                suggestions[surge.extends] |= ids
    return suggestions


def score(rows: list[dict[str, Any]], suggestions: list[set[int]]) -> dict[str, float]:
    label = {r["id"]: r["surge"] for r in rows}
    surge_msgs = {i for i, lab in label.items() if lab}
    predicted = set().union(*suggestions) if suggestions else set()
    msg_p = len(predicted & surge_msgs) / len(predicted) if predicted else 1.0
    msg_r = len(predicted & surge_msgs) / len(surge_msgs) if surge_msgs else 1.0
    correct, found = 0, set()
    for s in suggestions:
        top, count = Counter(label[i] for i in s).most_common(1)[0]
        if top is not None and count * 2 > len(s):
            correct += 1
            found.add(top)
    labels = {lab for lab in label.values() if lab}
    return {
        "message_precision": msg_p,
        "message_recall": msg_r,
        "surge_precision": correct / len(suggestions) if suggestions else 1.0,
        "surge_recall": len(found) / len(labels) if labels else 1.0,
        "suggestions": len(suggestions),
        "surges": len(labels),
    }


def report(name: str, result: dict[str, float]) -> None:
    print(
        f"{name:9} messages P={result['message_precision']:.3f} R={result['message_recall']:.3f}   "
        f"surges P={result['surge_precision']:.3f} R={result['surge_recall']:.3f}   "
        f"({int(result['suggestions'])} suggestions, {int(result['surges'])} labelled surges)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--boost", type=float, default=DEFAULT_NAME_BOOST)
    parser.add_argument("--sweep", action="store_true", help="score thresholds 0.10–0.60 on the tune half")
    args = parser.parse_args()
    if args.sweep:
        tune = load("tune")
        for step in range(10, 61, 5):
            report(f"t={step / 100:.2f}", score(tune, replay(tune, Settings(threshold=step / 100, name_boost=args.boost))))
        return
    settings = Settings(threshold=args.threshold, name_boost=args.boost)
    print(f"threshold {settings.threshold}, name boost {settings.name_boost}, window 10 min, min {settings.min_messages} conversations")
    for split in ("tune", "held_out"):
        rows = load(split)
        report(split, score(rows, replay(rows, settings)))
    rows = load()
    report("all", score(rows, replay(rows, settings)))


if __name__ == "__main__":
    main()
