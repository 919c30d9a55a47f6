"""The rule form's builder: rows of (field, operator, value) for the conditions and
(action, value) for the actions, built from the rules engine's own models
(routing.rules.RuleConditions / RuleActions, and routing.change_rules' ChangeConditions /
ChangeActions for a rule on changes): which keys exist, what each one takes (one of
some values, a list of names, a pattern, yes or no) and so which operator it uses; and the
way back from the posted rows to the `if` / `then` objects the JSON box would hold.

A row the server cannot read (no value, a key twice, a wrong operator) is marked with the
reason and the form comes back as typed; the assembled rule is then checked by the same
action as the JSON path (inbox.actions.rules)."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel

from inbox.errors import Invalid
from routing.change_rules import ChangeActions, ChangeConditions
from routing.rules import RuleActions, RuleConditions

MAX_ROWS = 40  # of each part; more rows than keys never makes sense
EMPTY_ROWS = 3  # shown without JavaScript (and after the rows typed, on an error)
TRUE = ("true", "yes", "1", "on", "si", "sí")
FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True, slots=True)
class Key:
    """One key of `if` or `then` as the builder offers it."""

    name: str  # "channel_type"
    kind: str  # names | field | pattern | text | choice | bool
    operator: str  # any_of | matches | is
    choices: tuple[str, ...] = ()


OPERATOR_OF = {"names": "any_of", "field": "any_of", "pattern": "matches", "text": "is", "choice": "is", "bool": "is"}
OPERATORS = ("any_of", "matches", "is")


def _plain(annotation: Any) -> Any:
    """The annotation without `| None` and `Annotated[...]` wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        elif origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _keys(model: type[BaseModel], str_kind: str) -> tuple[Key, ...]:
    out = []
    for name, info in model.model_fields.items():
        annotation = _plain(info.annotation)
        origin = typing.get_origin(annotation)
        choices: tuple[str, ...] = ()
        if origin is Literal:
            kind, choices = "choice", tuple(str(a) for a in typing.get_args(annotation))
        elif annotation is bool:
            kind, choices = "bool", ("true", "false")
        elif origin is tuple or origin is list:
            kind = "names"
            inner = [_plain(a) for a in typing.get_args(annotation) if a is not Ellipsis]
            if len(inner) == 1 and typing.get_origin(inner[0]) is Literal:
                choices = tuple(str(a) for a in typing.get_args(inner[0]))  # any of these values
        elif origin is dict:
            kind = "field"
        else:
            kind = str_kind
        out.append(Key(name, kind, OPERATOR_OF[kind], choices))
    return tuple(out)


CONDITIONS = _keys(RuleConditions, "pattern")  # every string condition is a regular expression
ACTIONS = _keys(RuleActions, "text")
# A rule on changes (routing.change_rules): its own keys, from its own models.
CHANGE_CONDITIONS = _keys(ChangeConditions, "text")
CHANGE_ACTIONS = _keys(ChangeActions, "text")
KINDS = ("message", "change")  # what a rule applies to: conversations' messages, or changes
_BY_PART = {
    "message": {"if": {k.name: k for k in CONDITIONS}, "then": {k.name: k for k in ACTIONS}},
    "change": {"if": {k.name: k for k in CHANGE_CONDITIONS}, "then": {k.name: k for k in CHANGE_ACTIONS}},
}


@dataclass(slots=True)
class Row:
    """A row as typed (strings), and what is wrong with it (a UI text key) if anything."""

    key: str = ""
    operator: str = ""
    name: str = ""  # the form field's name, for the `field` condition
    value: str = ""
    problem: str = ""
    wants: str = ""  # the operator the key takes, when a wrong one was chosen

    @property
    def empty(self) -> bool:
        return not (self.key or self.value.strip() or self.name.strip())


def rows_of(form: Mapping[str, str], part: Literal["if", "then"]) -> list[Row]:
    """The rows posted as `PART-N-key`, `-op`, `-name`, `-value`, in the order of N."""
    pattern = re.compile(rf"{part}-(\d{{1,4}})-(key|op|name|value)")
    indices = sorted({int(m.group(1)) for k in form if (m := pattern.fullmatch(k))})[:MAX_ROWS]
    return [
        Row(
            key=str(form.get(f"{part}-{i}-key", "")).strip()[:100],
            operator=str(form.get(f"{part}-{i}-op", "")).strip()[:100],
            name=str(form.get(f"{part}-{i}-name", "")).strip()[:100],
            value=str(form.get(f"{part}-{i}-value", ""))[:10_000],
        )
        for i in indices
    ]


def shown(rows: list[Row]) -> list[Row]:
    """The rows to show: those typed, then empty ones up to EMPTY_ROWS."""
    return rows + [Row() for _ in range(max(0, EMPTY_ROWS - len(rows)))]


def _names(raw: str) -> list[str]:
    return [v.strip() for v in raw.replace("\n", ",").split(",") if v.strip()]


def _value(key: Key, row: Row, part: str) -> Any:
    raw = row.value.strip()
    if key.kind == "bool":
        if not raw and part == "then":
            return True  # "stop" alone means stop
        if raw.casefold() in TRUE:
            return True
        if raw.casefold() in FALSE:
            return False
        row.problem = "rf_yes_no"
        return None
    if not raw:
        row.problem = "rf_value_needed"
        return None
    if key.kind in ("names", "field"):
        return _names(raw)
    if key.kind == "pattern":
        return row.value  # a pattern keeps its spaces
    return raw


def assemble(rows: list[Row], part: Literal["if", "then"], kind: str = "message") -> dict[str, Any]:
    """The `if` or `then` object of the rows of a rule of `kind`, as the JSON box would give
    it. Raises Invalid (code rf_rows) after marking each row that cannot be read (a key of
    the other kind included)."""
    known = _BY_PART.get(kind, _BY_PART["message"])[part]
    out: dict[str, Any] = {}
    for row in rows:
        if row.empty:
            continue
        key = known.get(row.key)
        if key is None:
            row.problem = "rf_choose_key"
            continue
        if part == "if" and row.operator != key.operator:
            row.problem, row.wants = "rf_wrong_operator", key.operator
            continue
        value = _value(key, row, part)
        if row.problem:
            continue
        if key.kind == "field":
            if not row.name:
                row.problem = "rf_name_needed"
                continue
            fields = out.setdefault("field", {})
            if row.name in fields:
                row.problem = "rf_twice"
                continue
            fields[row.name] = value
        elif key.name in out:
            row.problem = "rf_twice"
        else:
            out[key.name] = value
    if any(row.problem for row in rows):
        raise Invalid(f"{part}: check the marked rows", code="rf_rows")
    return out


def marked_key(part: str, row: Row, marked: set[str]) -> bool:
    """Whether a refusal of the whole rule names this row's key ("if.text_matches: ...")."""
    if not row.key:
        return False
    where = f"{part}.{row.key}"
    return any(m == where or m.startswith(where + ".") or m.startswith(where + "[") for m in marked)
