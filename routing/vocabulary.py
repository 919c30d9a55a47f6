"""The domain's words, defined once: every status, kind, level, priority, role and language.

Each is a `Literal` type (for pydantic models and type hints) and the tuple of its values
(for validation, forms and loops). Everything else imports them from here: the API's
models, the UI's forms, the store's checks and routing's pure code alike.
"""

from __future__ import annotations

from typing import Literal, get_args

ConversationStatus = Literal["open", "pending", "snoozed", "resolved"]
CONVERSATION_STATUSES: tuple[ConversationStatus, ...] = get_args(ConversationStatus)

TicketStatus = Literal["new", "open", "pending", "resolved", "closed"]
TICKET_STATUSES: tuple[TicketStatus, ...] = get_args(TicketStatus)

TicketKind = Literal["request", "incident"]
TICKET_KINDS: tuple[TicketKind, ...] = get_args(TicketKind)

ProblemStatus = Literal["open", "known_error", "resolved", "closed"]
PROBLEM_STATUSES: tuple[ProblemStatus, ...] = get_args(ProblemStatus)

# ITIL impact and urgency; their product gives an incident's priority (routing.priority).
Level = Literal["high", "medium", "low"]
LEVELS: tuple[Level, ...] = get_args(Level)

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"

Role = Literal["admin", "agent"]
ROLES: tuple[Role, ...] = get_args(Role)

Availability = Literal["online", "away", "offline"]
AVAILABILITIES: tuple[Availability, ...] = get_args(Availability)

AssignmentStrategy = Literal["round_robin", "least_open", "manual"]
ASSIGNMENT_STRATEGIES: tuple[AssignmentStrategy, ...] = get_args(AssignmentStrategy)

ArticleStatus = Literal["draft", "published"]
ARTICLE_STATUSES: tuple[ArticleStatus, ...] = get_args(ArticleStatus)

# A request type's approval, on its ticket (none needed: no approval at all).
Approval = Literal["waiting", "approved", "rejected"]
APPROVALS: tuple[Approval, ...] = get_args(Approval)
ChangeType = Literal["standard", "normal", "emergency"]
CHANGE_TYPES: tuple[ChangeType, ...] = get_args(ChangeType)

ChangeStatus = Literal[
    "draft", "assessment", "approval", "scheduled", "implementing", "review", "closed", "rejected", "cancelled", "failed"
]
CHANGE_STATUSES: tuple[ChangeStatus, ...] = get_args(ChangeStatus)

ApprovalDecision = Literal["approve", "reject"]
APPROVAL_DECISIONS: tuple[ApprovalDecision, ...] = get_args(ApprovalDecision)

# Where a satisfaction survey was answered.
CsatVia = Literal["web", "widget", "telegram", "slack"]
CSAT_VIAS: tuple[CsatVia, ...] = get_args(CsatVia)

# The change feed's event types (the `type` of GET /events and of outbound webhooks).
EventType = Literal[
    "conversation.created",
    "conversation.updated",
    "message.created",
    "message.updated",
    "ticket.created",
    "ticket.updated",
    "problem.created",
    "problem.updated",
    "quarantine.created",
    "sla.due_soon",
    "sla.breached",
    "change.created",
    "change.updated",
    "change.status_changed",
    "change.approval_requested",
    "change.approved",
    "change.rejected",
    "incident.suggested",
    "csat.requested",
    "csat.rated",
    "csat.commented",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

# Surge detection's suggested major incidents (inbox.actions.surge).
SuggestionStatus = Literal["open", "accepted", "dismissed"]
SUGGESTION_STATUSES: tuple[SuggestionStatus, ...] = get_args(SuggestionStatus)
# The service desk (issue 21): services' criticality is a Level; what a configuration item is;
# whom a broadcast reaches.
ConfigItemKind = Literal["application", "server", "database", "network", "saas", "other"]
CONFIG_ITEM_KINDS: tuple[ConfigItemKind, ...] = get_args(ConfigItemKind)
BroadcastAudience = Literal["affected", "children"]
BROADCAST_AUDIENCES: tuple[BroadcastAudience, ...] = get_args(BroadcastAudience)
