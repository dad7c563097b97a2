"""Greeting, CAPABILITY, NOOP, LOGOUT on both ports and in every state."""
import imaplib
import re

import pytest

from roostlib import PASSWORDS, capabilities, ok, status

PRE_TLS = {"IMAP4REV1", "IMAP4REV2", "STARTTLS", "LOGINDISABLED", "SASL-IR", "LITERAL-",
           "ENABLE", "ID"}
TLS_PREAUTH = {"IMAP4REV1", "IMAP4REV2", "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR", "LITERAL-",
               "ENABLE", "ID"}


def test_greeting_plain_port(server):
    with server.connect() as c:
        assert re.match(rb"^\* OK \[CAPABILITY [^\]]+\] Roost ready\.$", c.greeting), c.greeting
        caps = capabilities(c.greeting)
        assert caps == PRE_TLS
        assert not any(x.startswith("AUTH=") for x in caps)


def test_greeting_tls_port(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        assert re.match(rb"^\* OK \[CAPABILITY [^\]]+\] Roost ready\.$", c.greeting), c.greeting
        caps = capabilities(c.greeting)
        assert caps == TLS_PREAUTH
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps


def test_certificate_verifies_for_localhost(server, tls_ctx):
    # tls_ctx checks the chain and the host name "localhost"
    with server.connect(tls=True, ctx=tls_ctx) as c:
        assert c.sock.version() is not None
        assert ok(c.cmd("NOOP")[1])


def test_capability_command_matches_greeting(server, tls_ctx):
    for tls in (False, True):
        with server.connect(tls=tls, ctx=tls_ctx) as c:
            untagged, tagged = c.cmd("CAPABILITY")
            assert ok(tagged), tagged
            assert len(untagged) == 1, untagged
            assert capabilities(untagged[0]) == capabilities(c.greeting)


def test_capability_after_starttls(server, tls_ctx):
    with server.connect() as c:
        c.starttls(tls_ctx)
        untagged, tagged = c.cmd("CAPABILITY")
        assert ok(tagged)
        assert capabilities(untagged[0]) == TLS_PREAUTH


def test_capability_after_login(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.login("alice")
        assert ok(tagged), tagged
        assert tagged.endswith(b"Logged in"), tagged
        caps = capabilities(tagged)
        assert "LITERAL+" in caps and "LITERAL-" not in caps
        assert not any(x.startswith("AUTH=") for x in caps)
        assert {"IMAP4REV1", "IMAP4REV2", "ENABLE", "ID"} <= caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
        untagged, tagged = c.cmd("CAPABILITY")
        assert ok(tagged)
        assert capabilities(untagged[0]) == caps


def test_capability_with_arguments_is_bad(server):
    with server.connect() as c:
        assert status(c.cmd("CAPABILITY foo")[1]) == b"BAD"
        assert ok(c.cmd("NOOP")[1])


def test_noop(server, tls_ctx):
    with server.connect() as c:
        untagged, tagged = c.cmd("NOOP")
        assert ok(tagged) and untagged == []
    with server.login_tls() as c:
        untagged, tagged = c.cmd("NOOP")
        assert ok(tagged) and untagged == []


def test_noop_with_arguments_is_bad(server):
    with server.connect() as c:
        assert status(c.cmd("NOOP x")[1]) == b"BAD"


def test_command_names_are_case_insensitive(server):
    with server.connect() as c:
        assert ok(c.cmd("noop")[1])
        assert ok(c.cmd("NoOp")[1])
        untagged, tagged = c.cmd("capability")
        assert ok(tagged) and untagged[0].startswith(b"* CAPABILITY ")


def test_tags_are_echoed_exactly(server):
    with server.connect() as c:
        for tag in ("A001", "x", "tag.with.dots", "9", "a-b_c"):
            _, tagged = c.cmd("NOOP", tag=tag)
            assert tagged.startswith(tag.encode() + b" OK"), tagged


def test_logout_before_login(server):
    with server.connect() as c:
        c.send("z LOGOUT\r\n")
        bye = c.read_line()
        assert bye.startswith(b"* BYE "), bye
        tagged = c.read_line()
        assert tagged.startswith(b"z OK"), tagged
        assert c.read_to_eof(5) == b""


def test_logout_after_login_tls(server, tls_ctx):
    c = server.login_tls()
    with c:
        untagged, tagged = c.cmd("LOGOUT", tag="q")
        assert ok(tagged)
        assert len(untagged) == 1 and untagged[0].startswith(b"* BYE ")
        assert c.read_to_eof(5) == b""


def test_logout_with_arguments_is_bad(server):
    with server.connect() as c:
        assert status(c.cmd("LOGOUT now")[1]) == b"BAD"
        assert ok(c.cmd("NOOP")[1])


def test_imaplib_session(server, tls_ctx):
    """imaplib as an ordinary client: TLS, capabilities, login, noop, logout."""
    m = imaplib.IMAP4_SSL("localhost", server.imaps_port, ssl_context=tls_ctx, timeout=20)
    try:
        assert "AUTH=PLAIN" in m.capabilities
        typ, _ = m.login("alice", PASSWORDS["alice"])
        assert typ == "OK"
        assert m.noop()[0] == "OK"
    finally:
        assert m.logout()[0] == "BYE"


def test_imaplib_starttls(server, tls_ctx):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=20)
    try:
        assert "STARTTLS" in m.capabilities
        assert "LOGINDISABLED" in m.capabilities
        m.starttls(ssl_context=tls_ctx)
        assert "AUTH=PLAIN" in m.capabilities
        assert m.login("bob", PASSWORDS["bob"])[0] == "OK"
    finally:
        m.logout()


@pytest.fixture(scope="module")
def plaintext_server(module_server_factory):
    return module_server_factory(auth={"allow_plaintext": "yes"})


def test_allow_plaintext_capabilities(plaintext_server):
    with plaintext_server.connect() as c:
        caps = capabilities(c.greeting)
        assert {"AUTH=PLAIN", "AUTH=LOGIN", "STARTTLS"} <= caps
        assert "LOGINDISABLED" not in caps


def test_allow_plaintext_login_on_plain_port(plaintext_server, tls_ctx):
    with plaintext_server.connect() as c:
        _, tagged = c.login("alice")
        assert ok(tagged), tagged
        # STARTTLS is only valid before login
        assert status(c.cmd("STARTTLS")[1]) == b"BAD"
        assert ok(c.cmd("NOOP")[1])


def test_allow_plaintext_starttls_still_works(plaintext_server, tls_ctx):
    with plaintext_server.connect() as c:
        c.starttls(tls_ctx)
        caps = capabilities(c.cmd("CAPABILITY")[0][0])
        assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps
        assert ok(c.login("bob")[1])
