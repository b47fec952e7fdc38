"""Keyed pseudonyms and user-agent families: what de-identified exports put in place of ids."""

import hashlib
import hmac

import pytest

from intact import pseudonyms, user_agents

KEY = "k" * 40


def test_a_pseudonym_is_hmac_sha256_of_the_id_under_the_key_cut_to_80_bits():
    coder = pseudonyms.Pseudonymiser(KEY)
    # Worked out independently of the module: HMAC-SHA-256 (RFC 2104) of prefix + id.
    expected = hmac.new(KEY.encode(), b"intact participant\x00P001", hashlib.sha256).hexdigest()
    assert coder.participant("P001") == "p" + expected[:20]
    assert len(coder.participant("P001")) == 21


def test_pseudonyms_are_stable_keyed_and_separate_per_kind():
    one, again, other = (pseudonyms.Pseudonymiser(k) for k in (KEY, KEY, "z" * 40))
    assert one.participant("Müller1") == again.participant("Müller1")
    assert one.participant("Müller1") != other.participant("Müller1")
    assert one.participant("P1") != one.participant("P2")
    # Same text, another kind of identifier: another code, with its own letter.
    assert one.study("abcdefgh")[0] == "s"
    assert one.test("abcdefgh")[0] == "t"
    assert one.study("abcdefgh")[1:] != one.test("abcdefgh")[1:]
    assert one.participant(None) is None
    assert one.participant("") is None


def test_without_a_key_no_pseudonym_can_be_made(app):
    app.config["PSEUDONYM_KEY"] = ""
    with app.app_context():
        assert not pseudonyms.is_available()
        with pytest.raises(pseudonyms.PseudonymKeyMissing, match="PSEUDONYM_KEY"):
            pseudonyms.Pseudonymiser()


@pytest.mark.parametrize(
    ("user_agent", "browser", "system"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "Chrome",
            "Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox",
            "Linux",
        ),
        ("not a browser at all", "Other", "Other"),
        ("", "Other", "Other"),
        (None, "Other", "Other"),
        (42, "Other", "Other"),
    ],
)
def test_user_agents_are_reduced_to_browser_and_os_family(user_agent, browser, system):
    found = user_agents.device(user_agent)
    assert (found.browser, found.os) == (browser, system)
