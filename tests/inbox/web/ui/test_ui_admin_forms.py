"""Admin forms built from the engine's and the adapters' own models (issue 19): the rule
builder stores what the JSON box would (same rule, same audit) and keeps every row on an
error; the channel edit form has the type's fields, keeps what was typed on an error, and a
secret left empty keeps its stored value."""

from __future__ import annotations

import json

from sqlalchemy import select

from inbox.store.models import AuditEntry, Channel, Rule
from routing.rules import RuleActions, RuleConditions
from tests.fixtures.inbox import Api
from tests.inbox.web.ui.test_ui_pages import sign_in

ROWS = {
    "if-0-key": "channel_type",
    "if-0-op": "any_of",
    "if-0-value": "email, widget",
    "if-1-key": "text_matches",
    "if-1-op": "matches",
    "if-1-value": "(?i)invoice|factura",
    "if-2-key": "automated",
    "if-2-op": "is",
    "if-2-value": "false",
    "if-7-key": "field",  # rows need not be numbered one after another (rows added and removed)
    "if-7-op": "any_of",
    "if-7-name": "system",
    "if-7-value": "VPN",
    "if-8-key": "",  # an empty row is skipped
    "if-8-op": "any_of",
    "if-8-value": "",
    "then-0-key": "tag",
    "then-0-value": "billing, money",
    "then-1-key": "priority",
    "then-1-value": "P3",
    "then-2-key": "stop",
    "then-2-value": "",
}
IF = {"channel_type": ["email", "widget"], "text_matches": "(?i)invoice|factura", "automated": False, "field": {"system": ["VPN"]}}
THEN = {"tag": ["billing", "money"], "priority": "P3", "stop": True}


async def stored_rule(api: Api) -> tuple[tuple[object, ...], tuple[str, str, dict[str, object]]]:
    async with api.services.db.read() as session:
        rule = await session.scalar(select(Rule).where(Rule.name == "invoices"))
        assert rule is not None
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rule.create").order_by(AuditEntry.id.desc()))
        assert entry is not None
        return (rule.name, rule.conditions, rule.actions, rule.enabled, rule.position), (entry.action, entry.target, entry.details)


async def test_the_rule_builder_stores_what_the_json_box_would(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    page = (await api.client.get("/admin/rules")).text
    # The choices are the engine's own keys, every one of them; three empty rows of each without JavaScript.
    for key in RuleConditions.model_fields:
        assert f'<option value="{key}" data-op=' in page, key
    for key in RuleActions.model_fields:
        assert f'<option value="{key}">' in page.split('id="then-0-key"')[1].split("</select>")[0], key
    assert 'id="if-2-value"' in page and 'id="if-3-value"' not in page.split("<template")[0] and 'id="then-2-key"' in page
    assert '<button type="button" data-rule-add="if" hidden>Add condition</button>' in page and 'name="if-__N__-key"' in page
    assert '<script src="/static/rules.js" defer></script>' in page and '<datalist id="dl-then-priority">' in page
    assert (await api.client.get("/static/rules.js")).status_code == 200

    built = await api.client.post("/admin/rules", data={"csrf": csrf, "name": "invoices", **ROWS})
    assert built.status_code == 303 and built.headers["location"] == "/admin/rules?flash=saved", built.text
    by_rows = await stored_rule(api)
    assert by_rows[0][1:3] == (IF, THEN)
    rule_id = int(by_rows[1][1].removeprefix("rule:"))
    assert (await api.client.post(f"/admin/rules/{rule_id}/toggle", data={"csrf": csrf, "delete": "1"})).status_code == 303

    typed = await api.client.post(
        "/admin/rules", data={"csrf": csrf, "name": "invoices", "conditions": json.dumps(IF), "actions": json.dumps(THEN)}
    )
    assert typed.status_code == 303
    by_json = await stored_rule(api)
    assert by_json[0] == by_rows[0] and (by_json[1][0], by_json[1][2]) == (by_rows[1][0], by_rows[1][2])
    async with api.services.db.read() as session:  # a second rule, stored and audited alike
        assert len(list(await session.scalars(select(AuditEntry.id).where(AuditEntry.action == "rule.create")))) == 2

    # Each JSON box, when filled in, stands for its part; the other part still comes from its rows.
    mixed = {"csrf": csrf, "name": "mixed", "conditions": '{"sender_domain": "acme.example"}', "then-0-key": "tag", "then-0-value": "acme"}
    assert (await api.client.post("/admin/rules", data=mixed)).status_code == 303
    async with api.services.db.read() as session:
        rule = await session.scalar(select(Rule).where(Rule.name == "mixed"))
        assert rule is not None and (rule.conditions, rule.actions) == ({"sender_domain": "acme.example"}, {"tag": ["acme"]})


async def test_a_refused_rule_comes_back_with_every_row_as_typed(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    async with api.services.db.read() as session:
        audits = len(list(await session.scalars(select(AuditEntry.id))))
    unreadable = {
        "csrf": csrf,
        "name": "outages",
        "if-0-key": "text_matches",
        "if-0-op": "any_of",  # a pattern matches; it is not one of a list
        "if-0-value": "(?i)down <now>",
        "if-1-key": "channel_type",
        "if-1-op": "any_of",
        "if-1-value": " ",
        "if-2-key": "automated",
        "if-2-op": "is",
        "if-2-value": "maybe",
        "then-0-key": "tag",
        "then-0-value": "outage",
        "then-1-key": "tag",
        "then-1-value": "again",
        "then-2-key": "warp",
        "then-2-value": "9",
    }
    refused = await api.client.post("/admin/rules", data=unreadable)
    assert refused.status_code == 422
    text = refused.text
    assert "Some rows cannot be read; see the marked rows." in text and 'value="outages"' in text
    assert 'value="(?i)down &lt;now&gt;"' in text and 'value="maybe"' in text and 'value="outage"' in text and 'value="again"' in text
    assert '<option value="text_matches" data-op="matches" selected>' in text and '<option value="any_of" selected>' in text
    assert 'id="if-0-err">This field takes the operator: matches (regular expression)</p>' in text
    assert 'id="if-1-err">Give a value.</p>' in text and 'id="if-2-err">Answer true or false.</p>' in text
    assert 'id="then-1-err">This is already in another row' in text and 'id="then-2-err">Choose one of the listed fields.</p>' in text
    assert 'id="then-0-err"' not in text and 'id="if-3-key"' not in text.split("<template")[0]  # three rows typed, three shown

    # A rule the action refuses (a bad pattern, a team that does not exist) marks the rows it names.
    wrong = {
        "csrf": csrf,
        "name": "outages",
        "if-0-key": "text_matches",
        "if-0-op": "matches",
        "if-0-value": "(unclosed",
        "then-0-key": "assign_team",
        "then-0-value": "nobody",
        "then-1-key": "priority",
        "then-1-value": "P1",
    }
    refused = await api.client.post("/admin/rules", data=wrong)
    assert refused.status_code == 422 and "not a valid regular expression" in refused.text
    assert (
        'id="if-0-value" name="if-0-value" type="text" value="(unclosed" data-rule-value aria-invalid="true" aria-describedby="if-0-err"'
        in refused.text
    )
    assert 'id="then-1-err"' not in refused.text and 'value="P1"' in refused.text
    spanish = await api.client.post("/admin/rules", data=unreadable, headers={"Accept-Language": "es"})
    assert "Algunas filas no se pueden leer" in spanish.text and "Añadir condición" in spanish.text and "Indica un valor." in spanish.text
    async with api.services.db.read() as session:
        assert await session.scalar(select(Rule.id)) is None
        assert len(list(await session.scalars(select(AuditEntry.id)))) == audits


async def test_the_channel_edit_form_has_the_type_fields_and_keeps_a_secret_left_empty(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    added = await api.client.post(
        "/admin/channels",
        data={"csrf": csrf, "name": "tg", "type": "telegram", "s.telegram.token": "123:abc", "s.telegram.poll_timeout": "20"},
    )
    assert added.status_code == 303, added.text
    async with api.services.db.read() as session:
        channel_id = await session.scalar(select(Channel.id).where(Channel.name == "tg"))
    page = (await api.client.get("/admin/channels", params={"edit": str(channel_id)})).text
    assert "123:abc" not in page
    assert 'id="e-token" name="e.token" type="password" autocomplete="new-password" placeholder="stored — leave empty to keep"' in page
    assert 'name="e.webhook_secret" type="password" autocomplete="new-password">' in page  # nothing stored: no "kept" hint
    assert 'name="e.poll_timeout" type="number" step="1" inputmode="decimal" value="20"' in page
    assert 'name="e.api_base_url" type="text" value="https://api.telegram.org/bot"' in page
    assert '<select id="e-mode" name="e.mode"><option selected>polling</option>' in page

    form = {
        "csrf": csrf,
        "e.token": "",
        "e.mode": "polling",
        "e.poll_timeout": "99",
        "e.api_base_url": "https://tg.example/bot",
        "enabled": "1",
    }
    refused = await api.client.post(f"/admin/channels/{channel_id}", data=form)
    assert refused.status_code == 422 and "poll_timeout" in refused.text
    assert 'name="e.poll_timeout" type="number" step="1" inputmode="decimal" value="99" aria-invalid="true"' in refused.text
    assert 'name="e.api_base_url" type="text" value="https://tg.example/bot"' in refused.text

    saved = await api.client.post(f"/admin/channels/{channel_id}", data={**form, "e.poll_timeout": "5"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/channels?flash=saved"
    async with api.services.db.read() as session:
        row = await session.get(Channel, channel_id)
        assert row is not None and row.enabled
        settings = api.services.secrets.open_settings(row.settings)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "channel.update").order_by(AuditEntry.id.desc()))
    assert settings["token"] == "123:abc" and settings["poll_timeout"] == 5 and settings["api_base_url"] == "https://tg.example/bot"
    assert entry is not None and entry.details["enabled"] is True and "poll_timeout" in entry.details["keys"]
    assert 'value="https://tg.example/bot"' in (await api.client.get("/admin/channels", params={"edit": str(channel_id)})).text

    # A new secret replaces the old one; a field left empty goes back to its default; unticked, it is disabled.
    changed = {"csrf": csrf, "e.token": "456:def", "e.mode": "polling", "e.poll_timeout": "5", "e.api_base_url": ""}
    assert (await api.client.post(f"/admin/channels/{channel_id}", data=changed)).status_code == 303
    async with api.services.db.read() as session:
        row = await session.get(Channel, channel_id)
        assert row is not None and not row.enabled
        settings = api.services.secrets.open_settings(row.settings)
    assert settings["token"] == "456:def" and "api_base_url" not in settings
    # The JSON under Advanced still changes only the keys it gives.
    patched = await api.client.post(f"/admin/channels/{channel_id}", data={"csrf": csrf, "settings": '{"poll_timeout": 7}', "enabled": "1"})
    assert patched.status_code == 303
    async with api.services.db.read() as session:
        row = await session.get(Channel, channel_id)
        assert row is not None
        settings = api.services.secrets.open_settings(row.settings)
    assert (settings["token"], settings["poll_timeout"]) == ("456:def", 7)
    spanish = await api.client.get("/admin/channels", params={"edit": str(channel_id)}, headers={"Accept-Language": "es"})
    assert "guardado: déjalo vacío para conservarlo" in spanish.text


async def test_the_builder_makes_a_rule_on_changes_with_the_change_keys(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    page = await api.client.get("/admin/rules")
    assert '<select id="r-on" name="on"' in page.text and 'data-rule-kind="change"' in page.text
    assert "Notify a team (its members, by e-mail and Slack)" in page.text
    rows = {
        "on": "change",
        "if-0-key": "risk",
        "if-0-op": "any_of",
        "if-0-value": "high",
        "if-1-key": "text_matches",  # a conversation key on a change rule: marked, kept
        "if-1-op": "matches",
        "if-1-value": "x",
        "then-0-key": "notify_email",
        "then-0-value": "ops@example.com",
    }
    refused = await api.client.post("/admin/rules", data={"csrf": csrf, "name": "risky", **rows})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert '<option value="change" selected>' in refused.text and 'value="ops@example.com"' in refused.text
    del rows["if-1-key"], rows["if-1-op"], rows["if-1-value"]
    made = await api.client.post("/admin/rules", data={"csrf": csrf, "name": "risky", **rows})
    assert made.status_code == 303, made.text
    async with api.services.db.read() as session:
        rule = (await session.scalars(select(Rule).where(Rule.name == "risky"))).one()
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "rule.create"))).one()
    assert rule.conditions == {"on": "change", "risk": ["high"]} and rule.actions == {"notify_email": ["ops@example.com"]}
    assert audit.details["on"] == "change"
    listed = await api.client.get("/admin/rules")
    row = listed.text.split("<strong>risky</strong>")[1].split("</tr>")[0]
    assert '<span class="badge">Changes</span>' in row and "?try=" not in row  # the tester tries message rules
