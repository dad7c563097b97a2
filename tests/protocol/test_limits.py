"""Connection limits and timeouts, each on a dedicated server."""
import socket
import time

import pytest

from roostlib import ConnectionClosed, ImapClient, binary_is_sanitized, code, ok, status, wait_for


@pytest.fixture(scope="module")
def timeout_server(module_server_factory):
    return module_server_factory(limits={"preauth_timeout": "2", "idle_timeout": "3"})


def test_preauth_timeout(timeout_server):
    t0 = time.monotonic()
    with timeout_server.connect() as c:
        data = c.read_to_eof(timeout=10)
        elapsed = time.monotonic() - t0
        assert data.startswith(b"* BYE"), data
        assert 1.5 <= elapsed <= 5, elapsed


def test_preauth_timeout_tls(timeout_server, tls_ctx):
    t0 = time.monotonic()
    with timeout_server.connect(tls=True, ctx=tls_ctx) as c:
        data = c.read_to_eof(timeout=10)
        assert data.startswith(b"* BYE"), data
        assert 1.5 <= time.monotonic() - t0 <= 5


def test_silent_tls_client_is_dropped(timeout_server):
    """A TCP connection to the TLS port that never starts the handshake is
    closed by the preauth timeout."""
    s = socket.create_connection(("127.0.0.1", timeout_server.imaps_port), timeout=10)
    try:
        t0 = time.monotonic()
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 <= 5
    finally:
        s.close()


def test_preauth_timeout_while_waiting_for_literal(timeout_server):
    with timeout_server.connect() as c:
        c.send(b"a LOGIN {5}\r\n")
        assert c.read_line().startswith(b"+")
        t0 = time.monotonic()
        data = c.read_to_eof(timeout=10)
        assert b"* BYE" in data, data
        assert time.monotonic() - t0 <= 5


def test_preauth_timeout_after_a_command(timeout_server):
    """A session idle after a command before login still times out."""
    with timeout_server.connect() as c:
        assert ok(c.cmd("NOOP")[1])
        t0 = time.monotonic()
        data = c.read_to_eof(timeout=10)
        assert b"* BYE" in data
        assert time.monotonic() - t0 <= 5


def test_idle_timeout_after_login(timeout_server):
    """After login idle_timeout (3 s here) applies, not preauth_timeout (2 s)."""
    with timeout_server.login_tls() as c:
        t0 = time.monotonic()
        data = c.read_to_eof(timeout=10)
        elapsed = time.monotonic() - t0
        assert data.startswith(b"* BYE"), data
        assert 2.5 <= elapsed <= 6, elapsed


def test_activity_keeps_session_alive(timeout_server):
    with timeout_server.login_tls() as c:
        deadline = time.monotonic() + 6  # twice the idle timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)  # shorter than the timeout: the point of the test
            assert ok(c.cmd("NOOP")[1])


@pytest.fixture(scope="module")
def per_ip_server(module_server_factory):
    return module_server_factory(limits={"max_connections_per_ip": "3"})


def _connect_accepted(port, tls_ctx=None):
    """A connection that got the normal greeting; retried while slots of
    earlier, closed connections are still being released."""
    def attempt():
        c = ImapClient(port, tls=tls_ctx is not None, ctx=tls_ctx, read_greeting=False)
        if c.read_line().startswith(b"* OK"):
            return c
        c.close()
        return None
    return wait_for(attempt, what="a free connection slot")


def _expect_reject(port, tls_ctx=None):
    c = ImapClient(port, tls=tls_ctx is not None, ctx=tls_ctx, read_greeting=False)
    with c:
        data = c.read_to_eof(timeout=10)
    assert data.startswith(b"* BYE [UNAVAILABLE]"), data
    assert data.count(b"\r\n") == 1, data


def test_max_connections_per_ip(per_ip_server, tls_ctx):
    conns = [_connect_accepted(per_ip_server.imap_port) for _ in range(3)]
    try:
        _expect_reject(per_ip_server.imap_port)
        # both ports count
        _expect_reject(per_ip_server.imaps_port, tls_ctx)
        for c in conns:
            assert ok(c.cmd("NOOP")[1])
        # a slot frees when one closes
        conns.pop().close()
        conns.append(_connect_accepted(per_ip_server.imap_port))
        assert ok(conns[-1].cmd("NOOP")[1])
    finally:
        for c in conns:
            c.close()


@pytest.fixture(scope="module")
def max_conn_server(module_server_factory):
    return module_server_factory(limits={"max_connections": "4"})


def test_max_connections(max_conn_server, tls_ctx):
    conns = [_connect_accepted(max_conn_server.imap_port) for _ in range(3)]
    conns.append(max_conn_server.connect(tls=True, ctx=tls_ctx))
    try:
        _expect_reject(max_conn_server.imap_port)
        for c in conns:
            assert ok(c.cmd("NOOP")[1])
        conns.pop(0).close()
        conns.append(_connect_accepted(max_conn_server.imap_port))
    finally:
        for c in conns:
            c.close()


def test_rejected_connections_do_not_leak_slots(per_ip_server):
    """Many refused connections in a row must not use up the limit."""
    conns = [_connect_accepted(per_ip_server.imap_port) for _ in range(3)]
    try:
        for _ in range(20):
            _expect_reject(per_ip_server.imap_port)
    finally:
        for c in conns:
            c.close()

    def three_fit():
        cs = []
        try:
            for _ in range(3):
                c = ImapClient(per_ip_server.imap_port, read_greeting=False)
                cs.append(c)
                if not c.read_line().startswith(b"* OK"):
                    return False
            return True
        finally:
            for c in cs:
                c.close()
    wait_for(three_fit, what="three connections accepted again")


@pytest.fixture(scope="module")
def small_limits_server(module_server_factory):
    return module_server_factory(limits={"max_line": "2K", "max_depth": "4",
                                         "max_literal_preauth": "256",
                                         "max_message_size": "1M"})


def test_configured_max_line(small_limits_server):
    with small_limits_server.connect() as c:
        _, tagged = c.cmd("NOOP " + "x" * 3000)
        assert tagged.startswith(b"t1 BAD") or tagged.startswith(b"* BAD"), tagged
        assert ok(c.cmd("NOOP")[1])


def test_configured_max_line_fatal(small_limits_server):
    with small_limits_server.connect() as c:
        try:
            c.send(b"a " + b"x" * (40 * 2048))
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = c.read_to_eof(timeout=10)
        assert b"* BYE" in data, data[:200]


def test_configured_max_depth(small_limits_server):
    with small_limits_server.connect() as c:
        _, tagged = c.cmd('ID ("a" "b")')
        assert ok(tagged)
        _, tagged = c.cmd("ID " + "(" * 10 + ")" * 10)
        assert tagged.startswith(b"t2 BAD") or tagged.startswith(b"* BAD"), tagged
        assert ok(c.cmd("NOOP")[1])


def test_configured_max_literal_preauth(small_limits_server):
    with small_limits_server.connect() as c:
        c.send(b"a LOGIN {257}\r\n")
        line = c.read_line()
        assert line.startswith(b"a BAD"), line
        assert code(line) == b"TOOBIG"
        c.send(b"b LOGIN {256}\r\n")
        assert c.read_line().startswith(b"+")
        c.send(b"u" * 256 + b" x\r\n")
        _, tagged = c.read_until_tagged("b")
        assert code(tagged) == b"PRIVACYREQUIRED", tagged


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("line", [
    b"a NOOP\r\n",        # commands that run in a worker
    b"a NO\x01OP\r\n",    # syntax errors, answered by the parser at once
], ids=["commands", "syntax-errors"])
def test_client_that_never_reads_gets_backpressure(start_server, line):
    """A client that pipelines commands and never reads the answers must be
    slowed down by TCP (the server stops reading), not buffered without end
    in the server's memory."""
    srv = start_server()
    rss_before = _rss_kib(srv.proc.pid)
    chunk = line * (65536 // len(line))
    limit = 128 * 1024 * 1024
    sent = 0
    with srv.connect() as c:
        c.sock.settimeout(3.0)
        try:
            while sent < limit:
                sent += c.sock.send(chunk)
        except (socket.timeout, TimeoutError):
            pass  # the server stopped reading: what we want
        rss_after = _rss_kib(srv.proc.pid)
    assert sent < 64 * 1024 * 1024, (
        f"server accepted {sent >> 20} MiB from a client that reads nothing "
        f"(RSS {rss_before >> 10} -> {rss_after >> 10} MiB)")
    assert srv.proc.poll() is None


def _conn_id(srv, c):
    port = c.sock.getsockname()[1]
    m = srv.wait_log(rf"conn (\d+): connect from 127\.0\.0\.1:{port} ")
    return m.group(1)


def _fill_until_blocked(c, line=b"a NOOP\r\n", limit=64 * 1024 * 1024):
    chunk = line * (65536 // len(line))
    sent = 0
    c.sock.settimeout(1.0)
    try:
        while sent < limit:
            sent += c.sock.send(chunk)
    except (socket.timeout, TimeoutError):
        return sent
    raise AssertionError("the server never stopped reading")


def test_stalled_client_is_dropped_after_timeout(timeout_server):
    """A client that stops reading its answers (so the server cannot write)
    is not kept forever: the preauth timeout closes the connection."""
    c = timeout_server.connect()
    try:
        cid = _conn_id(timeout_server, c)
        _fill_until_blocked(c)
        timeout_server.wait_log(rf"conn {cid}: disconnect", timeout=10)
    finally:
        c.close()


def test_stalled_client_after_login_is_dropped(timeout_server):
    c = timeout_server.login_tls()
    try:
        cid = _conn_id(timeout_server, c)
        _fill_until_blocked(c)
        timeout_server.wait_log(rf"conn {cid}: disconnect", timeout=10)
    finally:
        c.close()


def test_abrupt_disconnects_release_slots(per_ip_server, tls_ctx):
    """Clients that vanish mid-command, mid-delay, mid-literal or
    mid-handshake must not keep their slot."""
    port, tport = per_ip_server.imap_port, per_ip_server.imaps_port
    for _ in range(3):
        # during a failed-login delay
        c = _connect_accepted(tport, tls_ctx)
        c.send('a LOGIN alice "wrong-z"\r\n')
        c.close()
        # waiting for a literal
        c = _connect_accepted(port)
        c.send(b"a LOGIN {5}\r\n")
        c.read_line()
        c.close()
        # in the middle of the TLS handshake
        s = socket.create_connection(("127.0.0.1", tport))
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        s.close()
        # a failed handshake
        s = socket.create_connection(("127.0.0.1", tport))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.close()

    def three_fit():
        cs = []
        try:
            for _ in range(3):
                c = ImapClient(port, read_greeting=False)
                cs.append(c)
                if not c.read_line().startswith(b"* OK"):
                    return False
            return True
        finally:
            for c in cs:
                c.close()
    wait_for(three_fit, what="all slots free again")
    assert per_ip_server.proc.poll() is None


def test_literal_over_max_message_size_after_login(small_limits_server):
    with small_limits_server.login_tls() as c:
        c.send(b'a ID ("name" {%d}\r\n' % (1024 * 1024 + 1))
        line = c.read_line()
        assert not line.startswith(b"+"), line
        assert line.startswith(b"a BAD"), line
        assert code(line) == b"TOOBIG", line
        assert ok(c.cmd("NOOP")[1])


def test_literal_at_max_message_size_after_login(small_limits_server):
    value = b"v" * (1024 * 1024)
    with small_limits_server.login_tls() as c:
        c.send(b'a ID ("name" {%d}\r\n' % len(value))
        assert c.read_line().startswith(b"+")
        c.send(value + b")\r\n")
        _, tagged = c.read_until_tagged("a")
        # too long for an ID value, but read whole and answered
        assert status(tagged) in (b"OK", b"BAD"), tagged
        assert ok(c.cmd("NOOP")[1])


def test_big_literal_is_not_held_in_memory(start_server):
    """Literals above spool_threshold go to a spool file (ARCHITECTURE.md:
    "never wholly into memory")."""
    srv = start_server()
    size = 48 * 1024 * 1024
    with srv.login_tls() as c:
        rss_before = _rss_kib(srv.proc.pid)
        c.send(b'a ID ("name" {%d+}\r\n' % size)
        block = b"w" * (1024 * 1024)
        peak = rss_before
        for i in range(size // len(block)):
            c.send(block)
            if i % 8 == 0:
                peak = max(peak, _rss_kib(srv.proc.pid))
        peak = max(peak, _rss_kib(srv.proc.pid))
        c.send(b")\r\n")
        _, tagged = c.read_until_tagged("a", timeout=60)
        assert status(tagged) in (b"OK", b"BAD"), tagged
        assert ok(c.cmd("NOOP")[1])
    if not binary_is_sanitized(srv.binary):
        assert peak - rss_before < 24 * 1024, f"RSS grew by {(peak - rss_before) >> 10} MiB"
