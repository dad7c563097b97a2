"""SIGHUP (certificate reload) and SIGTERM (clean shutdown)."""
import os
import signal
import socket
import ssl

from roostlib import (
    cert_der,
    insecure_context,
    make_cert,
    ok,
    tls_client_context,
    wait_for,
)


def peer_der(c):
    return c.sock.getpeercert(binary_form=True)


def test_sighup_reloads_certificate(start_server):
    srv = start_server(copy_cert=True)
    old_der = cert_der(srv.cert_path)
    old = srv.login_tls(ctx=insecure_context())
    try:
        assert peer_der(old) == old_der
        starttls_old = srv.connect()

        # a new key pair in place of the old files
        make_cert(srv.dir)
        new_der = cert_der(srv.cert_path)
        assert new_der != old_der
        log_len = len(srv.log())
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"SIGHUP|reload", start=log_len)

        def new_cert_served():
            with srv.connect(tls=True, ctx=insecure_context()) as c:
                return peer_der(c) == new_der
        wait_for(new_cert_served, what="the new certificate on a new connection")

        # verification with the new certificate as the trust anchor
        with srv.connect(tls=True, ctx=tls_client_context(srv.cert_path)) as c:
            assert ok(c.cmd("NOOP")[1])
        # STARTTLS on a connection made before the reload: new cert too
        starttls_old.starttls(insecure_context())
        assert peer_der(starttls_old) == new_der
        starttls_old.close()

        # the connection from before keeps working with its old session
        assert ok(old.cmd("NOOP")[1])
        assert peer_der(old) == old_der
        assert srv.proc.poll() is None
    finally:
        old.close()


def test_sighup_with_broken_certificate_keeps_old(start_server):
    srv = start_server(copy_cert=True)
    old_der = cert_der(srv.cert_path)
    with open(srv.cert_path, "w") as f:
        f.write("not a certificate\n")
    log_len = len(srv.log())
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"SIGHUP", start=log_len)
    assert srv.proc.poll() is None
    with srv.connect(tls=True, ctx=insecure_context()) as c:
        assert peer_der(c) == old_der
        assert ok(c.cmd("NOOP")[1])


def test_sigterm_says_bye_and_exits_zero(start_server, tls_ctx):
    srv = start_server()
    authed = srv.login_tls()
    plain = srv.connect()
    tls_unauth = srv.connect(tls=True, ctx=tls_ctx)
    try:
        srv.signal(signal.SIGTERM)
        for c in (authed, plain, tls_unauth):
            data = c.read_to_eof(timeout=10)
            assert data.startswith(b"* BYE"), data
        assert srv.wait_exit(timeout=10) == 0
        # and nobody is listening any more
        for port in (srv.imap_port, srv.imaps_port):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue
            s.close()
            raise AssertionError(f"port {port} still accepts connections")
    finally:
        for c in (authed, plain, tls_unauth):
            c.close()


def test_sigterm_with_no_clients_exits_zero(start_server):
    srv = start_server()
    srv.signal(signal.SIGTERM)
    assert srv.wait_exit(timeout=10) == 0


def test_sigint_exits_zero(start_server):
    srv = start_server()
    c = srv.connect()
    try:
        srv.signal(signal.SIGINT)
        assert c.read_to_eof(timeout=10).startswith(b"* BYE")
        assert srv.wait_exit(timeout=10) == 0
    finally:
        c.close()


def test_sigterm_during_failed_login_delay(start_server, tls_ctx):
    """A session waiting out the failure delay still gets its BYE."""
    srv = start_server(auth={"fail_delay_ms": "5000"})
    c = srv.connect(tls=True, ctx=tls_ctx)
    try:
        c.send('a LOGIN alice "nope-nope"\r\n')
        srv.wait_log(r"login failed")
        srv.signal(signal.SIGTERM)
        data = c.read_to_eof(timeout=10)
        assert b"* BYE" in data, data
        assert srv.wait_exit(timeout=10) == 0
    finally:
        c.close()


def test_sigterm_with_stalled_client_exits(start_server):
    """A client that reads nothing cannot hold up the shutdown for ever."""
    srv = start_server()
    c = srv.connect()
    try:
        chunk = b"a NOOP\r\n" * 8192
        c.sock.settimeout(1.0)
        try:
            for _ in range(2048):
                c.sock.send(chunk)
        except (socket.timeout, TimeoutError):
            pass
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit(timeout=15) == 0
    finally:
        c.close()
