"""What a rule did, in words for the conversation timeline, in English and Spanish.

"rule "invoices" assigned to team billing" / "la regla «invoices» asignó al equipo billing"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from routing.language import choose_language
from routing.priority import Level

ActionName = Literal["assign_agent", "assign_team", "priority", "tag", "status", "convert", "auto_reply", "stop"]


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """One action of one fired rule. `value` is a tuple only for tags."""

    rule: str
    action: ActionName
    value: str | tuple[str, ...] = ""
    impact: Level | None = None  # convert to incident only
    urgency: Level | None = None

    @property
    def values(self) -> tuple[str, ...]:
        return self.value if isinstance(self.value, tuple) else (self.value,)

    def text(self, language: str | None = "en") -> str:
        return describe(self, language)


def _en(a: AppliedAction) -> str:
    who = f'rule "{a.rule}"'
    joined = ", ".join(a.values)
    match a.action:
        case "assign_agent":
            return f"{who} assigned to agent {joined}"
        case "assign_team":
            return f"{who} assigned to team {joined}"
        case "priority":
            return f"{who} set priority {joined}"
        case "tag":
            return f"{who} added the tag{'s' if len(a.values) > 1 else ''} {joined}"
        case "status":
            return f"{who} set the status to {joined}"
        case "convert" if a.value == "incident":
            return f"{who} converted the conversation to an incident (impact {a.impact}, urgency {a.urgency})"
        case "convert":
            return f"{who} converted the conversation to a request"
        case "auto_reply":
            return f'{who} sent the auto-reply "{joined}"'
        case "stop":
            return f"{who} stopped the rules after it"


_ES_STATUS = {"open": "abierta", "pending": "pendiente", "resolved": "resuelta"}
_ES_IMPACT = {"high": "alto", "medium": "medio", "low": "bajo"}
_ES_URGENCY = {"high": "alta", "medium": "media", "low": "baja"}


def _es(a: AppliedAction) -> str:
    who = f"la regla «{a.rule}»"
    joined = ", ".join(a.values)
    match a.action:
        case "assign_agent":
            return f"{who} asignó al agente {joined}"
        case "assign_team":
            return f"{who} asignó al equipo {joined}"
        case "priority":
            return f"{who} fijó la prioridad {joined}"
        case "tag":
            plural = len(a.values) > 1
            return f"{who} añadió {'las etiquetas' if plural else 'la etiqueta'} {joined}"
        case "status":
            return f"{who} cambió el estado a {_ES_STATUS.get(joined, joined)}"
        case "convert" if a.value == "incident":
            impact = _ES_IMPACT.get(a.impact or "", a.impact)
            urgency = _ES_URGENCY.get(a.urgency or "", a.urgency)
            return f"{who} convirtió la conversación en una incidencia (impacto {impact}, urgencia {urgency})"
        case "convert":
            return f"{who} convirtió la conversación en una solicitud"
        case "auto_reply":
            return f"{who} envió la respuesta automática «{joined}»"
        case "stop":
            return f"{who} detuvo las reglas siguientes"


_LANGUAGES: dict[str, Callable[[AppliedAction], str]] = {"en": _en, "es": _es}


def describe(action: AppliedAction, language: str | None = "en") -> str:
    """The timeline line for `action`, in `language` (English when we do not speak it)."""
    return _LANGUAGES[choose_language(language, _LANGUAGES)](action)
