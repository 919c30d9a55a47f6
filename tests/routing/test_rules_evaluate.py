"""Walking the rules over a message: order, every action, overriding, stop, failures."""

import pytest

from routing.rules import MessageSnapshot, Rule, evaluate, load_rules


def rule(name, then, when=None, enabled=True):
    return Rule.model_validate({"name": name, "if": when or {}, "then": then, "enabled": enabled})


def snap(**kw):
    base = dict(channel="support", channel_type="email", sender_address="ana@example.com", text="hello")
    base.update(kw)
    return MessageSnapshot(**base)


DESIGN_RULES = [
    rule(
        "invoices to billing",
        {"assign_team": "billing", "tag": ["billing"], "priority": "P3"},
        {"channel_type": ["email", "widget"], "text_matches": "(?i)invoice|factura"},
    ),
    rule(
        "outages are incidents",
        {"convert": "incident", "impact": "high", "urgency": "high"},
        {"text_matches": "(?i)outage|down|caído"},
    ),
]


def test_the_design_example_routes_an_invoice_email_to_billing():
    d = evaluate(DESIGN_RULES, snap(text="Where is my invoice?"))
    assert d.fired == ("invoices to billing",)
    assert (d.assign_team, d.tags, d.priority, d.convert) == ("billing", ("billing",), "P3", None)


def test_the_design_example_does_not_route_telegram_invoices():
    d = evaluate(DESIGN_RULES, snap(channel_type="telegram", text="factura"))
    assert d.fired == ()
    assert d.trace[0].outcome == "no_match"
    assert d.trace[0].detail.startswith("channel_type:")


def test_the_design_example_makes_a_spanish_outage_a_p1_incident():
    d = evaluate(DESIGN_RULES, snap(channel_type="telegram", text="el servidor está caído"))
    assert d.fired == ("outages are incidents",)
    assert (d.convert, d.impact, d.urgency, d.priority) == ("incident", "high", "high", "P1")


def test_no_rules_decide_nothing():
    d = evaluate([], snap())
    assert d.applied == () and d.fired == () and d.errors == ()
    assert d.assign_team is None and d.tags == () and d.timeline() == []


def test_a_rule_without_conditions_fires_on_every_message():
    d = evaluate([rule("all", {"tag": "seen"})], snap())
    assert d.fired == ("all",)


def test_all_conditions_of_a_rule_must_hold():
    r = rule("both", {"tag": "x"}, {"channel": "support", "language": "es"})
    assert evaluate([r], snap(language="es")).fired == ("both",)
    assert evaluate([r], snap(language="en")).fired == ()


def test_rules_fire_in_order_and_later_single_valued_actions_win():
    rules = [
        rule("first", {"assign_team": "sales", "priority": "P4", "status": "open"}),
        rule("second", {"assign_team": "billing"}),
        rule("third", {"priority": "P2"}),
    ]
    d = evaluate(rules, snap())
    assert d.fired == ("first", "second", "third")
    assert (d.assign_team, d.priority, d.status) == ("billing", "P2", "open")
    assert [(a.rule, a.action) for a in d.superseded] == [
        ("first", "assign_team"),
        ("first", "priority"),
    ]
    assert [(a.rule, a.action) for a in d.applied] == [
        ("first", "status"),
        ("second", "assign_team"),
        ("third", "priority"),
    ]


def test_tags_accumulate_across_rules_without_duplicates():
    rules = [
        rule("a", {"tag": ["billing", "vip"]}),
        rule("b", {"tag": ["VIP", "urgent"]}),
        rule("c", {"tag": "billing"}),
    ]
    d = evaluate(rules, snap())
    assert d.tags == ("billing", "vip", "urgent")
    assert [a.values for a in d.applied] == [("billing", "vip"), ("urgent",)]
    assert [a.rule for a in d.superseded] == ["c"]


def test_the_same_value_set_again_leaves_the_credit_with_the_first_rule():
    d = evaluate([rule("a", {"assign_team": "billing"}), rule("b", {"assign_team": "billing"})], snap())
    assert [a.rule for a in d.applied] == ["a"]
    assert [a.rule for a in d.superseded] == ["b"]


def test_stop_ends_evaluation_and_later_rules_are_not_reached():
    rules = [
        rule("a", {"tag": "a"}),
        rule("halt", {"tag": "b", "stop": True}),
        rule("c", {"tag": "c"}),
    ]
    d = evaluate(rules, snap())
    assert d.fired == ("a", "halt")
    assert d.stopped_by == "halt"
    assert d.tags == ("a", "b")
    assert d.trace[2].outcome == "not_reached"
    assert d.timeline()[-1] == 'rule "halt" stopped the rules after it'


def test_stop_only_counts_when_its_rule_matches():
    rules = [rule("halt", {"stop": True}, {"channel": "other"}), rule("c", {"tag": "c"})]
    d = evaluate(rules, snap())
    assert d.fired == ("c",) and d.stopped_by is None


def test_disabled_rules_are_skipped_and_traced():
    d = evaluate([rule("off", {"tag": "x"}, enabled=False), rule("on", {"tag": "y"})], snap())
    assert d.fired == ("on",)
    assert d.trace[0].outcome == "disabled"


@pytest.mark.parametrize(
    ("then", "attribute", "expected"),
    [
        ({"assign_agent": "bob@example.com"}, "assign_agent", "bob@example.com"),
        ({"assign_team": "billing"}, "assign_team", "billing"),
        ({"priority": "P5"}, "priority", "P5"),
        ({"tag": ["a", "b"]}, "tags", ("a", "b")),
        ({"status": "pending"}, "status", "pending"),
        ({"convert": "ticket"}, "convert", "request"),
        ({"convert": "request"}, "convert", "request"),
        ({"convert": "incident"}, "convert", "incident"),
        ({"auto_reply": "auto_reply"}, "auto_reply", "auto_reply"),
        ({"stop": True}, "stopped_by", "r"),
    ],
)
def test_every_action_shows_in_the_decision(then, attribute, expected):
    assert getattr(evaluate([rule("r", then)], snap()), attribute) == expected


def test_an_incident_without_impact_or_urgency_is_medium_medium_p3():
    d = evaluate([rule("r", {"convert": "incident"})], snap())
    assert (d.impact, d.urgency, d.priority) == ("medium", "medium", "P3")


def test_a_later_priority_overrides_the_priority_an_incident_got_from_the_matrix():
    rules = [
        rule("inc", {"convert": "incident", "impact": "low", "urgency": "low"}),
        rule("vip", {"priority": "P1"}),
    ]
    d = evaluate(rules, snap())
    assert (d.convert, d.priority) == ("incident", "P1")


def test_a_later_conversion_replaces_an_earlier_one():
    rules = [
        rule("req", {"convert": "request"}),
        rule("inc", {"convert": "incident", "impact": "high"}),
    ]
    d = evaluate(rules, snap())
    assert (d.convert, d.impact, d.urgency, d.priority) == ("incident", "high", "medium", "P2")


def test_automated_messages_never_get_an_auto_reply():
    d = evaluate([rule("hello", {"auto_reply": "auto_reply", "tag": "new"})], snap(automated=True))
    assert d.fired == ("hello",)
    assert d.auto_reply is None and d.tags == ("new",)
    assert [a.action for a in d.superseded] == ["auto_reply"]


def test_a_bad_regex_fails_only_its_rule_and_the_rest_still_run():
    rules = [
        rule("broken", {"tag": "x"}, {"text_matches": "(unclosed"}),
        rule("fine", {"tag": "y"}),
    ]
    d = evaluate(rules, snap())
    assert d.fired == ("fine",) and d.tags == ("y",)
    assert len(d.errors) == 1
    assert d.errors[0].rule == "broken"
    assert "bad regular expression" in d.errors[0].error
    assert d.trace[0].outcome == "failed"


def test_a_bad_regex_is_not_reported_when_an_earlier_condition_already_fails():
    d = evaluate([rule("broken", {"tag": "x"}, {"channel": "other", "text_matches": "("})], snap())
    assert d.errors == () and d.trace[0].outcome == "no_match"


def test_a_rule_naming_a_missing_team_is_skipped_as_a_whole():
    rules = [
        rule("to ghost", {"assign_team": "ghosts", "tag": "t"}),
        rule("ok", {"priority": "P2"}),
    ]
    d = evaluate(rules, snap(), teams={"billing"})
    assert d.assign_team is None and d.tags == () and d.priority == "P2"
    assert d.errors[0].error == "no team named 'ghosts'"


def test_missing_agents_and_templates_fail_their_rules_when_the_caller_knows_them():
    rules = [rule("a", {"assign_agent": "Bob@Example.com"}), rule("b", {"auto_reply": "nope"})]
    d = evaluate(rules, snap(), agents=["bob@example.com"], templates={"auto_reply"})
    assert d.assign_agent == "Bob@Example.com"
    assert [e.rule for e in d.errors] == ["b"]
    assert "no auto-reply template named 'nope'" in d.errors[0].error


def test_a_failing_rule_with_stop_does_not_stop_the_chain():
    rules = [rule("broken", {"stop": True}, {"text_matches": "["}), rule("next", {"tag": "n"})]
    d = evaluate(rules, snap())
    assert d.stopped_by is None and d.fired == ("next",)


def test_an_unexpected_exception_in_a_rule_is_captured_not_raised(monkeypatch):
    from routing import conditions

    def explode(expected, m):
        raise RuntimeError("boom")

    monkeypatch.setitem(conditions.CHECKS, "channel", explode)
    d = evaluate([rule("r", {"tag": "x"}, {"channel": "support"}), rule("s", {"tag": "y"})], snap())
    assert d.errors[0].error == "RuntimeError: boom"
    assert d.fired == ("s",)


def test_evaluate_changes_nothing_and_gives_the_same_answer_twice():
    s = snap(text="invoice")
    assert evaluate(DESIGN_RULES, s) == evaluate(DESIGN_RULES, s)


def test_the_trace_explains_every_rule_in_order():
    rules = [
        rule("off", {"tag": "x"}, enabled=False),
        rule("miss", {"tag": "x"}, {"language": "es"}),
        rule("bad", {"tag": "x"}, {"subject_matches": "("}),
        rule("hit", {"tag": "x", "stop": True}),
        rule("late", {"tag": "x"}),
    ]
    d = evaluate(rules, snap(language="en"))
    assert [(t.rule, t.outcome) for t in d.trace] == [
        ("off", "disabled"),
        ("miss", "no_match"),
        ("bad", "failed"),
        ("hit", "fired"),
        ("late", "not_reached"),
    ]
    assert d.trace[1].detail == "language: language 'en' is not one of es"
    assert d.trace[4].detail == 'stopped by rule "hit"'


def test_timeline_in_english_and_spanish_for_every_action():
    rules = [
        rule(
            "Billing",
            {
                "convert": "incident",
                "impact": "high",
                "urgency": "low",
                "assign_team": "billing",
                "assign_agent": "ana@example.com",
                "tag": ["a", "b"],
                "status": "pending",
                "auto_reply": "auto_reply",
                "stop": True,
            },
        )
    ]
    d = evaluate(rules, snap())
    assert d.timeline("en") == [
        'rule "Billing" converted the conversation to an incident (impact high, urgency low)',
        'rule "Billing" set priority P3',
        'rule "Billing" assigned to team billing',
        'rule "Billing" assigned to agent ana@example.com',
        'rule "Billing" added the tags a, b',
        'rule "Billing" set the status to pending',
        'rule "Billing" sent the auto-reply "auto_reply"',
        'rule "Billing" stopped the rules after it',
    ]
    assert d.timeline("es") == [
        "la regla «Billing» convirtió la conversación en una incidencia (impacto alto, urgencia baja)",
        "la regla «Billing» fijó la prioridad P3",
        "la regla «Billing» asignó al equipo billing",
        "la regla «Billing» asignó al agente ana@example.com",
        "la regla «Billing» añadió las etiquetas a, b",
        "la regla «Billing» cambió el estado a pendiente",
        "la regla «Billing» envió la respuesta automática «auto_reply»",
        "la regla «Billing» detuvo las reglas siguientes",
    ]


def test_timeline_singular_tag_request_conversion_and_unknown_language_falls_back_to_english():
    d = evaluate([rule("r", {"tag": "vip", "convert": "ticket"})], snap())
    assert d.timeline("fr") == [
        'rule "r" converted the conversation to a request',
        'rule "r" added the tag vip',
    ]
    assert d.timeline("es-ES") == [
        "la regla «r» convirtió la conversación en una solicitud",
        "la regla «r» añadió la etiqueta vip",
    ]


def test_load_rules_skips_damaged_rows_and_reports_them():
    rows = [
        {"name": "ok", "if": {}, "then": {"tag": "x"}},
        {"name": "damaged", "if": {"chanel": "x"}, "then": {"tag": "x"}},
        {"if": {}, "then": {}},
    ]
    rules, failures = load_rules(rows)
    assert [r.name for r in rules] == ["ok"]
    assert [f.rule for f in failures] == ["damaged", "#2"]
    assert "if.chanel: unknown key" in failures[0].error


def test_load_rules_keeps_a_bad_regex_for_evaluation_to_report():
    rules, failures = load_rules([{"name": "r", "if": {"text_matches": "("}, "then": {"tag": "x"}}])
    assert failures == [] and evaluate(rules, snap()).errors[0].rule == "r"
