"""The rules page's tester is a form: a rule (or every enabled one), tried on a conversation
by id or on a sample message; it shows each condition matched or why not and what the
actions would do, and keeps what was typed when it cannot run."""

from __future__ import annotations

from sqlalchemy import func, select

from inbox.store.models import AuditEntry, Rule
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import sign_in


async def add_rule(api: Api, csrf: str, name: str, conditions: str, actions: str) -> int:
    added = await api.client.post("/admin/rules", data={"csrf": csrf, "name": name, "conditions": conditions, "actions": actions})
    assert added.status_code == 303 and "error" not in added.headers["location"]
    async with api.services.db.read() as session:
        rule_id = await session.scalar(select(Rule.id).where(Rule.name == name))
    assert rule_id is not None
    return rule_id


async def test_the_tester_shows_each_condition_and_what_the_actions_would_do(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    billing = await add_rule(
        api, csrf, "billing", '{"channel_type": ["email"], "text_matches": "(?i)invoice"}', '{"tag": ["billing"], "priority": "P3"}'
    )
    await add_rule(api, csrf, "outages", '{"text_matches": "(?i)down"}', '{"tag": ["outage"]}')
    page = await api.client.get("/admin/rules", params={"try": str(billing)})
    assert f'<option value="{billing}" selected>billing</option>' in page.text
    assert 'name="conditions"' not in page.text.split("data-rule-tester")[1].split("</form>")[0]  # no JSON boxes

    # A sample message, against one rule: both conditions shown, one holds and one does not.
    tried = await api.client.post(
        "/admin/rules/test",
        data={"csrf": csrf, "rule": str(billing), "source": "sample", "channel_type": "telegram", "sender": "7001", "text": "my invoice"},
    )
    outcome = tried.text.split("data-rule-outcome")[1]
    assert tried.status_code == 200 and "No rule fires." in outcome and "does not match" in outcome
    assert "✓" in outcome and "✗" in outcome and "channel type &#39;telegram&#39; is not one of email" in outcome
    assert "outages" not in outcome  # only the chosen rule
    assert 'value="7001"' in tried.text and "my invoice</textarea>" in tried.text  # the form as typed

    # Every enabled rule on a conversation's latest customer message.
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("m1", text="Invoice 42 is wrong", subject="Billing")])
    tried = await api.client.post(
        "/admin/rules/test", data={"csrf": csrf, "source": "conversation", "conversation": str(result.conversation_id)}
    )
    outcome = tried.text.split("data-rule-outcome")[1]
    assert tried.status_code == 200 and '<span class="chip">billing</span>' in outcome and "fires" in outcome
    assert "Tried on mail" in outcome and "What the actions would do" in outcome and "P3" in outcome
    assert "text does not match" in outcome  # the outages rule, and why not

    # A conversation that is not there: the refusal, and the form as it was typed.
    missing = await api.client.post(
        "/admin/rules/test", data={"csrf": csrf, "source": "conversation", "conversation": "99999", "text": "kept", "rule": str(billing)}
    )
    assert missing.status_code == 422 and "No conversation with that id" in missing.text and "data-rule-outcome" not in missing.text
    assert 'value="99999"' in missing.text and "kept</textarea>" in missing.text and f'<option value="{billing}" selected>' in missing.text
    assert 'value="conversation" checked' in missing.text
    gone = await api.client.post("/admin/rules/test", data={"csrf": csrf, "rule": "123456", "text": "x"})
    assert gone.status_code == 422 and "That rule does not exist" in gone.text

    spanish = await api.client.post(
        "/admin/rules/test", data={"csrf": csrf, "rule": str(billing), "text": "invoice"}, headers={"Accept-Language": "es"}
    )
    assert "se activa" in spanish.text and "se cumple" in spanish.text and "Regla a probar" in spanish.text
    async with api.services.db.read() as session:  # testing changes nothing
        assert await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("rule.%"))) == 2
