"""Everything a running node holds, built once from the config and passed in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select

from channels.base import ChannelConfig, ChannelContext, Interaction, InteractionAnswer
from inbox.actions import changes as change_actions
from inbox.actions import csat as csat_actions
from inbox.actions import portal as portal_actions
from inbox.actions.runner import Context
from inbox.config import Config
from inbox.csat_tokens import CsatSigner
from inbox.errors import Conflict, DomainError, Invalid
from inbox.events import Bus, make_bus
from inbox.pipeline.ingest import ChannelRef, Ingestor
from inbox.pipeline.router import RulesRouter
from inbox.pipeline.tickets import TicketPolicy
from inbox.portal_tokens import PortalSigner
from inbox.runtime.channels import ChannelRuntime
from inbox.sessions import SessionSigner
from inbox.store.db import Database
from inbox.store.models import CsatSurvey
from inbox.store.secrets import SecretBox
from routing import csat as csat_text
from routing.config import default_calendar, sla_policies
from routing.request_types import RequestTypeSpec
from routing.templates import NotificationTemplates
from routing.vocabulary import CSAT_VIAS


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

    async def interact(self, channel: ChannelRef, interaction: Interaction) -> InteractionAnswer:
        """Every button press on every channel — Slack block actions, Telegram callback
        queries, the widget's survey stars — and what a press asks for next, one way: a
        satisfaction rating (`csat_rate_N`) or its comment (`csat_comment`), else a change
        approval's decision (`frontdesk:change:*`). Unknown buttons answer nothing."""
        rating = csat_text.rating_of(interaction.action_id)
        if rating is not None or interaction.action_id == csat_text.COMMENT_ACTION:
            return await self._csat_interaction(channel, interaction, rating)
        text = await change_actions.decide_from_button(self.ctx, channel.id, interaction)
        return InteractionAnswer(text=text, outcome="decided" if text else "")

    async def _csat_interaction(self, channel: ChannelRef, interaction: Interaction, rating: int | None) -> InteractionAnswer:
        # The token alone names the survey; a Slack button sent before this carried "<language>:<token>".
        token = interaction.value.rpartition(":")[2]
        survey_id = self.csat.check(token, time.time())
        # The survey's language; for a token that names none, the presser's (as their channel tells it).
        language = interaction.sender.language if interaction.sender.language in csat_text.ANSWERS else "en"
        if survey_id is not None:
            stored = await self.db.query(lambda s: s.scalar(select(CsatSurvey.language).where(CsatSurvey.id == survey_id)))
            language = stored if stored in csat_text.ANSWERS else "en"
        answers = csat_text.ANSWERS[language]
        via = channel.type if channel.type in CSAT_VIAS else "web"
        if survey_id is None:
            return InteractionAnswer(answers["expired"], "expired")
        if rating is not None:
            outcome = await self._rate(survey_id, rating, interaction.text, via)
            if outcome == "rated" and not interaction.text and channel.type != "widget":
                # The press was the rating alone: offer the comment (a reply on Telegram, the web page).
                return InteractionAnswer(
                    answers["rated"],
                    outcome,
                    close=True,
                    comment_prompt=csat_text.COMMENT_PROMPT[language],
                    comment_url=f"{self.config.server.public_url}/csat/{token}",
                    comment_link=csat_text.COMMENT_LINK[language],
                )
            return InteractionAnswer(answers[outcome], outcome, close=outcome in ("rated", "already_rated"))
        try:
            await csat_actions.add_comment(self.ctx, survey_id, interaction.text or "", via=via)
        except Invalid:
            return InteractionAnswer(answers["bad_comment"], "bad_comment")
        except Conflict as exc:
            outcome = exc.code if exc.code in ("has_comment",) else "expired"
            return InteractionAnswer(answers[outcome], outcome)
        except DomainError:
            return InteractionAnswer(answers["expired"], "expired")
        return InteractionAnswer(answers["commented"], "commented")

    async def _rate(self, survey_id: int, rating: int, comment: str | None, via: str) -> str:
        """ "rated", "already_rated" or "expired" (also for a forged token: the customer is told the same)."""
        try:
            await csat_actions.rate(self.ctx, survey_id, rating, comment, via=via)
        except Conflict as exc:
            return "already_rated" if exc.code == "already_rated" else "expired"
        except DomainError:
            return "expired"
        return "rated"

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

    async def attach_request(self, conversation_id: int, spec: RequestTypeSpec, fields: Mapping[str, str]) -> int:
        """A widget request form's conversation made a request ticket, exactly as a portal request's."""
        return await portal_actions.attach_request(self.ctx, conversation_id, spec, fields)

    async def wanted_channels(self) -> list[ChannelConfig]:
        """Every channel this node should run: the config file's and the UI-managed ones."""
        from inbox.runtime import managed_channels

        return [*self.config.channels, *await managed_channels.load(self.db, self.secrets)]
