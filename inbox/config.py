"""The one validated configuration object, built from TOML at start and passed in.

Strings of the form "env:NAME" are read from the environment. Every error names the
file, the key and what was expected; the daemon refuses to start on any of them.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import channels
from channels.base import ChannelConfig
from routing.change_rules import validate_change_rule
from routing.config import BusinessHoursConfig, SLAConfig, TeamConfig, check_routing
from routing.request_types import RequestTypeSpec
from routing.rules import InvalidRule
from routing.templates import NotificationTemplates

DEFAULT_PATH = "frontdesk.toml"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists one line per error."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Strict):
    listen: str = "127.0.0.1:8000"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = Field(min_length=16)
    language: Literal["en", "es"] = "en"
    max_upload_bytes: int = 25 * 1024 * 1024
    max_request_bytes: int = 1024 * 1024
    api_requests_per_minute: int = Field(default=1200, ge=1)  # per agent (token or session)
    # When set, GET /metrics needs "Authorization: Bearer <metrics_token>".
    metrics_token: str | None = Field(
        default=None, pattern=r"^[\x21-\x7e]{16,256}$", description="16-256 printable ASCII characters, no spaces"
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8000")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http(s) URL, e.g. https://support.example.com")
        return value.rstrip("/")

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class DatabaseConfig(_Strict):
    url: str = "sqlite+aiosqlite:///var/frontdesk.db"
    pool_size: int = 10

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError('expected "sqlite+aiosqlite:///PATH" or "postgresql+asyncpg://USER@HOST/DB"')
        return value


class BusConfig(_Strict):
    url: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError('expected "" (in-process) or "redis://HOST:PORT/DB"')
        return value


class OutboxConfig(_Strict):
    max_attempts: int = Field(default=8, ge=1)
    base_delay: float = Field(default=2.0, gt=0)  # seconds; doubles each attempt
    max_delay: float = Field(default=600.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    concurrency: int = Field(default=8, ge=1)


class WebhooksConfig(_Strict):
    # Deliver to private, loopback and link-local addresses too (a receiver on the same host
    # or network); off, such URLs are refused at create and at every send.
    allow_private: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    base_delay: float = Field(default=10.0, gt=0)  # seconds before the first retry; doubles each try
    max_delay: float = Field(default=3600.0, gt=0)  # the longest wait between tries
    disable_after_hours: float = Field(default=24.0, gt=0)  # of continuous failure

    # How long a worker holds a webhook without renewing it (a node killed mid-delivery
    # is taken over after this); longer than one request may take.
    lease_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _lease_outlives_a_request(self) -> WebhooksConfig:
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError("lease_seconds must be longer than timeout_seconds")
        return self


class StatusConfig(_Strict):
    # The public status page (/status): its title, and the e-mail channel (by name) its
    # confirmation and incident-update e-mails go out on (none: subscribing is off).
    title: str = Field(default="Service status", min_length=1, max_length=120)
    email_channel: str | None = None
    # Show every service (true), or only the services someone subscribes to (false).
    all_services: bool = False
    confirm_hours: float = Field(default=48.0, gt=0, le=24 * 30)  # a confirmation link expires after this
    subscribe_per_hour: int = Field(default=5, ge=1, le=1000)  # subscribe-form posts per client address


class SurgeConfig(_Strict):
    # Surge detection (routing/surge.py): this many similar messages from distinct
    # conversations, not linked to an incident, within the window, become a suggestion.
    enabled: bool = True
    min_messages: int = Field(default=5, ge=2, le=100)
    window_minutes: float = Field(default=10.0, gt=0, le=24 * 60)
    threshold: float = Field(default=0.3, gt=0, le=2)
    name_boost: float = Field(default=0.25, ge=0, le=1)
    interval_seconds: float = Field(default=15.0, gt=0, le=3600)  # how often the worker looks
    max_window_messages: int = Field(default=500, ge=10, le=5000)  # the newest ones, when more arrive


class ClusterConfig(_Strict):
    # A channel's receiver moves to another worker node within about this long after
    # its node dies; the holder renews every third of it.
    lease_seconds: float = Field(default=10.0, ge=1.0, le=600.0)


class RuleConfig(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    # "message": run on every inbound message; "change": on every status a change enters (routing/change_rules.py).
    on: Literal["message", "change"] = "message"
    if_: dict[str, Any] = Field(default_factory=dict, alias="if")
    then: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class PortalConfig(_Strict):
    # The email channel that sends the portal's one-time sign-in links (None: sign-in by
    # e-mail is off; the signed "View your requests" links still work).
    email_channel: str | None = None
    link_minutes: int = Field(default=30, ge=1, le=24 * 60)  # a sign-in link's life
    view_link_days: int = Field(default=30, ge=1, le=365)  # the "View your requests" link's life
    session_hours: int = Field(default=12, ge=1, le=24 * 30)


class ChangeFreezeConfig(_Strict):
    """A change freeze window: normal and standard changes may not be planned inside it."""

    name: str = Field(min_length=1, max_length=255)
    start: dt.datetime
    end: dt.datetime

    @model_validator(mode="after")
    def _window(self) -> ChangeFreezeConfig:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end carry a time zone (e.g. 2026-12-24T00:00:00Z)")
        if self.end <= self.start:
            raise ValueError("end comes after start")
        return self


class ServiceConfig(_Strict):
    """A `[[services]]` entry: a business service, provisioned read-only."""

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    criticality: Literal["high", "medium", "low"] = "medium"
    team: str | None = Field(default=None, max_length=255)
    depends_on: list[str] = Field(default_factory=list, max_length=100)


class ConfigItemConfig(_Strict):
    """A `[[config_items]]` entry: a configuration item, provisioned read-only."""

    name: str = Field(min_length=1, max_length=255)
    kind: Literal["application", "server", "database", "network", "saas", "other"] = "other"
    service: str | None = Field(default=None, max_length=255)
    depends_on: list[str] = Field(default_factory=list, max_length=100)
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)


class Config(_Strict):
    server: ServerConfig
    database: DatabaseConfig = DatabaseConfig()
    bus: BusConfig = BusConfig()
    outbox: OutboxConfig = OutboxConfig()
    cluster: ClusterConfig = ClusterConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    status: StatusConfig = StatusConfig()
    surge: SurgeConfig = SurgeConfig()
    channels: list[ChannelConfig] = []
    teams: list[TeamConfig] = []
    rules: list[RuleConfig] = []
    business_hours: dict[str, BusinessHoursConfig] = {}
    sla: list[SLAConfig] = []
    portal: PortalConfig = PortalConfig()
    request_types: list[RequestTypeSpec] = []
    change_freezes: list[ChangeFreezeConfig] = []
    services: list[ServiceConfig] = []
    config_items: list[ConfigItemConfig] = []
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "text"

    @property
    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)


@dataclass(frozen=True)
class LoadedConfig:
    path: str
    config: Config


def resolve_path(path: str | None) -> str:
    return path or os.environ.get("FRONTDESK_CONFIG") or DEFAULT_PATH


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, resolve "env:" secrets and validate; raise ConfigError listing every problem."""
    file = resolve_path(path)
    try:
        raw = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [f"not valid TOML: {exc}"]) from None
    return parse(raw, file, os.environ if env is None else env)


def parse(raw: dict[str, Any], file: str, env: Mapping[str, str]) -> Config:
    problems: list[str] = []
    resolved = _resolve_env(raw, env, (), problems)
    channel_models = _validate_channels(resolved.pop("channels", []), problems)
    try:
        config = Config.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(_describe(exc, ()))
        config = None
    names = [c.name for c in channel_models]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"channels: the name {dup!r} is used twice; names must be unique")
    if config is not None:
        problems.extend(_check_references(config, channel_models))
    if problems:
        raise ConfigError(file, problems)
    assert config is not None
    config.channels = channel_models
    return config


def _resolve_env(value: Any, env: Mapping[str, str], where: tuple[str | int, ...], problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_env(v, env, (*where, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, env, (*where, i), problems) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in env:
            problems.append(f"{_key(where)}: environment variable {name} is not set")
            return ""
        return env[name]
    if isinstance(value, str) and value.startswith("file:"):
        # A secret kept in a file of its own (a Docker or systemd credential, or the one
        # `make run` generates), never in the config file itself.
        path = Path(value[5:])
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{_key(where)}: cannot read the secret file {path}: {exc.strerror or exc}")
            return ""
    return value


def _validate_channels(items: Any, problems: list[str]) -> list[ChannelConfig]:
    if not isinstance(items, list):
        problems.append("channels: expected an array of tables ([[channels]])")
        return []
    result: list[ChannelConfig] = []
    for i, item in enumerate(items):
        where: tuple[str | int, ...] = ("channels", i)
        if not isinstance(item, dict):
            problems.append(f"{_key(where)}: expected a table")
            continue
        type_name = item.get("type")
        try:
            model = channels.config_model(str(type_name))
        except channels.UnknownChannelType as exc:
            problems.append(f"{_key((*where, 'type'))}: {exc}")
            continue
        try:
            result.append(model.model_validate(item))
        except ValidationError as exc:
            problems.extend(_describe(exc, where))
    return result


def check_change_rules(rules: list[RuleConfig], teams: list[str]) -> list[str]:
    """Problems of the `on = "change"` rules (keyed like the file), and names used twice across all rules."""
    problems: list[str] = []
    for i, rule in enumerate(rules):
        if rule.on != "change":
            continue
        try:
            validate_change_rule(
                {"name": rule.name, "on": "change", "if": rule.if_, "then": rule.then, "enabled": rule.enabled}, teams=teams
            )
        except InvalidRule as exc:
            problems.extend(f"rules[{i}].{key}" if not message else f"rules[{i}].{key}: {message}" for key, message in exc.details)
    names = [r.name for r in rules if r.on == "change"]
    others = {r.name for r in rules if r.on == "message"}
    for dup in sorted({n for n in names if names.count(n) > 1 or n in others}):
        problems.append(f"rules: the rule name {dup!r} is used twice; names must be unique")
    return problems


def _check_references(config: Config, channel_models: list[ChannelConfig]) -> list[str]:
    """Problems that span sections: rules naming unknown teams or templates, SLA calendars."""
    rules = [{"name": r.name, "if": r.if_, "then": r.then, "enabled": r.enabled} for r in config.rules if r.on == "message"]
    problems = check_change_rules(config.rules, [t.name for t in config.teams])
    problems += check_routing(
        teams=config.teams,
        rules=rules,
        sla=config.sla,
        business_hours=config.business_hours,
        templates=sorted(NotificationTemplates().names),
    )
    graph_names = [s.name for s in config.services] + [c.name for c in config.config_items]
    for dup in sorted({n for n in graph_names if graph_names.count(n) > 1}):
        problems.append(f"services/config_items: the name {dup!r} is used twice; names are unique across both")
    service_names = {s.name for s in config.services}
    for i, item in enumerate(config.config_items):
        if item.service is not None and item.service not in service_names:
            problems.append(f"config_items[{i}].service: {item.service!r} is not a [[services]] entry in this file")
    names = {c.name for c in channel_models}
    for i, channel in enumerate(channel_models):
        for key, other in channel.channels_named().items():
            if other not in names or other == channel.name:
                problems.append(f"channels[{i}].{key}: {other!r} is not the name of another channel in this file")
    portal_channel = config.portal.email_channel
    if portal_channel is not None and not any(c.name == portal_channel and c.type == "email" for c in channel_models):
        problems.append(f"portal.email_channel: {portal_channel!r} is not the name of an email channel in this file")
    type_names = [t.name for t in config.request_types]
    for dup in sorted({n for n in type_names if type_names.count(n) > 1}):
        problems.append(f"request_types: the name {dup!r} is used twice; names must be unique")
    teams = {t.name for t in config.teams}
    for i, request_type in enumerate(config.request_types):
        if request_type.team is not None and request_type.team not in teams:
            problems.append(f"request_types[{i}].team: {request_type.team!r} is not the name of a team in this file")
    return problems


def describe_errors(exc: ValidationError) -> list[str]:
    """Pydantic errors as `key: what was expected` lines, like `config check` prints."""
    return _describe(exc, ())


def _describe(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = (*prefix, *(p for p in err["loc"] if not str(p).startswith("function-")))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{_key(loc)}: {message}")
    return lines


def _key(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"
