"""LOGIN: privacy, success, failure delay and sameness, failure limit, syntax."""
import time

import pytest

from roostlib import (
    PASSWORDS,
    WRONG_PASSWORD,
    capabilities,
    code,
    ok,
    quote,
    status,
)

FAIL_DELAY = 0.4 - 0.005  # fail_delay_ms=400; libuv timers have 1 ms granularity


def test_login_refused_before_tls(server):
    with server.connect() as c:
        _, tagged = c.login("alice")
        assert status(tagged) == b"NO", tagged
        assert code(tagged) == b"PRIVACYREQUIRED", tagged
        # the session goes on, and STARTTLS then LOGIN works
        assert ok(c.cmd("NOOP")[1])


def test_login_refused_before_tls_even_with_wrong_user(server):
    with server.connect() as c:
        _, tagged = c.cmd("LOGIN nosuchuser whatever")
        assert code(tagged) == b"PRIVACYREQUIRED", tagged


def test_login_tls(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        untagged, tagged = c.login("alice")
        assert ok(tagged), tagged
        assert untagged == []
        assert "LITERAL+" in capabilities(tagged)


def test_login_after_starttls(server, tls_ctx):
    with server.connect() as c:
        c.starttls(tls_ctx)
        assert ok(c.login("bob")[1])


def test_login_username_case_insensitive(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        assert ok(c.cmd(f"LOGIN ALICE {quote(PASSWORDS['alice'])}")[1])


def test_login_password_case_sensitive(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd(f"LOGIN alice {quote(PASSWORDS['alice'].upper())}")
        assert code(tagged) == b"AUTHENTICATIONFAILED", tagged


def test_login_with_literals(server, tls_ctx):
    pw = PASSWORDS["alice"].encode()
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(b"a LOGIN {5}\r\n")
        cont = c.read_line()
        assert cont.startswith(b"+"), cont
        c.send(b"alice {%d}\r\n" % len(pw))
        cont = c.read_line()
        assert cont.startswith(b"+"), cont
        c.send(pw + b"\r\n")
        _, tagged = c.read_until_tagged("a")
        assert ok(tagged), tagged


def test_login_with_nonsync_literals(server, tls_ctx):
    pw = PASSWORDS["bob"].encode()
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(b"a LOGIN {3+}\r\nbob {%d+}\r\n%s\r\n" % (len(pw), pw))
        untagged, tagged = c.read_until_tagged("a")
        assert ok(tagged), tagged
        assert not any(l.startswith(b"+") for l in untagged), untagged


def test_login_quoted_password_with_specials(server, tls_ctx):
    """A password with a quote, a backslash and spaces, set with the CLI and
    sent as a quoted string with escapes."""
    pw = 'a "quoted" \\ pass word'
    r = server.user_cli("add", "carol", password=pw)
    assert r.returncode == 0, r.stderr
    try:
        with server.connect(tls=True, ctx=tls_ctx) as c:
            assert ok(c.cmd(f"LOGIN carol {quote(pw)}")[1])
    finally:
        server.user_cli("del", "carol")


def _timed(c, text):
    t0 = time.monotonic()
    _, tagged = c.cmd(text)
    return time.monotonic() - t0, tagged


def test_failed_login_delay_and_same_answer(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        t_wrong, wrong = _timed(c, f"LOGIN alice {quote(WRONG_PASSWORD)}")
    with server.connect(tls=True, ctx=tls_ctx) as c:
        t_unknown, unknown = _timed(c, f"LOGIN nosuchuser {quote(WRONG_PASSWORD)}")
    assert wrong == b"t1 NO [AUTHENTICATIONFAILED] Authentication failed", wrong
    assert wrong == unknown
    assert t_wrong >= FAIL_DELAY, t_wrong
    assert t_unknown >= FAIL_DELAY, t_unknown


def test_failed_login_then_success(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd(f"LOGIN alice {quote(WRONG_PASSWORD)}")
        assert code(tagged) == b"AUTHENTICATIONFAILED"
        assert ok(c.login("alice")[1])


def test_failed_login_does_not_block_other_sessions(server, tls_ctx):
    """The delay holds back one session's answer, not the server."""
    with server.connect(tls=True, ctx=tls_ctx) as slow, \
            server.connect(tls=True, ctx=tls_ctx) as fast:
        slow.send(f"s LOGIN alice {quote(WRONG_PASSWORD)}\r\n")
        t0 = time.monotonic()
        _, tagged = fast.cmd("NOOP")
        assert ok(tagged)
        assert time.monotonic() - t0 < FAIL_DELAY
        _, tagged = slow.read_until_tagged("s")
        assert code(tagged) == b"AUTHENTICATIONFAILED"


def test_too_many_failures_disconnects(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        for i in range(2):
            _, tagged = c.cmd(f"LOGIN alice {quote(WRONG_PASSWORD)}")
            assert code(tagged) == b"AUTHENTICATIONFAILED"
        _, tagged = c.cmd(f"LOGIN alice {quote(WRONG_PASSWORD)}", tag="last")
        assert tagged.startswith(b"last NO [AUTHENTICATIONFAILED]"), tagged
        bye = c.read_line()
        assert bye.startswith(b"* BYE "), bye
        assert c.read_to_eof(5) == b""


def test_failures_mixed_login_and_authenticate_count(server, tls_ctx):
    from roostlib import plain_ir
    with server.connect(tls=True, ctx=tls_ctx) as c:
        assert code(c.cmd(f"LOGIN alice {quote(WRONG_PASSWORD)}")[1]) == b"AUTHENTICATIONFAILED"
        assert code(c.cmd("AUTHENTICATE PLAIN " + plain_ir("alice", WRONG_PASSWORD))[1]) \
            == b"AUTHENTICATIONFAILED"
        assert code(c.cmd(f"LOGIN nosuch {quote(WRONG_PASSWORD)}")[1]) == b"AUTHENTICATIONFAILED"
        assert c.read_line().startswith(b"* BYE ")
        assert c.read_to_eof(5) == b""


def test_login_twice_is_bad(server, tls_ctx):
    with server.login_tls() as c:
        _, tagged = c.login("bob")
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


@pytest.mark.parametrize("args", [
    "",
    "alice",
    "alice pw extra",
    "(alice) pw",
    "alice (pw)",
])
def test_login_bad_syntax(server, tls_ctx, args):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd(("LOGIN " + args).rstrip())
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


def test_login_nil_is_not_a_string(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd("LOGIN NIL NIL")
        # NIL is an atom a client may mean as a user name; either a BAD or a
        # failed login is fine, never OK
        assert status(tagged) in (b"BAD", b"NO"), tagged


def test_login_empty_strings_fail(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd('LOGIN "" ""')
        assert status(tagged) in (b"NO", b"BAD"), tagged
        assert not ok(tagged)


def test_login_overlong_user_fails_cleanly(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd(f'LOGIN {"u" * 4000} x')
        assert status(tagged) in (b"NO", b"BAD"), tagged
        assert b"uuuu" not in tagged
        assert ok(c.cmd("NOOP")[1])
