"""Request types and the rule conditions on a request's answers: pure checks."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from routing.conditions import fields, request_type
from routing.request_types import AnswerError, RequestTypeSpec, check_answers, summary
from routing.rules import RuleConditions
from routing.snapshot import MessageSnapshot

SPEC = RequestTypeSpec.model_validate(
    {
        "name": "Access",
        "fields": [
            {"name": "system", "label": "System", "kind": "choice", "choices": ["vpn", "crm"], "required": True},
            {"name": "when", "label": "When", "kind": "date"},
            {"name": "note", "label": "Note", "kind": "long_text"},
            {"name": "file", "label": "File", "kind": "attachment", "required": True},
        ],
    }
)


def test_answers_are_checked_field_by_field() -> None:
    stored = check_answers(SPEC, {"system": "vpn", "when": " 2030-02-28 ", "note": ""}, {"file": "a.pdf"})
    assert stored == {"system": "vpn", "when": "2030-02-28", "file": "a.pdf"}
    assert summary(SPEC, stored) == "System: vpn\nWhen: 2030-02-28\nFile: a.pdf"
    cases = [
        ({"system": "fax"}, {"file": "a"}, "system"),
        ({}, {"file": "a"}, "system"),
        ({"system": "vpn", "when": "2030-02-30"}, {"file": "a"}, "when"),
        ({"system": "vpn", "when": "tomorrow"}, {"file": "a"}, "when"),
        ({"system": "vpn"}, {}, "file"),
        ({"system": "vpn", "ghost": "x"}, {"file": "a"}, "ghost"),
        ({"system": "vpn", "note": "x" * 10_001}, {"file": "a"}, "note"),
        ({"system": ["vpn"]}, {"file": "a"}, "system"),
    ]
    for answers, files, field in cases:
        with pytest.raises(AnswerError) as caught:
            check_answers(SPEC, answers, files)
        assert caught.value.field == field


def test_a_request_type_is_checked_when_defined() -> None:
    for bad in (
        {"name": "A", "fields": [{"name": "c", "label": "C", "kind": "choice"}]},
        {"name": "A", "fields": [{"name": "t", "label": "T", "choices": ["x"]}]},
        {"name": "A", "fields": [{"name": "x", "label": "X"}, {"name": "x", "label": "Y"}]},
        {"name": "A", "fields": [{"name": "Bad Name", "label": "X"}]},
        {"name": "A", "approver": "not-an-email"},
        {"name": "A", "priority": "P9"},
        {"name": ""},
    ):
        with pytest.raises(ValidationError):
            RequestTypeSpec.model_validate(bad)


def test_rules_test_the_request_type_and_fields_written_as_toml_dotted_keys() -> None:
    raw = tomllib.loads('request_type = "access"\nfield.system = ["VPN", "crm"]\n')
    conditions = RuleConditions.model_validate(raw)
    assert conditions.field == {"system": ("VPN", "crm")}
    snapshot = MessageSnapshot(channel="mail", channel_type="email", sender_address="a@x", request_type="Access", fields={"system": "vpn"})
    assert request_type(conditions.request_type, snapshot) is None
    assert fields(conditions.field, snapshot) is None
    other = MessageSnapshot(channel="mail", channel_type="email", sender_address="a@x", fields={"system": "fax"})
    assert request_type(("Access",), other) == "request type None is not one of Access"
    assert fields({"system": ("vpn",)}, other) == "field system 'fax' is not one of vpn"
    assert fields({"missing": ("x",)}, snapshot) is not None
    with pytest.raises(ValidationError):
        RuleConditions.model_validate({"field": {"Bad Key": "x"}})
