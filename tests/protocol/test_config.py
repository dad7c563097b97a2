"""`roost serve` with good and bad configuration files."""
import os
import re
import socket
import subprocess

import pytest

from roostlib import ImapClient, RoostServer, ok


def run_serve(srv, timeout=20):
    """Run `roost serve` on a config that should be refused; it must exit."""
    return subprocess.run([srv.binary, "serve", "-c", srv.conf], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


@pytest.fixture
def server_dir(roost, cert):
    made = []

    def make(sections=None, raw=None):
        srv = RoostServer(roost, cert, sections)
        made.append(srv)
        if raw is not None:
            with open(srv.conf, "w") as f:
                f.write(raw)
        return srv
    yield make
    for srv in made:
        srv.cleanup()


def line_of(path, needle):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if needle in line:
                return i
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.mark.parametrize("section,key,value", [
    ("server", "no_such_key", "1"),
    ("limits", "max_lines", "64K"),
    ("auth", "allow_plaintext", "maybe"),
    ("auth", "fail_delay_ms", "-5"),
    ("limits", "max_line", "lots"),
    ("limits", "max_depth", "0"),
    ("server", "workers", "0"),
    ("server", "log_level", "chatty"),
    ("imap", "listen", "127.0.0.1:notaport"),
    ("server", "data_dir", "relative/path"),
])
def test_bad_value_names_file_and_line(server_dir, section, key, value):
    srv = server_dir({section: {key: value}})
    r = run_serve(srv)
    assert r.returncode != 0
    err = r.stderr.decode()
    line = line_of(srv.conf, f"{key} = {value}")
    assert f"{srv.conf}:{line}:" in err, err


def test_unknown_section(server_dir):
    srv = server_dir()
    with open(srv.conf, "a") as f:
        f.write("[nonsense]\nfoo = bar\n")
    r = run_serve(srv)
    assert r.returncode != 0
    line = line_of(srv.conf, "foo = bar")
    assert f"{srv.conf}:{line}:" in r.stderr.decode(), r.stderr


def test_syntax_error(server_dir):
    srv = server_dir()
    with open(srv.conf, "a") as f:
        f.write("[limits\nthis line is not ini\n")
    r = run_serve(srv)
    assert r.returncode != 0
    assert re.search(re.escape(srv.conf) + r":\d+:", r.stderr.decode()), r.stderr


def test_missing_certificate(server_dir, tmp_path):
    missing = str(tmp_path / "no-such-cert.pem")
    srv = server_dir({"tls": {"cert": missing}})
    r = run_serve(srv)
    assert r.returncode != 0
    assert missing in r.stderr.decode(), r.stderr


def test_missing_key(server_dir, tmp_path):
    missing = str(tmp_path / "no-such-key.pem")
    srv = server_dir({"tls": {"key": missing}})
    r = run_serve(srv)
    assert r.returncode != 0
    assert missing in r.stderr.decode(), r.stderr


def test_certificate_not_pem(server_dir, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    srv = server_dir({"tls": {"cert": str(junk)}})
    r = run_serve(srv)
    assert r.returncode != 0
    assert str(junk) in r.stderr.decode(), r.stderr


def test_missing_config_file(roost, tmp_path):
    missing = str(tmp_path / "nope.conf")
    r = subprocess.run([roost, "serve", "-c", missing], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=20)
    assert r.returncode != 0
    assert missing in r.stderr.decode()


def test_port_in_use(server, server_dir):
    srv = server_dir({"imap": {"listen": f"127.0.0.1:{server.imap_port}"}})
    r = run_serve(srv)
    assert r.returncode != 0
    assert str(server.imap_port) in r.stderr.decode(), r.stderr


def test_empty_imap_listen_disables_plain_port(start_server, tls_ctx):
    srv = start_server(imap={"listen": ""})
    assert srv.imap_ports == []
    assert srv.imaps_port
    assert "(imap)" not in srv.log()
    with srv.connect(tls=True, ctx=tls_ctx) as c:
        assert ok(c.cmd("NOOP")[1])


def test_two_listen_addresses(start_server):
    srv = start_server(imap={"listen": "127.0.0.1:0, 127.0.0.1:0"})
    assert len(srv.imap_ports) == 2
    for port in srv.imap_ports:
        with ImapClient(port) as c:
            assert c.greeting.startswith(b"* OK")


def test_data_dir_is_created(start_server):
    srv = start_server()
    assert os.path.isdir(srv.data_dir)
    assert os.path.exists(os.path.join(srv.data_dir, "roost.db"))


def test_serve_rejects_extra_arguments(server_dir):
    srv = server_dir()
    r = subprocess.run([srv.binary, "serve", "-c", srv.conf, "extra"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert r.returncode != 0


def _have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _have_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_listen(start_server):
    srv = start_server(imap={"listen": "[::1]:0"})
    assert len(srv.imap_ports) == 1
    with ImapClient(srv.imap_ports[0], host="::1") as c:
        assert c.greeting.startswith(b"* OK")
        assert ok(c.cmd("NOOP")[1])
    srv.wait_log(r"connect from \[?::1\]?")
