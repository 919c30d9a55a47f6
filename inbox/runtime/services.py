"""Everything a running node holds, built once from the config and passed in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from channels.base import ChannelConfig, ChannelContext, Interaction
from inbox.actions import changes as change_actions
from inbox.actions import csat as csat_actions
from inbox.actions import portal as portal_actions
from inbox.actions.runner import Context
from inbox.config import Config
from inbox.csat_tokens import CsatSigner
from inbox.errors import Conflict, DomainError
from inbox.events import Bus, make_bus
from inbox.pipeline.ingest import ChannelRef, Ingestor
from inbox.pipeline.router import RulesRouter
from inbox.pipeline.tickets import TicketPolicy
from inbox.portal_tokens import PortalSigner
from inbox.runtime.channels import ChannelRuntime
from inbox.sessions import SessionSigner
from inbox.store.db import Database
from inbox.store.secrets import SecretBox
from routing.config import default_calendar, sla_policies
from routing.request_types import RequestTypeSpec
from routing.templates import NotificationTemplates


@dataclass
class Services:
    config: Config
    db: Database
    bus: Bus
    ingestor: Ingestor
    channels: ChannelRuntime
    sessions: SessionSigner
    policy: TicketPolicy
    secrets: SecretBox

    def __post_init__(self) -> None:
        self.channels.rater = self.rate_by_token
        self.channels.requests = self.attach_request

    @classmethod
    def build(cls, config: Config) -> Services:
        db = Database(config.database.url, pool_size=config.database.pool_size)
        bus = make_bus(config.bus.url)
        policy = TicketPolicy(sla_policies(config.sla, config.business_hours), NotificationTemplates())
        ingestor = Ingestor(db, bus, RulesRouter(default_calendar(config.business_hours), policy))
        domain = config.server.public_url.split("://", 1)[1].split("/", 1)[0].split(":")[0] or "frontdesk.local"
        context = ChannelContext(public_url=config.server.public_url, message_id_domain=domain)
        runtime = ChannelRuntime(db, ingestor, context, lease_ttl=config.cluster.lease_seconds)
        services = cls(
            config, db, bus, ingestor, runtime, SessionSigner(config.server.secret_key), policy, SecretBox(config.server.secret_key)
        )
        runtime.interactions = services.interact
        return services

    async def interact(self, channel: ChannelRef, interaction: Interaction) -> str:
        """A button pressed on a channel (Slack): the change approvals' buttons are the only ones."""
        return await change_actions.decide_from_button(self.ctx, channel.id, interaction)

    @property
    def ctx(self) -> Context:
        """What actions are given: the store, the bus and the node's policies."""
        return Context(self.db, self.bus, self.policy, self.secrets, self.config.server.public_url, self.config.webhooks)

    @cached_property
    def portal(self) -> PortalSigner:
        """The customer portal's signed links and session cookies."""
        return PortalSigner(self.config.server.secret_key)

    def portal_url(self, contact_id: int) -> str:
        """The contact's signed "View your requests" link (`[portal] view_link_days` long)."""
        token = self.portal.view_token(contact_id, self.config.portal.view_link_days)
        return f"{self.config.server.public_url}/portal/v/{token}"

    @cached_property
    def csat(self) -> CsatSigner:
        """The satisfaction surveys' signed tokens."""
        return CsatSigner(self.config.server.secret_key)

    def csat_url(self, survey_id: int, expires: dt.datetime) -> tuple[str, str]:
        """A survey's signed token and its rating page."""
        token = self.csat.token(survey_id, int(expires.timestamp()))
        return token, f"{self.config.server.public_url}/csat/{token}"

    async def rate_by_token(self, token: str, rating: int, via: str, comment: str | None = None) -> str:
        """A rating from a channel's button or the widget: "rated", "already_rated" or
        "expired" (also for a forged token: the customer is told the same)."""
        survey_id = self.csat.check(token, time.time())
        if survey_id is None:
            return "expired"
        try:
            await csat_actions.rate(self.ctx, survey_id, rating, comment, via=via)
        except Conflict as exc:
            return "already_rated" if exc.code == "already_rated" else "expired"
        except DomainError:
            return "expired"
        return "rated"

    async def attach_request(self, conversation_id: int, spec: RequestTypeSpec, fields: Mapping[str, str]) -> int:
        """A widget request form's conversation made a request ticket, exactly as a portal request's."""
        return await portal_actions.attach_request(self.ctx, conversation_id, spec, fields)

    async def wanted_channels(self) -> list[ChannelConfig]:
        """Every channel this node should run: the config file's and the UI-managed ones."""
        from inbox.runtime import managed_channels

        return [*self.config.channels, *await managed_channels.load(self.db, self.secrets)]
