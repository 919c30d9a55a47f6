"""A service's status on the public status page, from its open incidents: pure functions.

The rule, in full:

- An open incident's *severity* is ``outage`` when its priority is P1 or P2 or its
  impact is high, else ``degraded`` (`incident_severity`).
- A service an incident names directly takes the incident's severity.
- A service that depends (transitively, through `routing.impact`) on a service or a
  configuration item an incident names is hit one step softer: an outage below it
  makes it ``degraded``, and so does a degradation (`service_states`). The page shows
  the worst of all that reaches it; nothing reaching it is ``operational``.
- A day of the history takes the worst severity of the incidents open at any moment of
  that day (UTC) that reach the service (`daily_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from routing.impact import Edge, Node, depends_on

ServiceState = Literal["operational", "degraded", "outage"]
SERVICE_STATES: tuple[ServiceState, ...] = get_args(ServiceState)
_RANK: dict[ServiceState, int] = {"operational": 0, "degraded": 1, "outage": 2}


def incident_severity(priority: str | None, impact: str | None) -> ServiceState:
    """How bad an open incident is for what it names: outage (P1/P2 or high impact) or degraded."""
    if priority in ("P1", "P2") or impact == "high":
        return "outage"
    return "degraded"


def worst(states: Iterable[ServiceState]) -> ServiceState:
    return max(states, key=_RANK.__getitem__, default="operational")


def softened(state: ServiceState) -> ServiceState:
    """What an incident below a service (on something it depends on) makes of it."""
    return "degraded" if state != "operational" else "operational"


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident as the status page sees it: what it names, and how bad it is."""

    ticket_id: int
    affected: frozenset[Node]
    severity: ServiceState


def reaching(service: Node, edges: Sequence[Edge], incidents: Iterable[OpenIncident]) -> list[tuple[OpenIncident, ServiceState]]:
    """The incidents that reach `service`, each with the state it gives the service."""
    below = set(depends_on(edges, [service]))
    out: list[tuple[OpenIncident, ServiceState]] = []
    for incident in incidents:
        if service in incident.affected:
            out.append((incident, incident.severity))
        elif incident.affected & below:
            out.append((incident, softened(incident.severity)))
    return out


def service_states(services: Iterable[Node], edges: Sequence[Edge], incidents: Sequence[OpenIncident]) -> dict[Node, ServiceState]:
    """Each service's current state from the open incidents (see the module's rule)."""
    return {service: worst(state for _, state in reaching(service, edges, incidents)) for service in services}


@dataclass(frozen=True, slots=True)
class Interval:
    """When an incident was open (`end` None: still open) and the state it gave a service."""

    start: dt.datetime
    end: dt.datetime | None
    state: ServiceState


def daily_history(intervals: Iterable[Interval], today: dt.date, days: int = 90) -> list[tuple[dt.date, ServiceState]]:
    """The last `days` days up to `today` (oldest first), each with its worst state.

    One pass over the intervals, each touching only the days it spans: cheap for a
    service with many incidents."""
    first = today - dt.timedelta(days=days - 1)
    by_day: dict[dt.date, ServiceState] = {}
    for interval in intervals:
        start = max(interval.start.astimezone(dt.UTC).date(), first)
        end = min((interval.end.astimezone(dt.UTC).date() if interval.end else today), today)
        day = start
        while day <= end:
            by_day[day] = worst((by_day.get(day, "operational"), interval.state))
            day += dt.timedelta(days=1)
    return [(first + dt.timedelta(days=n), by_day.get(first + dt.timedelta(days=n), "operational")) for n in range(days)]


def overall(states: Mapping[Node, ServiceState]) -> ServiceState:
    """The page's headline: the worst state of any service shown."""
    return worst(states.values())
