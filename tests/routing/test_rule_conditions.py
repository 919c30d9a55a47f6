"""Each condition a rule can test, alone."""

import re

import pytest

from routing import conditions
from routing.snapshot import MessageSnapshot


def snap(**kw):
    base = dict(channel="support", channel_type="email", sender_address="ana@example.com", text="hello")
    base.update(kw)
    return MessageSnapshot(**base)


def test_channel_matches_any_listed_name():
    assert conditions.channel(("support", "sales"), snap()) is None
    assert "not one of" in conditions.channel(("sales",), snap())


def test_channel_type_matches_any_listed_type():
    assert conditions.channel_type(("email", "widget"), snap()) is None
    assert conditions.channel_type(("telegram",), snap()) is not None


@pytest.mark.parametrize(
    ("globs", "matches"),
    [
        (("ana@example.com",), True),
        (("ANA@Example.COM",), True),
        (("*@example.com",), True),
        (("*@other.com", "ana@*"), True),
        (("*@other.com",), False),
        (("ana@example.co",), False),
    ],
)
def test_sender_globs_match_case_insensitively(globs, matches):
    assert (conditions.sender(globs, snap()) is None) is matches


def test_sender_glob_also_tries_the_email_a_chat_channel_knows():
    telegram = snap(channel_type="telegram", sender_address="123456", sender_email="ana@example.com")
    assert conditions.sender(("*@example.com",), telegram) is None
    assert conditions.sender(("123456",), telegram) is None


@pytest.mark.parametrize(
    ("address", "wanted", "matches"),
    [
        ("ana@example.com", "example.com", True),
        ("ana@EU.Example.com", "example.com", True),
        ("ana@example.com", "@example.com", True),
        ("ana@badexample.com", "example.com", False),
        ("ana@example.com.evil.org", "example.com", False),
        ("123456", "example.com", False),
    ],
)
def test_sender_domain_matches_the_domain_and_its_subdomains(address, wanted, matches):
    assert (conditions.sender_domain((wanted,), snap(sender_address=address)) is None) is matches


def test_sender_domain_can_be_given_explicitly():
    s = snap(sender_address="visitor-1", sender_domain="Example.com")
    assert s.sender_domain == "example.com"
    assert conditions.sender_domain(("example.com",), s) is None


def test_contact_tags_match_any_one_tag_case_insensitively():
    s = snap(contact_tags=frozenset({"VIP", "beta"}))
    assert conditions.contact_tags(("vip", "gold"), s) is None
    assert conditions.contact_tags(("gold",), s) is not None
    assert conditions.contact_tags(("vip",), snap()) is not None


def test_text_matches_searches_the_body_with_python_regex():
    s = snap(text="Please send the INVOICE again", subject="Hi")
    assert conditions.text_matches("(?i)invoice", s) is None
    assert conditions.text_matches("invoice", s) is not None  # case-sensitive unless (?i)
    assert conditions.text_matches("Hi", s) is not None  # the subject is not the text


def test_subject_matches_searches_the_subject_and_a_missing_subject_is_empty():
    assert conditions.subject_matches(r"^\[urgent\]", snap(subject="[urgent] help")) is None
    assert conditions.subject_matches("urgent", snap(subject=None)) is not None
    assert conditions.subject_matches("^$", snap(subject=None)) is None


def test_bad_pattern_raises_re_error_for_the_engine_to_report():
    with pytest.raises(re.error):
        conditions.text_matches("(unclosed", snap())


def test_patterns_only_see_the_first_part_of_a_huge_text():
    s = snap(text="a" * conditions.MAX_MATCH_CHARS + "needle")
    assert conditions.text_matches("needle", s) is not None


@pytest.mark.parametrize(
    ("language", "wanted", "matches"),
    [
        ("es", "es", True),
        ("es-MX", "es", True),
        ("es_ar", "es", True),
        ("es-MX", "es-mx", True),
        ("es-AR", "es-MX", False),
        ("en", "es", False),
        (None, "es", False),
    ],
)
def test_language_matches_by_primary_tag_or_exact_region(language, wanted, matches):
    assert (conditions.language((wanted,), snap(language=language)) is None) is matches


def test_business_hours_condition_reads_the_snapshot_flag():
    assert conditions.business_hours("in", snap(in_business_hours=True)) is None
    assert conditions.business_hours("out", snap(in_business_hours=False)) is None
    assert conditions.business_hours("out", snap(in_business_hours=True)) == "received in of business hours"


def test_conversation_condition_tells_new_from_existing():
    assert conditions.conversation("new", snap(conversation_is_new=True)) is None
    assert conditions.conversation("existing", snap(conversation_is_new=False)) is None
    assert conditions.conversation("new", snap(conversation_is_new=False)) is not None


def test_automated_condition_matches_the_flag():
    assert conditions.automated(True, snap(automated=True)) is None
    assert conditions.automated(False, snap(automated=False)) is None
    assert conditions.automated(False, snap(automated=True)) == "the message is automated"


def test_snapshot_derives_the_sender_domain_from_an_email_address():
    assert snap(sender_address="Ana@Example.COM").sender_domain == "example.com"
    assert snap(sender_address="42", sender_email="x@y.org").sender_domain == "y.org"
    assert snap(sender_address="42").sender_domain is None


def test_snapshot_accepts_any_iterable_of_tags_and_freezes_it():
    s = snap(contact_tags={"a", "b"})
    assert s.contact_tags == frozenset({"a", "b"})
