"""`frontdesk serve`: one node — the web server, the channel receivers, the outbox and webhook workers.

Roles: `web` serves HTTP (API, UI, hooks, widget); `worker` runs the channel receivers,
the outbox and the webhook worker; `all` (the default) does both.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, Literal

import uvicorn

from channels.base import cancel_task
from inbox.actions import changes as change_actions
from inbox.actions import services as service_actions
from inbox.config import Config
from inbox.pipeline.outbox import OutboxWorker
from inbox.pipeline.webhooks import WebhookWorker
from inbox.runtime import provision
from inbox.runtime.services import Services
from inbox.runtime.sla_watch import SlaWatch
from inbox.runtime.snooze_watch import SnoozeWatch
from inbox.runtime.status_watch import StatusWatch
from inbox.store import migrate
from inbox.web.app import create_app

log = logging.getLogger(__name__)

Role = Literal["all", "web", "worker"]


class NotMigrated(RuntimeError):
    pass


async def serve(config: Config, role: Role = "all") -> None:
    services = Services.build(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _check_schema(services)
        await services.channels.provision(config.channels)
        await provision.provision_teams_and_rules(services.db, config)
        await provision.provision_request_types(services.db, config)
        await change_actions.provision_freezes(services.ctx, [(f.name, f.start, f.end) for f in config.change_freezes])
        await provision.provision_service_desk(services.db, config)
        link = await provision.bootstrap_admin(services.db, config)
        if link:
            email = provision.first_admin_email(config.server.public_url)
            # Printed once, ever: the link is single-use and never shown again.
            print(f"\nCreated the first admin ({email}). Sign in once with this link and choose a password:\n  {link}\n", flush=True)
        await services.bus.start()
        await services.channels.build(await services.wanted_channels())
        unwatch = services.channels.watch(services.bus, services.wanted_channels)
        worker: OutboxWorker | None = None
        sla_watch: SlaWatch | None = None
        snooze_watch: SnoozeWatch | None = None
        resuming: asyncio.Task[None] | None = None
        webhook_worker: WebhookWorker | None = None
        status_watch: StatusWatch | None = None
        if role in ("all", "worker"):
            await services.channels.start_receivers()
            worker = OutboxWorker(
                services.db,
                services.bus,
                services.channels.adapter_for,
                config.outbox,
                channel_ids=services.channels.ids,
                channel_named=services.channels.adapter_named,
                portal_url=services.portal_url,
                csat_url=services.csat_url,
            )
            await worker.start()
            sla_watch = SlaWatch(services.db, services.bus, services.policy)
            await sla_watch.start()
            snooze_watch = SnoozeWatch(services.ctx)
            await snooze_watch.start()
            webhook_worker = WebhookWorker(services.db, services.bus, services.secrets, config.webhooks)
            await webhook_worker.start()
            status_watch = StatusWatch(services.ctx, config)
            await status_watch.start()
            # A broadcast a crash left half-written continues (every recipient, once), while
            # the node already serves.
            resuming = asyncio.create_task(_resume_broadcasts(services), name="resume-broadcasts")
        checkpoints = asyncio.create_task(services.db.checkpoints(), name="sqlite-checkpoints")
        server: uvicorn.Server | None = None
        server_task: asyncio.Task[None] | None = None
        app = create_app(services) if role in ("all", "web") else None
        if app is not None:
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=config.server.host,
                    port=config.server.port,
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                    ws_max_size=1024 * 1024,
                    # Frames are small JSON; per-connection zlib contexts would cost far more
                    # memory (per idle widget visitor) than compression saves.
                    ws_per_message_deflate=False,
                    # wsproto keeps less per socket than websockets: ~22 KiB per idle
                    # visitor against ~25 (bench/widget.py).
                    ws="wsproto",
                )
            )
            server_task = asyncio.create_task(server.serve(), name="http")
        log.info("frontdesk %s node started (listen %s)", role, config.server.listen if server else "-")
        print(f"Frontdesk is running ({role}) at {config.server.public_url}", flush=True)
        _settle_heap()
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if server_task is not None:
            waiters.append(server_task)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        log.info("shutting down")
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server_task, 10)
        if app is not None:
            await app.state.widget_gateway.hub.stop()
        if sla_watch is not None:
            await sla_watch.stop()
        if snooze_watch is not None:
            await snooze_watch.stop()
        if resuming is not None:
            await cancel_task(resuming)
        if worker is not None:
            await worker.stop()
        if webhook_worker is not None:
            await webhook_worker.stop()
        if status_watch is not None:
            await status_watch.stop()
        unwatch()
        await cancel_task(checkpoints)
        await services.channels.stop()
        for task in waiters:
            task.cancel()
    finally:
        await services.bus.stop()
        await services.db.dispose()


async def _resume_broadcasts(services: Services) -> None:
    try:
        resumed = await service_actions.resume_broadcasts(services.ctx)
    except Exception:
        log.exception("resuming incomplete broadcasts failed; the next start tries again")
        return
    if resumed:
        log.info("resumed %d incomplete broadcast(s)", resumed)


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop (installed with uvicorn[standard]) when present: its sockets, timers and
    callbacks cost a fraction of the stdlib loop's with thousands of sockets open."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _settle_heap() -> None:
    """Keep the cycle collector's pauses short with thousands of sockets open.

    What start-up built (modules, the app, SQLAlchemy's mappers and caches) lives as long
    as the process: frozen, a full collection no longer walks it. And with the default
    young-generation threshold (700) objects of requests still in flight get promoted
    and trigger a full collection every few seconds (100-300 ms each with 1,000
    visitors connected, measured with bench/widget.py); young collections every 10,000
    allocations cost a few milliseconds and full ones become rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


async def _check_schema(services: Services) -> None:
    current = await migrate.current_revision(services.db)
    head = migrate.head_revision()
    if current != head:
        raise NotMigrated(f"the database is at migration {current}, this code needs {head}: run `frontdesk migrate` first")


def run(config: Config, role: Role = "all") -> int:
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(serve(config, role))
    except NotMigrated as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"frontdesk: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
