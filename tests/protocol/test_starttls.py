"""STARTTLS: the upgrade, command injection (CVE-2021-33515 class), misuse."""
import socket
import ssl

from roostlib import ConnectionClosed, capabilities, insecure_context, ok, status


def test_starttls_upgrade_and_login(server, tls_ctx):
    with server.connect() as c:
        tagged = c.starttls(tls_ctx, tag="s1")
        assert tagged == b"s1 OK Begin TLS negotiation now", tagged
        assert c.sock.version() is not None
        _, tagged = c.login("alice")
        assert ok(tagged), tagged


def test_starttls_discards_pipelined_commands(server, tls_ctx):
    with server.connect() as c:
        c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
        line = c.read_line()
        assert line.startswith(b"a OK"), line
        assert c.buf == b"", f"cleartext after the STARTTLS OK: {c.buf!r}"
        c.sock = tls_ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.send(b"c NOOP\r\n")
        untagged, tagged = c.read_until_tagged("c")
        assert ok(tagged), tagged
        assert untagged == [], f"pipelined command was executed: {untagged!r}"
        # nothing from "b" arrives later either
        c.send(b"d NOOP\r\n")
        untagged, tagged = c.read_until_tagged("d")
        assert untagged == [] and ok(tagged)
        assert not any(l.startswith(b"b ") for l in untagged)


def test_starttls_discards_pipelined_login(server, tls_ctx):
    """A pipelined LOGIN in cleartext must not log the session in."""
    with server.connect() as c:
        c.send(b"a STARTTLS\r\nb LOGIN alice x\r\n")
        assert c.read_line().startswith(b"a OK")
        c.sock = tls_ctx.wrap_socket(c.sock, server_hostname="localhost")
        untagged, tagged = c.cmd("CAPABILITY", tag="c")
        assert ok(tagged)
        assert len(untagged) == 1 and untagged[0].startswith(b"* CAPABILITY ")
        # still not authenticated: ENABLE is only valid after login
        assert status(c.cmd("ENABLE IMAP4rev2")[1]) == b"BAD"


def test_starttls_discards_pipelined_partial_line(server, tls_ctx):
    """Half a command after STARTTLS must not be glued to the first TLS line."""
    with server.connect() as c:
        c.send(b"a STARTTLS\r\nb NO")
        assert c.read_line().startswith(b"a OK")
        c.sock = tls_ctx.wrap_socket(c.sock, server_hostname="localhost")
        untagged, tagged = c.cmd("NOOP", tag="c")
        assert ok(tagged) and untagged == []


def test_second_starttls_is_bad(server, tls_ctx):
    with server.connect() as c:
        c.starttls(tls_ctx)
        _, tagged = c.cmd("STARTTLS")
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


def test_starttls_on_imaps_port_is_bad(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        _, tagged = c.cmd("STARTTLS")
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


def test_starttls_with_arguments_is_bad(server):
    with server.connect() as c:
        assert status(c.cmd("STARTTLS now")[1]) == b"BAD"
        assert ok(c.cmd("NOOP")[1])


def test_starttls_after_login_is_bad(server, tls_ctx):
    with server.connect() as c:
        c.starttls(tls_ctx)
        assert ok(c.login("alice")[1])
        assert status(c.cmd("STARTTLS")[1]) == b"BAD"


def test_starttls_garbage_handshake_closes(server):
    """A client that sends junk instead of a ClientHello is dropped; the
    server keeps serving others."""
    with server.connect() as c:
        c.send(b"a STARTTLS\r\n")
        assert c.read_line().startswith(b"a OK")
        c.send(b"this is not TLS\r\n" * 10)
        c.read_to_eof(10)
    with server.connect() as c:
        assert ok(c.cmd("NOOP")[1])


def test_imaps_plaintext_client_is_dropped(server):
    """Cleartext IMAP on the TLS port gets no IMAP answer and a close."""
    s = socket.create_connection(("127.0.0.1", server.imaps_port), timeout=10)
    try:
        s.sendall(b"a CAPABILITY\r\n")
        data = b""
        while True:
            try:
                d = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            data += d
        assert b"CAPABILITY" not in data
        assert b"a OK" not in data
    finally:
        s.close()


def test_tls_without_hostname_check(server):
    with server.connect(tls=True, ctx=insecure_context()) as c:
        assert "AUTH=PLAIN" in capabilities(c.greeting)
