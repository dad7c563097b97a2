"""AUTHENTICATE PLAIN and LOGIN, with and without SASL-IR; cancel; bad input."""
import time

import pytest

from roostlib import PASSWORDS, WRONG_PASSWORD, b64, code, ok, plain_ir, status

FAIL_DELAY = 0.4 - 0.005  # fail_delay_ms=400; libuv timers have 1 ms granularity


@pytest.fixture
def tls(server, tls_ctx):
    c = server.connect(tls=True, ctx=tls_ctx)
    yield c
    c.close()


def test_authenticate_refused_before_tls(server):
    with server.connect() as c:
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))
        assert status(tagged) == b"NO" and code(tagged) == b"PRIVACYREQUIRED", tagged
        # without an initial response: no continuation is offered either
        c.send("b AUTHENTICATE PLAIN\r\n")
        line = c.read_line()
        assert line.startswith(b"b NO [PRIVACYREQUIRED]"), line
        assert ok(c.cmd("NOOP")[1])


def test_plain_with_initial_response(tls):
    untagged, tagged = tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))
    assert ok(tagged), tagged
    assert untagged == []
    assert b"[CAPABILITY " in tagged


def test_plain_mechanism_name_case_insensitive(tls):
    _, tagged = tls.cmd("AUTHENTICATE plain " + plain_ir("bob", PASSWORDS["bob"]))
    assert ok(tagged), tagged


def test_plain_without_initial_response(tls):
    tls.send("a AUTHENTICATE PLAIN\r\n")
    line = tls.read_line()
    assert line in (b"+ ", b"+"), line
    tls.send(plain_ir("bob", PASSWORDS["bob"]) + "\r\n")
    untagged, tagged = tls.read_until_tagged("a")
    assert ok(tagged), tagged


def test_plain_with_matching_authzid(tls):
    _, tagged = tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"], "alice"))
    assert ok(tagged), tagged


def test_plain_with_other_authzid_fails(tls):
    t0 = time.monotonic()
    _, tagged = tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"], "bob"))
    assert status(tagged) == b"NO", tagged
    assert time.monotonic() - t0 >= FAIL_DELAY
    # still not logged in
    assert status(tls.cmd("ENABLE IMAP4rev2")[1]) == b"BAD"


def test_plain_wrong_password(tls):
    t0 = time.monotonic()
    _, tagged = tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", WRONG_PASSWORD), tag="w")
    assert tagged == b"w NO [AUTHENTICATIONFAILED] Authentication failed", tagged
    assert time.monotonic() - t0 >= FAIL_DELAY
    assert ok(tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))[1])


def test_plain_unknown_user_same_as_wrong_password(server, tls_ctx):
    answers = []
    for user in ("alice", "nosuchuser"):
        with server.connect(tls=True, ctx=tls_ctx) as c:
            t0 = time.monotonic()
            _, tagged = c.cmd("AUTHENTICATE PLAIN " + plain_ir(user, WRONG_PASSWORD), tag="x")
            assert time.monotonic() - t0 >= FAIL_DELAY
            answers.append(tagged)
    assert answers[0] == answers[1] == b"x NO [AUTHENTICATIONFAILED] Authentication failed"


def test_plain_empty_initial_response(tls):
    """"=" is an empty initial response (RFC 4959); for PLAIN that is no
    valid message, so the exchange fails, and the session goes on."""
    _, tagged = tls.cmd("AUTHENTICATE PLAIN =")
    assert status(tagged) in (b"BAD", b"NO"), tagged
    assert ok(tls.cmd("NOOP")[1])
    assert ok(tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))[1])


def test_login_mechanism(tls):
    tls.send("a AUTHENTICATE LOGIN\r\n")
    assert tls.read_line() == b"+ VXNlcm5hbWU6"
    tls.send(b64("alice") + "\r\n")
    assert tls.read_line() == b"+ UGFzc3dvcmQ6"
    tls.send(b64(PASSWORDS["alice"]) + "\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert ok(tagged), tagged


def test_login_mechanism_with_initial_response(tls):
    tls.send("a AUTHENTICATE LOGIN " + b64("bob") + "\r\n")
    assert tls.read_line() == b"+ UGFzc3dvcmQ6"
    tls.send(b64(PASSWORDS["bob"]) + "\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert ok(tagged), tagged


def test_login_mechanism_wrong_password(tls):
    tls.send("a AUTHENTICATE LOGIN\r\n")
    assert tls.read_line() == b"+ VXNlcm5hbWU6"
    tls.send(b64("alice") + "\r\n")
    assert tls.read_line() == b"+ UGFzc3dvcmQ6"
    tls.send(b64(WRONG_PASSWORD) + "\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert tagged == b"a NO [AUTHENTICATIONFAILED] Authentication failed", tagged


def test_cancel_plain(tls):
    tls.send("a AUTHENTICATE PLAIN\r\n")
    assert tls.read_line().startswith(b"+")
    tls.send("*\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert status(tagged) == b"BAD", tagged
    assert ok(tls.cmd("NOOP")[1])


def test_cancel_login_at_password(tls):
    tls.send("a AUTHENTICATE LOGIN\r\n")
    assert tls.read_line().startswith(b"+ ")
    tls.send(b64("alice") + "\r\n")
    assert tls.read_line().startswith(b"+ ")
    tls.send("*\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert status(tagged) == b"BAD", tagged
    assert ok(tls.login("alice")[1])


def test_invalid_base64_initial_response(tls):
    _, tagged = tls.cmd("AUTHENTICATE PLAIN !!!notbase64!!!")
    assert status(tagged) == b"BAD", tagged
    assert ok(tls.cmd("NOOP")[1])


def test_invalid_base64_continuation(tls):
    tls.send("a AUTHENTICATE PLAIN\r\n")
    assert tls.read_line().startswith(b"+")
    tls.send("%%%%\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert status(tagged) == b"BAD", tagged
    assert ok(tls.cmd("NOOP")[1])


def test_malformed_plain_message(tls):
    # no NUL separators at all
    _, tagged = tls.cmd("AUTHENTICATE PLAIN " + b64("alice" + PASSWORDS["alice"]))
    assert status(tagged) in (b"BAD", b"NO"), tagged
    assert not ok(tagged)
    assert ok(tls.cmd("NOOP")[1])


def test_unknown_mechanism(tls):
    _, tagged = tls.cmd("AUTHENTICATE CRAM-MD5")
    assert status(tagged) == b"NO" and code(tagged) == b"CANNOT", tagged
    _, tagged = tls.cmd("AUTHENTICATE XYZZY " + b64("x"))
    assert status(tagged) == b"NO" and code(tagged) == b"CANNOT", tagged
    assert ok(tls.cmd("NOOP")[1])


def test_authenticate_without_mechanism_is_bad(tls):
    assert status(tls.cmd("AUTHENTICATE")[1]) == b"BAD"
    assert status(tls.cmd('AUTHENTICATE "PLAIN"')[1]) == b"BAD"
    assert ok(tls.cmd("NOOP")[1])


def test_authenticate_too_many_arguments_is_bad(tls):
    assert status(tls.cmd("AUTHENTICATE PLAIN " + b64("x") + " " + b64("y"))[1]) == b"BAD"


def test_authenticate_after_login_is_bad(server):
    with server.login_tls() as c:
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + plain_ir("bob", PASSWORDS["bob"]))
        assert status(tagged) == b"BAD", tagged


def test_authenticate_after_starttls(server, tls_ctx):
    with server.connect() as c:
        c.starttls(tls_ctx)
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))
        assert ok(tagged), tagged


def test_commands_after_authenticate_use_new_state(tls):
    assert ok(tls.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]))[1])
    untagged, tagged = tls.cmd("ENABLE IMAP4rev2")
    assert ok(tagged)
    assert untagged == [b"* ENABLED IMAP4rev2"]


def test_sasl_response_that_looks_like_a_command(tls):
    """During AUTHENTICATE a line is a SASL response, never a command."""
    tls.send("a AUTHENTICATE PLAIN\r\n")
    assert tls.read_line().startswith(b"+")
    tls.send("b NOOP\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert status(tagged) == b"BAD", tagged
    assert ok(tls.cmd("NOOP")[1])


def test_sasl_response_too_long(tls):
    tls.send("a AUTHENTICATE PLAIN\r\n")
    assert tls.read_line().startswith(b"+")
    tls.send("A" * (70 * 1024) + "\r\n")
    line = tls.read_line()
    assert status(line) == b"BAD", line[:100]
    assert line.startswith(b"a BAD") or line.startswith(b"* BAD"), line[:100]
    assert ok(tls.cmd("NOOP")[1])


def test_sasl_pipelined_with_initial_response(tls):
    """SASL-IR lets a client pipeline the whole login with the next command."""
    tls.send("a AUTHENTICATE PLAIN " + plain_ir("alice", PASSWORDS["alice"]) +
             "\r\nb ENABLE IMAP4rev2\r\n")
    _, tagged = tls.read_until_tagged("a")
    assert ok(tagged), tagged
    untagged, tagged = tls.read_until_tagged("b")
    assert ok(tagged) and untagged == [b"* ENABLED IMAP4rev2"]
