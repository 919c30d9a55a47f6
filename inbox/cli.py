"""The `frontdesk` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import select

from inbox import config as config_module
from inbox import logs
from inbox.actions.runner import CLI
from inbox.config import Config, ConfigError
from inbox.errors import DomainError
from inbox.store import migrate
from routing.vocabulary import ROLES


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontdesk", description="Frontdesk: a multichannel customer-support inbox daemon.")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help="config file (default: $FRONTDESK_CONFIG or ./frontdesk.toml)")
        return p

    p = with_config(command("serve", _serve, "run the daemon"))
    p.add_argument("--role", choices=["all", "web", "worker"], default="all")
    with_config(command("migrate", _migrate, "create or upgrade the database schema"))

    cfg = sub.add_parser("config", help="configuration commands").add_subparsers(metavar="SUBCOMMAND")
    p = command("check", _config_check, "validate a config file", cfg)
    p.add_argument("path", nargs="?")

    agents = sub.add_parser("agents", help="manage agents").add_subparsers(metavar="SUBCOMMAND")
    p = with_config(command("add", _agents_add, "add an agent", agents))
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=ROLES, default="agent")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    tokens = sub.add_parser("tokens", help="manage API tokens").add_subparsers(metavar="SUBCOMMAND")
    p = with_config(command("create", _tokens_create, "create an API token (printed once)", tokens))
    p.add_argument("--agent", required=True, help="the agent's email")
    p.add_argument("--name", default="")

    chans = sub.add_parser("channels", help="inspect channels").add_subparsers(metavar="SUBCOMMAND")
    with_config(command("list", _channels_list, "list configured channels", chans))
    p = with_config(command("test", _channels_test, "check a channel's connection and credentials", chans))
    p.add_argument("name")

    rules = sub.add_parser("rules", help="routing rules").add_subparsers(metavar="SUBCOMMAND")
    p = with_config(command("test", _rules_test, "show which rules would fire on a message, changing nothing", rules))
    p.add_argument("--message", required=True, help="a .eml file or a .json sample message")
    p = with_config(command("backtest", _rules_backtest, "replay recent messages through the current rules", rules))
    p.add_argument("--days", type=int, default=7)

    p = with_config(command("export-contact", _export_contact, "print everything held about a contact as JSON (GDPR access)"))
    p.add_argument("contact", help="contact id or email address")
    p = with_config(command("erase-contact", _erase_contact, "erase a contact's personal data (GDPR erasure)"))
    p.add_argument("contact", help="contact id or email address")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(metavar="SUBCOMMAND")
    p = with_config(command("import", _kb_import, "import a folder of Markdown articles (idempotent; see docs/knowledge-base.md)", kb))
    p.add_argument("folder")
    p = with_config(command("publish-problem", _kb_publish_problem, "publish a problem's known-error workaround as an article", kb))
    p.add_argument("problem", type=int, help="problem id")
    p.add_argument("--language", choices=["en", "es"], default="en")

    quarantine = sub.add_parser("quarantine", help="input that could not be parsed").add_subparsers(metavar="SUBCOMMAND")
    p = with_config(command("list", _quarantine_list, "list quarantined input", quarantine))
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = with_config(command("retry", _quarantine_retry, "parse a quarantined item again and ingest it", quarantine))
    p.add_argument("id", type=int)
    return parser


# -- helpers --------------------------------------------------------------------------


def _load(path: str | None) -> Config:
    try:
        return config_module.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.path}: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


# A refused action's exit status: a wrong request is a usage error (2), anything else 1.
EXIT_OF_KIND = {"invalid": 2, "not_found": 1, "conflict": 1, "forbidden": 1}


async def _with_services(config: Config, action: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    """Run a command's action with the node's services; a refused action is one line on
    stderr and its exit status."""
    from inbox.runtime.services import Services

    services = Services.build(config)
    try:
        return await action(services)
    except DomainError as exc:
        print(f"frontdesk: {exc.message}", file=sys.stderr)
        return EXIT_OF_KIND[exc.kind]
    finally:
        await services.db.dispose()


# -- commands ---------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from inbox import daemon

    config = _load(args.config)
    logs.configure(config.log_level, config.log_format)
    return daemon.run(config, args.role)


def _migrate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    logs.configure("warning")
    asyncio.run(migrate.upgrade(config.database.url))
    print(f"database is at migration {migrate.head_revision()}")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    path = config_module.resolve_path(args.path)
    try:
        config = config_module.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.path}: {problem}", file=sys.stderr)
        print(f"{exc.path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{path}: OK ({len(config.channels)} channel(s), {len(config.teams)} team(s), {len(config.rules)} rule(s))")
    return 0


def _agents_add(args: argparse.Namespace) -> int:
    from inbox.actions import agents

    config = _load(args.config)
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (empty: none yet): ") or None

    async def action(services: Any) -> int:
        created = await agents.create_agent(services.ctx, CLI, args.email, args.name, args.role, password=password)
        print(f"added {created.agent.role} {created.agent.email}")
        return 0

    return _run(_with_services(config, action))


def _tokens_create(args: argparse.Namespace) -> int:
    from inbox.actions import tokens

    config = _load(args.config)

    async def action(services: Any) -> int:
        print(await tokens.create_token(services.ctx, CLI, args.agent, args.name))
        return 0

    return _run(_with_services(config, action))


def _channels_list(args: argparse.Namespace) -> int:
    from inbox.store.models import Channel

    config = _load(args.config)

    async def action(services: Any) -> int:
        async with services.db.read() as session:
            rows = {c.name: c for c in (await session.scalars(select(Channel))).all()}
        for channel in config.channels:
            row = rows.get(channel.name)
            state = row.status if row else "not provisioned"
            error = f"  last error: {row.last_error}" if row and row.last_error else ""
            print(f"{channel.name}\t{channel.type}\t{'enabled' if channel.enabled else 'disabled'}\t{state}{error}")
        for name, row in rows.items():
            if config.channel(name) is None:
                print(f"{name}\t{row.type}\t{'enabled' if row.enabled else 'disabled'}\t{row.status} (added in the UI)")
        return 0

    return _run(_with_services(config, action))


def _channels_test(args: argparse.Namespace) -> int:
    from inbox.runtime import managed_channels

    config = _load(args.config)

    async def action(services: Any) -> int:
        found = config.channel(args.name)
        if found is None:  # a channel added through the UI or the API
            found = next((c for c in await managed_channels.load(services.db, services.secrets) if c.name == args.name), None)
        if found is None:
            print(f"frontdesk: no channel named {args.name!r} (in the config or added through the UI)", file=sys.stderr)
            return 2
        results = await managed_channels.check(found, services.channels.context)
        for result in results:
            print(f"{'ok  ' if result.ok else 'FAIL'} {result.what}{': ' + result.detail if result.detail else ''}")
        return 0 if all(r.ok for r in results) else 1

    return _run(_with_services(config, action))


def _rules_test(args: argparse.Namespace) -> int:
    from inbox.rules_cli import sample_from_file, test_rules

    config = _load(args.config)
    try:
        sample = sample_from_file(args.message)
    except (OSError, ValueError) as exc:
        print(f"frontdesk: cannot read {args.message}: {exc}", file=sys.stderr)
        return 2
    return _run(_with_services(config, lambda services: test_rules(services, sample)))


def _rules_backtest(args: argparse.Namespace) -> int:
    from inbox.rules_cli import backtest

    config = _load(args.config)
    return _run(_with_services(config, lambda services: backtest(services, args.days)))


def _export_contact(args: argparse.Namespace) -> int:
    from inbox.queries.privacy import export_contact

    config = _load(args.config)

    async def action(services: Any) -> int:
        async with services.db.read() as session:
            data = await export_contact(session, args.contact)
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0

    return _run(_with_services(config, action))


def _erase_contact(args: argparse.Namespace) -> int:
    from inbox.actions.privacy import erase_contact

    config = _load(args.config)
    if not args.yes:
        answer = input(f"Erase every personal datum of contact {args.contact}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1

    async def action(services: Any) -> int:
        counts = await erase_contact(services.ctx, CLI, args.contact)
        print("erased: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        return 0

    return _run(_with_services(config, action))


def _kb_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from inbox.actions import kb_import

    config = _load(args.config)

    async def action(services: Any) -> int:
        try:
            parsed = await asyncio.to_thread(kb_import.read_folder, Path(args.folder))
        except kb_import.FrontMatterError as exc:
            print(f"frontdesk: {exc}", file=sys.stderr)
            return 2
        report, done = await kb_import.import_drafts(services.ctx, CLI, parsed)
        for path, outcome in done:
            if outcome != "unchanged":
                print(f"{outcome}\t{path}")
        for error in report.errors:
            print(f"frontdesk: {error}", file=sys.stderr)
        print(f"{args.folder}: {report.line()}")
        return 1 if report.errors else 0

    return _run(_with_services(config, action))


def _kb_publish_problem(args: argparse.Namespace) -> int:
    from inbox.actions import kb as kb_actions
    from inbox.queries import kb

    config = _load(args.config)

    async def action(services: Any) -> int:
        saved = await kb_actions.publish_known_error(services.ctx, CLI, args.problem, args.language)
        async with services.db.read() as session:
            article = await kb.get_article(session, saved.article_id)
        assert article is not None
        print(f"{saved.outcome} article {saved.article_id}: {kb.public_url(config.server.public_url, article)}")
        return 0

    return _run(_with_services(config, action))


def _quarantine_list(args: argparse.Namespace) -> int:
    from inbox.store.models import Channel, QuarantineItem

    config = _load(args.config)

    async def action(services: Any) -> int:
        async with services.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        QuarantineItem.id,
                        Channel.name,
                        QuarantineItem.external_id,
                        QuarantineItem.error,
                        QuarantineItem.status,
                        QuarantineItem.created_at,
                    )
                    .join(Channel, Channel.id == QuarantineItem.channel_id)
                    .where(QuarantineItem.status == "held")
                    .order_by(QuarantineItem.id)
                )
            ).all()
        for r in rows:
            if args.json:
                print(
                    json.dumps(
                        {
                            "id": r.id,
                            "channel": r.name,
                            "external_id": r.external_id,
                            "error": r.error,
                            "status": r.status,
                            "created_at": r.created_at.isoformat(),
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                print(f"{r.id}\t{r.name}\t{r.created_at:%Y-%m-%d %H:%M}\t{r.error.splitlines()[0][:120] if r.error else ''}")
        if not args.json and not rows:
            print("quarantine is empty")
        return 0

    return _run(_with_services(config, action))


def _quarantine_retry(args: argparse.Namespace) -> int:
    from inbox.actions.quarantine import retry_item
    from inbox.runtime.reingest import Reingestor

    config = _load(args.config)

    async def action(services: Any) -> int:
        result = await retry_item(services.ctx, CLI, args.id, Reingestor(services))
        print(f"quarantine item {args.id} ingested as message {result.message_id} in conversation {result.conversation_id}")
        return 0

    return _run(_with_services(config, action))


if __name__ == "__main__":
    raise SystemExit(main())
