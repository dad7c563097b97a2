"""The server binds, then runs as [server] user/group; large literals after
login stream to the spool directory, which the unprivileged server can use."""
import os
import pwd

import pytest

from roostlib import PASSWORDS, ok


def proc_ids(pid):
    uids = gids = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uids = [int(x) for x in line.split()[1:]]
            elif line.startswith("Gid:"):
                gids = [int(x) for x in line.split()[1:]]
    return uids, gids


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drops_to_configured_user(start_server):
    nobody = pwd.getpwnam("nobody")
    srv = start_server(start=False, users={}, server={"user": "nobody", "group": ""})
    # the account must be able to reach its data dir after the drop
    os.chmod(srv.dir, 0o711)
    srv.user_cli("add", "alice", password=PASSWORDS["alice"], check=True)
    srv.start()
    uids, gids = proc_ids(srv.proc.pid)
    assert uids == [nobody.pw_uid] * 4, uids
    assert gids == [nobody.pw_gid] * 4, gids
    assert os.stat(srv.data_dir).st_uid == nobody.pw_uid
    assert os.stat(os.path.join(srv.data_dir, "roost.db")).st_uid == nobody.pw_uid
    srv.wait_log(r"running as user nobody")
    # logins still read the account db, and a large literal still spools
    with srv.login_tls() as c:
        c.send(b"a APPEND INBOX {300000}\r\n")
        assert c.read_line().startswith(b"+")
        c.send(b"x" * 300000 + b"\r\n")
        _, tagged = c.read_until_tagged(b"a")
        # spooled, then stored by the unprivileged server
        assert tagged.startswith(b"a OK [APPENDUID "), tagged


def test_large_literal_streams_to_spool(start_server):
    """A literal above spool_threshold goes to an unlinked spool file: the
    command completes, and nothing is left in DATA/spool afterwards."""
    srv = start_server(limits={"spool_threshold": "4K"})
    spool = os.path.join(srv.data_dir, "spool")
    with srv.login_tls() as c:
        for size in (100, 5000, 2 * 1024 * 1024):
            c.send(b"a APPEND INBOX (\\Seen) {%d}\r\n" % size)
            assert c.read_line().startswith(b"+")
            c.send(b"y" * size + b"\r\n")
            _, tagged = c.read_until_tagged(b"a")
            assert tagged.startswith(b"a OK [APPENDUID "), tagged
        _, tagged = c.cmd("NOOP")
        assert ok(tagged)
    assert os.listdir(spool) == []


def test_literal_over_message_limit_is_refused(start_server):
    srv = start_server(limits={"max_message_size": "64K"})
    with srv.login_tls() as c:
        c.send(b"a APPEND INBOX {70000}\r\n")
        line = c.read_line()
        assert line.startswith(b"a BAD [TOOBIG]"), line
        _, tagged = c.cmd("NOOP")
        assert ok(tagged)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_tools_run_as_configured_user(start_server):
    """roost user and roost deliver started as root make their files as
    [server] user, so the server can still write them after its drop."""
    import subprocess
    nobody = pwd.getpwnam("nobody")
    srv = start_server(start=False, users={}, server={"user": "nobody", "group": ""})
    os.chmod(srv.dir, 0o711)
    srv.user_cli("add", "carol", password="pw-Carol-1", check=True)
    r = subprocess.run([srv.binary, "deliver", "-c", srv.conf, "-u", "carol"],
                       input=b"Subject: x\r\n\r\nbody\r\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for root, dirs, files in os.walk(srv.data_dir):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            assert st.st_uid == nobody.pw_uid, os.path.join(root, name)
    srv.start()
    with srv.login_tls(user="carol", password="pw-Carol-1") as c:
        _, tagged = c.cmd("NOOP")
        assert ok(tagged)
