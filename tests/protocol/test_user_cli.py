"""`roost user add|del|passwd|list` against a running server."""
import pytest

from roostlib import EX_DATAERR, EX_NOUSER, ConnectionClosed, code, ok, quote


def try_login(server, user, password):
    with server.connect(tls=True) as c:
        _, tagged = c.cmd(f"LOGIN {user} {quote(password)}")
        return tagged


@pytest.fixture(scope="module")
def cli_server(module_server_factory):
    # no failure delay: this module logs in wrongly on purpose, a lot
    return module_server_factory(auth={"fail_delay_ms": "0"})


def test_add_then_login(cli_server):
    r = cli_server.user_cli("add", "dave", password="pw-Dave-1")
    assert r.returncode == 0, r.stderr
    assert ok(try_login(cli_server, "dave", "pw-Dave-1"))
    assert code(try_login(cli_server, "dave", "pw-Dave-2")) == b"AUTHENTICATIONFAILED"


def test_passwd_changes_password(cli_server):
    assert cli_server.user_cli("add", "erin", password="pw-Erin-old").returncode == 0
    assert ok(try_login(cli_server, "erin", "pw-Erin-old"))
    r = cli_server.user_cli("passwd", "erin", password="pw-Erin-new")
    assert r.returncode == 0, r.stderr
    assert code(try_login(cli_server, "erin", "pw-Erin-old")) == b"AUTHENTICATIONFAILED"
    assert ok(try_login(cli_server, "erin", "pw-Erin-new"))


def test_del_then_login_fails(cli_server):
    assert cli_server.user_cli("add", "frank", password="pw-Frank").returncode == 0
    assert ok(try_login(cli_server, "frank", "pw-Frank"))
    r = cli_server.user_cli("del", "frank")
    assert r.returncode == 0, r.stderr
    assert code(try_login(cli_server, "frank", "pw-Frank")) == b"AUTHENTICATIONFAILED"


def test_list(cli_server):
    for name in ("gina", "hank"):
        assert cli_server.user_cli("add", name, password="pw-x").returncode == 0
    r = cli_server.user_cli("list")
    assert r.returncode == 0, r.stderr
    names = r.stdout.decode().split()
    assert {"alice", "bob", "gina", "hank"} <= set(names)
    assert "pw-x" not in r.stdout.decode()


def test_duplicate_add_exits_65(cli_server):
    assert cli_server.user_cli("add", "ivan", password="pw-Ivan").returncode == 0
    r = cli_server.user_cli("add", "ivan", password="pw-other")
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    # the first password still works
    assert ok(try_login(cli_server, "ivan", "pw-Ivan"))


def test_duplicate_add_other_case_exits_65(cli_server):
    assert cli_server.user_cli("add", "judy", password="pw-Judy").returncode == 0
    r = cli_server.user_cli("add", "JUDY", password="pw-other")
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)


def test_del_unknown_exits_67(cli_server):
    r = cli_server.user_cli("del", "nobody-here")
    assert r.returncode == EX_NOUSER, (r.returncode, r.stderr)


def test_passwd_unknown_exits_67(cli_server):
    r = cli_server.user_cli("passwd", "nobody-here", password="pw")
    assert r.returncode == EX_NOUSER, (r.returncode, r.stderr)


def test_add_without_password_fails(cli_server):
    r = cli_server.user_cli("add", "kate")  # empty stdin
    assert r.returncode != 0
    r = cli_server.user_cli("list")
    assert "kate" not in r.stdout.decode().split()


def test_add_invalid_name_fails(cli_server):
    for name in ("-dash", ".dot", "has space", "x" * 300, ""):
        r = cli_server.user_cli("add", name, password="pw")
        assert r.returncode != 0, name


def test_password_not_echoed(cli_server):
    r = cli_server.user_cli("add", "leo", password="pw-Leo-SECRET")
    assert r.returncode == 0
    assert b"pw-Leo-SECRET" not in r.stdout + r.stderr


def test_deleted_user_session_stays_consistent(cli_server):
    """Deleting a user does not crash the server for a session of that user."""
    assert cli_server.user_cli("add", "mia", password="pw-Mia").returncode == 0
    with cli_server.connect(tls=True) as c:
        assert ok(c.cmd(f"LOGIN mia {quote('pw-Mia')}")[1])
        assert cli_server.user_cli("del", "mia").returncode == 0
        try:
            c.cmd("NOOP")
        except ConnectionClosed:
            pass  # ending the session is fine too
    assert cli_server.proc.poll() is None
    assert code(try_login(cli_server, "mia", "pw-Mia")) == b"AUTHENTICATIONFAILED"
