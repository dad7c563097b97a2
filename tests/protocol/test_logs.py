"""What the server logs on stderr: events yes, secrets never."""
import re

from roostlib import (
    ALL_TEST_PASSWORDS,
    PASSWORDS,
    WRONG_PASSWORD,
    b64,
    plain_ir,
    quote,
    wait_for,
)

LINE = re.compile(r"^\S+ roost\[(error|warn|info|debug)\]: .*$")


def exercise(server, tls_ctx):
    """Every way a password can travel, successful and failed."""
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.cmd(f"LOGIN alice {quote(WRONG_PASSWORD)}")
        c.cmd(f"LOGIN nosuchuser {quote(WRONG_PASSWORD)}")
        c.cmd(f"LOGIN alice {quote(PASSWORDS['alice'])}")
        c.cmd("LOGOUT")
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.cmd("AUTHENTICATE PLAIN " + plain_ir("bob", WRONG_PASSWORD))
        c.cmd("AUTHENTICATE PLAIN " + plain_ir("bob", PASSWORDS["bob"]))
    with server.connect(tls=True, ctx=tls_ctx) as c:
        c.send("a AUTHENTICATE LOGIN\r\n")
        c.read_line()
        c.send(b64("alice") + "\r\n")
        c.read_line()
        c.send(b64(PASSWORDS["alice"]) + "\r\n")
        c.read_until_tagged("a")
    with server.connect() as c:
        # refused before TLS: still must not be logged
        c.cmd(f"LOGIN alice {quote(PASSWORDS['alice'])}")
        c.send(b"b LOGIN alice {%d}\r\n" % len(PASSWORDS["alice"]))
        c.read_line()
        c.send(PASSWORDS["alice"] + "\r\n")
        c.read_until_tagged("b")
        # a password in a junk command
        c.cmd(f"XLOGIN alice {quote(PASSWORDS['alice'])}")


def wait_disconnects(server, start, n):
    """Wait until n sessions that started after log offset start are gone."""
    wait_for(lambda: len(re.findall(r"disconnect", server.log()[start:])) >= n,
             what=f"{n} disconnect lines")


def test_log_lines_and_no_passwords(server, tls_ctx):
    start = len(server.log())
    exercise(server, tls_ctx)
    wait_disconnects(server, start, 4)
    log = server.log()
    assert re.search(r"listening on 127\.0\.0\.1:\d+ \(imap\)", log)
    assert re.search(r"listening on 127\.0\.0\.1:\d+ \(imaps\)", log)
    assert re.search(r"connect from 127\.0\.0\.1:\d+", log), log
    assert re.search(r"login user=alice\b", log), log
    assert re.search(r"login user=bob\b", log), log
    assert re.search(r"login failed user=", log), log
    for pw in ALL_TEST_PASSWORDS:
        assert pw not in log, f"password {pw!r} in the log"
        assert b64(pw) not in log
    for user in PASSWORDS:
        assert b64(f"\0{user}\0{PASSWORDS[user]}") not in log


def test_log_line_format(server, tls_ctx):
    start = len(server.log())
    with server.connect() as c:
        c.cmd("NOOP")
    wait_disconnects(server, start, 1)
    for line in server.log().splitlines():
        assert LINE.match(line), f"malformed log line: {line!r}"


def test_log_sanitizes_control_characters(server, tls_ctx):
    """A user name with control characters cannot forge log lines."""
    start = len(server.log())
    with server.connect(tls=True, ctx=tls_ctx) as c:
        # a quoted string cannot hold CR/LF; a literal can
        evil = b"x\r\n2000-01-01T00:00:00.000Z roost[info]: FORGED login user=root"
        c.send(b"a LOGIN {%d}\r\n" % len(evil))
        c.read_line()
        c.send(evil + b" wrongpw\r\n")
        c.read_until_tagged("a")
    wait_disconnects(server, start, 1)
    log = server.log()
    assert "FORGED" not in log or not re.search(r"^\S+ roost\[info\]: FORGED", log, re.M)
    for line in log.splitlines():
        assert LINE.match(line), f"malformed log line: {line!r}"
