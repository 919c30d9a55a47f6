"""What the import contracts cannot show: the surfaces never write on their own.

`make lint` checks which package imports which (import-linter, pyproject.toml). This
test reads the surfaces' source — the API, the UI, the help center, the CLI — and fails
on a write made there instead of in an action: a write transaction opened, a statement
that changes rows built, an audit entry written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SURFACES = sorted([*(ROOT / "inbox" / "web").rglob("*.py"), ROOT / "inbox" / "cli.py", ROOT / "inbox" / "rules_cli.py"])
WRITE_STATEMENTS = {"insert", "update", "delete"}


def _writes(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"line {node.lineno}: imports sqlalchemy.{a.name}" for a in node.names if a.name in WRITE_STATEMENTS]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
            if name == "transaction" and owner_name == "db":
                found.append(f"line {node.lineno}: opens db.transaction()")
            if name == "run" and owner_name == "db":
                found.append(f"line {node.lineno}: runs a write with db.run()")
            if name == "record" and owner_name == "audit":
                found.append(f"line {node.lineno}: writes an audit entry")
    return found


@pytest.mark.parametrize("path", SURFACES, ids=[str(p.relative_to(ROOT)) for p in SURFACES])
def test_a_surface_only_parses_calls_an_action_and_shapes_the_answer(path: Path) -> None:
    assert _writes(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_check_sees_a_write_when_there_is_one() -> None:
    source = "from sqlalchemy import update\nasync def f(svc):\n    async with svc.db.transaction() as s:\n        await audit.record(s)\n"
    assert len(_writes(ast.parse(source))) == 3
