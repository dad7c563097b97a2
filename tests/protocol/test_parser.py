"""The command parser through the wire: pipelining, line and literal limits,
nesting, bad bytes. After every error the session must still work."""
import pytest

from roostlib import PASSWORDS, ConnectionClosed, code, ok, status

MAX_LINE = 64 * 1024            # default max_line
MAX_LITERAL_PREAUTH = 8 * 1024  # default max_literal_preauth


def still_works(c):
    _, tagged = c.cmd("NOOP", tag="alive")
    assert tagged.startswith(b"alive OK"), tagged


def test_pipelined_noops(server):
    with server.connect() as c:
        c.send(b"".join(b"p%d NOOP\r\n" % i for i in range(100)))
        for i in range(100):
            line = c.read_line()
            assert line.startswith(b"p%d OK" % i), (i, line)
        still_works(c)


def test_pipelined_noops_tls(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(b"".join(b"p%d NOOP\r\n" % i for i in range(100)))
        for i in range(100):
            assert c.read_line().startswith(b"p%d OK" % i)


def test_pipelined_mixed_commands_in_order(server, tls_ctx):
    pw = PASSWORDS["alice"]
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(f'a NOOP\r\nb ENABLE IMAP4rev2\r\nc LOGIN alice "{pw}"\r\n'
               "d ENABLE IMAP4rev2\r\ne CAPABILITY\r\nf XYZZY\r\ng NOOP\r\n")
        lines = []
        while True:
            line = c.read_line()
            lines.append(line)
            if line.startswith(b"g "):
                break
        tagged = [l for l in lines if not l.startswith(b"* ")]
        assert [l.split(b" ")[0] for l in tagged] == [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
        assert status(tagged[1]) == b"BAD"   # ENABLE before login
        assert ok(tagged[2])                 # LOGIN
        assert ok(tagged[3])                 # ENABLE after login
        assert b"* ENABLED IMAP4rev2" in lines
        assert lines.index(b"* ENABLED IMAP4rev2") < lines.index(tagged[3])


def test_command_split_across_writes(server):
    with server.connect() as c:
        for b in b"a NOOP\r\n":
            c.send(bytes([b]))
        assert c.read_line().startswith(b"a OK")


def test_line_just_under_limit(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        # an ID value list padded close to max_line: still a valid line
        pad = "x" * 1000
        pairs = " ".join(f'"k{i}" "{pad}"' for i in range(30))
        line = f"a ID ({pairs})"
        assert len(line) < MAX_LINE
        untagged, tagged = c.cmd(line[2:], tag="a")
        assert ok(tagged), tagged


def test_overlong_line_is_bad_then_continues(server):
    with server.connect() as c:
        c.send(b"a NOOP " + b"x" * (MAX_LINE + 100) + b"\r\n")
        line = c.read_line()
        assert status(line) == b"BAD", line[:200]
        assert line.startswith(b"a BAD") or line.startswith(b"* BAD"), line[:200]
        assert b"xxxx" not in line
        still_works(c)


def test_overlong_line_several_times(server):
    with server.connect() as c:
        for _ in range(3):
            c.send(b"a " + b"y" * (2 * MAX_LINE) + b"\r\n")
            assert status(c.read_line()) == b"BAD"
            still_works(c)


def test_huge_line_gets_bye(server):
    with server.connect() as c:
        chunk = b"z" * 65536
        try:
            for _ in range(32):  # 2 MB without a line end
                c.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = c.read_to_eof(20)
        assert b"* BYE" in data, data[:300]
        assert b"zzzz" not in data


def test_preauth_literal_too_big(server):
    with server.connect() as c:
        c.send(b"a LOGIN {100000}\r\n")
        line = c.read_line()
        assert not line.startswith(b"+"), "continuation offered for an oversized literal"
        assert line.startswith(b"a BAD"), line
        assert code(line) == b"TOOBIG", line
        still_works(c)


def test_preauth_literal_just_over_limit(server):
    with server.connect() as c:
        c.send(b"a LOGIN {%d}\r\n" % (MAX_LITERAL_PREAUTH + 1))
        line = c.read_line()
        assert line.startswith(b"a BAD [TOOBIG]"), line
        still_works(c)


@pytest.mark.parametrize("size", [5000, 160000])
def test_preauth_nonsync_literal_too_big(server, size):
    """Too big for LITERAL- (over 4096) or for max_literal_preauth, and
    non-synchronizing: the client sends the bytes anyway. The server must
    answer BAD [TOOBIG] (or BYE) and never run the literal's contents as
    commands (a command-injection vector)."""
    with server.connect() as c:
        payload = (b"x NOOP\r\n" * (size // 8 + 1))[:size]
        try:
            c.send(b"a LOGIN {%d+}\r\n" % len(payload) + payload + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        first = c.read_line()
        assert first.startswith(b"a BAD [TOOBIG]") or first.startswith(b"* BYE"), first
        try:
            c.send(b"z NOOP\r\n")
            _, tagged = c.read_until_tagged("z")
            rest = b"\r\n".join(_)
        except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
            rest = c.buf
        assert b"x OK" not in rest, "literal bytes were run as commands"


def test_sync_literal_gets_continuation(server):
    with server.connect() as c:
        c.send(b"a LOGIN {5}\r\n")
        line = c.read_line()
        assert line.startswith(b"+"), line
        c.send(b"alice {3}\r\n")
        assert c.read_line().startswith(b"+")
        c.send(b"foo\r\n")
        _, tagged = c.read_until_tagged("a")
        # the plain port refuses LOGIN, but only after parsing it completely
        assert code(tagged) == b"PRIVACYREQUIRED", tagged
        still_works(c)


def test_literal_with_crlf_and_specials_inside(server):
    value = b'a\r\nb "c) (d'
    with server.connect() as c:
        c.send(b'a ID ("name" {%d}\r\n' % len(value))
        assert c.read_line().startswith(b"+")
        c.send(value + b')\r\n')
        untagged, tagged = c.read_until_tagged("a")
        assert ok(tagged), tagged


def test_nonsync_literal_without_continuation(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(b'a ID ("name" {5+}\r\nhello)\r\nb NOOP\r\n')
        untagged, tagged = c.read_until_tagged("a")
        assert ok(tagged), tagged
        assert not any(l.startswith(b"+") for l in untagged)
        assert c.read_line().startswith(b"b OK")


def test_literal_plus_after_login(server):
    """After login LITERAL+ allows big non-synchronizing literals."""
    value = b"v" * 20000
    with server.login_tls() as c:
        c.send(b'a ID ("name" {%d+}\r\n%s)\r\n' % (len(value), value))
        untagged, tagged = c.read_until_tagged("a")
        # the ID value limit may refuse it, but the literal is read whole
        assert status(tagged) in (b"OK", b"BAD"), tagged
        assert not any(l.startswith(b"+") for l in untagged)
        still_works(c)


def test_zero_length_literal(server):
    with server.connect() as c:
        c.send(b'a ID ("name" {0}\r\n')
        assert c.read_line().startswith(b"+")
        c.send(b")\r\n")
        _, tagged = c.read_until_tagged("a")
        assert ok(tagged), tagged


@pytest.mark.parametrize("bad", [b"{abc}", b"{-1}", b"{99999999999999999999999}",
                                 b"{5", b"{}"])
def test_malformed_literal_marker(server, bad):
    with server.connect() as c:
        c.send(b"a LOGIN " + bad + b"\r\n")
        line = c.read_line()
        assert not line.startswith(b"+"), line
        assert status(line) == b"BAD", line
        still_works(c)


def test_deep_nesting(server):
    with server.connect() as c:
        c.send(b"a ID " + b"(" * 100 + b"\r\n")
        line = c.read_line()
        assert line.startswith(b"a BAD") or line.startswith(b"* BAD"), line
        still_works(c)


def test_deep_nesting_closed(server):
    with server.connect() as c:
        c.send(b"a ID " + b"(" * 1000 + b")" * 1000 + b"\r\n")
        line = c.read_line()
        assert status(line) == b"BAD", line
        still_works(c)


def test_nesting_within_limit_is_parsed(server):
    with server.connect() as c:
        # well-formed and shallow, but ID does not take nested lists
        _, tagged = c.cmd('ID ((("a")))')
        assert status(tagged) == b"BAD"
        still_works(c)


def test_unbalanced_parentheses(server):
    with server.connect() as c:
        assert status(c.cmd('ID ("name" "x"')[1]) == b"BAD"
        assert status(c.cmd('ID "name" "x")')[1]) == b"BAD"
        still_works(c)


def test_nul_byte(server):
    with server.connect() as c:
        c.send(b"a NO\x00OP\r\n")
        line = c.read_line()
        assert status(line) == b"BAD", line
        still_works(c)


def test_nul_in_quoted_string(server):
    with server.connect() as c:
        c.send(b'a ID ("name" "x\x00y")\r\n')
        assert status(c.read_line()) == b"BAD"
        still_works(c)


def test_eight_bit_in_atom(server):
    with server.connect() as c:
        c.send(b"a NOOP\xc3\xa9\r\n")
        line = c.read_line()
        assert status(line) == b"BAD", line
        assert b"\xc3" not in line
        still_works(c)


def test_eight_bit_in_tag(server):
    with server.connect() as c:
        c.send(b"\xff\xfe NOOP\r\n")
        line = c.read_line()
        assert status(line) == b"BAD", line
        assert b"\xff" not in line
        still_works(c)


def test_control_characters(server):
    with server.connect() as c:
        c.send(b"a NOOP\x01\r\n")
        assert status(c.read_line()) == b"BAD"
        still_works(c)


def test_bad_quoted_escape(server):
    with server.connect() as c:
        assert status(c.cmd('ID ("name" "a\\qb")')[1]) == b"BAD"
        still_works(c)


def test_empty_lines_are_ignored(server):
    """Roost skips empty lines (telnet users): no answer, no state change."""
    with server.connect() as c:
        c.send(b"\r\n\r\n\na NOOP\r\n")
        assert c.read_line().startswith(b"a OK")
        still_works(c)


def test_double_space(server):
    with server.connect() as c:
        assert status(c.cmd('ID  NIL')[1]) == b"BAD"
        still_works(c)


def test_bare_lf_line_end_does_not_hang(server):
    """A client that ends lines with LF alone gets an answer (either the
    command runs or it is refused), not a hang."""
    with server.connect() as c:
        c.send(b"a NOOP\n")
        c.send(b"b NOOP\r\n")
        _, tagged = c.read_until_tagged("b")
        assert ok(tagged) or status(tagged) == b"BAD"
        still_works(c)


def test_garbage_burst_then_works(server, tls_ctx):
    import random
    rnd = random.Random(1234)
    with server.connect(tls=True, ctx=tls_ctx) as c:
        for _ in range(20):
            junk = bytes(rnd.randrange(1, 256) for _ in range(200)).replace(b"{", b"[")
            c.send(junk + b"\r\n")
        # every junk line gets at most one answer; then we are heard again
        c.send(b"zz NOOP\r\n")
        _, tagged = c.read_until_tagged("zz")
        assert ok(tagged)


def test_nothing_after_logout_runs(server):
    with server.connect() as c:
        c.send(b"a LOGOUT\r\nb NOOP\r\nc CAPABILITY\r\n")
        data = c.read_to_eof(10)
        assert data.startswith(b"* BYE"), data
        assert b"a OK" in data
        assert b"b " not in data and b"c " not in data, data


def test_nothing_after_final_auth_failure_runs(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send(b"".join(b'f%d LOGIN alice "wrong-x"\r\n' % i for i in range(3)) +
               b"b NOOP\r\n")
        data = c.read_to_eof(20)
        assert data.count(b"NO [AUTHENTICATIONFAILED]") == 3, data
        assert b"* BYE" in data
        assert b"b OK" not in data, data


def test_commands_pipelined_behind_failed_login_wait(server, tls_ctx):
    import time
    with server.connect(tls=True, ctx=tls_ctx) as c:
        t0 = time.monotonic()
        c.send(b'a LOGIN alice "wrong-y"\r\nb NOOP\r\n')
        first = c.read_line()
        assert first.startswith(b"a NO [AUTHENTICATIONFAILED]"), first
        second = c.read_line()
        assert second.startswith(b"b OK"), second
        assert time.monotonic() - t0 >= 0.395


def test_literal_nul_byte_is_bad(server):
    """A literal holds CHAR8: no NUL (RFC 9051 section 4.3)."""
    with server.connect() as c:
        c.send(b"a LOGIN alice {3}\r\n")
        assert c.read_line().startswith(b"+")
        c.send(b"a\x00b\r\n")
        _, tagged = c.read_until_tagged("a")
        assert status(tagged) == b"BAD", tagged
        still_works(c)


def test_utf8_in_quoted_string(server):
    """IMAP4rev2 quoted strings may hold UTF-8."""
    with server.connect() as c:
        _, tagged = c.cmd('ID ("name" "h\u00e9llo \u2603")'.encode())
        assert ok(tagged), tagged


def test_invalid_utf8_in_quoted_string(server):
    """The parser passes 8-bit bytes on and lets each command check them
    (a design choice); ID may take or refuse it, but must not echo it."""
    with server.connect() as c:
        untagged, tagged = c.cmd(b'ID ("name" "h\xffllo")')
        assert status(tagged) in (b"OK", b"BAD"), tagged
        assert not any(b"\xff" in l for l in untagged + [tagged])
        still_works(c)
