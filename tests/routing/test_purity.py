"""routing/ is pure decisions over plain data: it never imports the store, the
channels or anything that talks to the outside world."""

import ast
from pathlib import Path

import pytest

ROUTING = Path(__file__).resolve().parents[2] / "routing"
FORBIDDEN = {
    "inbox", "channels", "widget", "sqlalchemy", "asyncio", "aiosqlite", "asyncpg", "redis",
    "httpx", "aiohttp", "socket", "subprocess", "os", "logging", "time", "random",
}  # fmt: skip
# Only the template loader reads files, once, when the caller builds it.
READS_FILES = {"templates.py"}


def imported_roots(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", sorted(ROUTING.glob("*.py")), ids=lambda p: p.name)
def test_routing_module_imports_nothing_that_does_io(path):
    assert not set(imported_roots(path)) & FORBIDDEN


def file_calls(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                yield "open"
            elif isinstance(func, ast.Attribute) and func.attr in {
                "read_text",
                "read_bytes",
                "glob",
                "open",
            }:
                yield func.attr


@pytest.mark.parametrize("path", sorted(ROUTING.glob("*.py")), ids=lambda p: p.name)
def test_only_the_template_loader_touches_files(path):
    assert bool(list(file_calls(path))) is (path.name in READS_FILES)
