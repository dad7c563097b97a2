"""roost deliver and roost check: messages read on stdin are stored durably
in CRLF form under their content hash; check reconciles index and blobs."""
import hashlib
import os
import sqlite3
import subprocess

import pytest

EX_DATAERR = 65
EX_NOUSER = 67


def run(srv, *args, stdin=b""):
    r = subprocess.run([srv.binary, *args, "-c", srv.conf], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    for marker in srv.SANITIZER_MARKERS:
        assert marker not in err, err
    return r


def account_dir(srv, user):
    db = sqlite3.connect(os.path.join(srv.data_dir, "roost.db"))
    try:
        (uid,) = db.execute("SELECT id FROM users WHERE name = ? COLLATE NOCASE",
                            (user,)).fetchone()
    finally:
        db.close()
    return os.path.join(srv.data_dir, "accounts", str(uid))


def messages(srv, user, mailbox="INBOX"):
    db = sqlite3.connect(os.path.join(account_dir(srv, user), "index.db"))
    try:
        return db.execute(
            "SELECT m.uid, m.blob, m.size FROM messages m JOIN mailboxes b "
            "ON m.mailbox_id = b.id WHERE b.name = ? ORDER BY m.uid", (mailbox,)).fetchall()
    finally:
        db.close()


def blob_path(srv, user, digest):
    return os.path.join(account_dir(srv, user), "blobs", digest[:2], digest)


MSG = (b"From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: hi\n"
       b"Date: Sun, 22 Nov 2026 10:00:00 +0000\n\nHello\nworld\n")
MSG_CRLF = MSG.replace(b"\n", b"\r\n")


@pytest.fixture
def srv(start_server):
    return start_server(start=False)


def test_deliver_stores_crlf_under_content_hash(srv):
    r = run(srv, "deliver", "-u", "alice", stdin=MSG)
    assert r.returncode == 0, r.stderr
    rows = messages(srv, "alice")
    assert len(rows) == 1
    uid, digest, size = rows[0]
    assert uid == 1
    assert size == len(MSG_CRLF)
    assert digest == hashlib.sha256(MSG_CRLF).hexdigest()
    with open(blob_path(srv, "alice", digest), "rb") as f:
        assert f.read() == MSG_CRLF


def test_deliver_drops_mbox_from_line_and_counts_uids(srv):
    r = run(srv, "deliver", "-u", "alice",
            stdin=b"From bob@example.org Sun Nov 22 10:00:00 2026\n" + MSG)
    assert r.returncode == 0, r.stderr
    assert run(srv, "deliver", "-u", "ALICE", stdin=MSG + b"x\n").returncode == 0
    rows = messages(srv, "alice")
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][1] == hashlib.sha256(MSG_CRLF).hexdigest()


def test_deliver_same_message_twice_shares_one_blob(srv):
    for _ in range(2):
        assert run(srv, "deliver", "-u", "alice", stdin=MSG).returncode == 0
    rows = messages(srv, "alice")
    assert len(rows) == 2 and rows[0][1] == rows[1][1]
    blobs = os.path.join(account_dir(srv, "alice"), "blobs", rows[0][1][:2])
    assert os.listdir(blobs) == [rows[0][1]]


def test_deliver_to_mailbox_and_fallback_to_inbox(srv):
    assert run(srv, "deliver", "-u", "alice", "-m", "Sent", stdin=MSG).returncode == 0
    assert run(srv, "deliver", "-u", "alice", "-m", "No/Such", stdin=MSG).returncode == 0
    assert len(messages(srv, "alice", "Sent")) == 1
    assert len(messages(srv, "alice", "INBOX")) == 1


def test_deliver_unknown_user_stores_nothing(srv):
    r = run(srv, "deliver", "-u", "nosuch", stdin=MSG)
    assert r.returncode == EX_NOUSER
    assert b"no such user" in r.stderr
    assert not os.path.isdir(os.path.join(srv.data_dir, "accounts")) or \
        all(not messages(srv, u) for u in ("alice", "bob")
            if os.path.exists(os.path.join(account_dir(srv, u), "index.db")))


def test_deliver_too_big(start_server):
    srv = start_server(start=False, limits={"max_message_size": "1K"})
    r = run(srv, "deliver", "-u", "alice", stdin=MSG + b"x" * 2000)
    assert r.returncode == EX_DATAERR
    assert run(srv, "deliver", "-u", "alice", stdin=MSG).returncode == 0
    assert len(messages(srv, "alice")) == 1


def test_deliver_usage(srv):
    assert run(srv, "deliver", stdin=MSG).returncode == 64
    assert run(srv, "deliver", "-u", "alice", "extra", stdin=MSG).returncode == 64


def test_check_clean_then_missing_blob(srv):
    assert run(srv, "deliver", "-u", "alice", stdin=MSG).returncode == 0
    r = run(srv, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"alice: 0 problems found" in r.stdout
    digest = messages(srv, "alice")[0][1]
    os.unlink(blob_path(srv, "alice", digest))
    r = run(srv, "check", "-u", "alice")
    assert r.returncode == 1
    assert b"alice: 1 problem found, 0 repaired" in r.stdout
    r = run(srv, "check", "-u", "alice", "--repair")
    assert b"1 repaired" in r.stdout
    assert run(srv, "check", "-u", "alice").returncode == 0
    assert messages(srv, "alice") == []


def test_check_unknown_user(srv):
    assert run(srv, "check", "-u", "nosuch").returncode == EX_NOUSER


def test_deliver_tells_running_server(start_server):
    """A running server hears of the delivery on DATA/control.sock and feeds
    it to its change hub (IDLE sessions will see it at once)."""
    srv = start_server()
    sock = os.path.join(srv.data_dir, "control.sock")
    assert os.path.exists(sock)
    assert run(srv, "deliver", "-u", "alice", stdin=MSG).returncode == 0
    srv.wait_log(r"control: roost-changed \d+ \d+")
    srv.stop()
    assert not os.path.exists(sock)


def test_control_socket_ignores_junk(start_server):
    import socket as pysocket
    srv = start_server()
    s = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_DGRAM)
    try:
        for junk in (b"", b"hello", b"roost-changed x y\n", b"\x00" * 200,
                     b"roost-changed 1 99999999999999999999999\n"):
            s.sendto(junk, os.path.join(srv.data_dir, "control.sock"))
    finally:
        s.close()
    srv.wait_log(r"control: malformed notice")
    with srv.login_tls() as c:
        _, tagged = c.cmd("NOOP")
        assert tagged.split()[1] == b"OK"


def crlf(data):
    import re
    return re.sub(rb"\r?\n", b"\r\n", data)


def hostile_messages():
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (50 * 1024 * 1024 // 1000)
    parts = [b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"]
    for i in range(10000):
        parts.append(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
    parts.append(b"--b--\r\n")
    many = b"".join(parts)
    deep = b"".join(b"Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n" % (i, i)
                    for i in range(1000)) + b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    return {
        "50MB": big,
        "10000 parts": many,
        "1000 deep": deep,
        "no separator": b"Subject: no body\r\nFrom: a@b\r\nX-Trailing: yes",
        "only NULs": b"\0" * 100000,
        "empty": b"",
    }


@pytest.mark.parametrize("name", list(hostile_messages()))
def test_deliver_hostile_message_byte_exact(srv, name, tmp_path):
    """Broken mail is normal mail: stored byte-exact (CRLF form), parsed into
    an ENVELOPE and a BODYSTRUCTURE, with bounded memory."""
    from roostlib import binary_is_sanitized
    data = hostile_messages()[name]
    src = tmp_path / "msg"
    src.write_bytes(data)
    peak = tmp_path / "peak"
    with open(src, "rb") as stdin:
        # GNU time, a small process, measures deliver's own peak memory
        # (a child forked from this big Python process would count ours)
        p = subprocess.run(["/usr/bin/time", "-o", str(peak), "-f", "%M", srv.binary,
                            "deliver", "-c", srv.conf, "-u", "alice"],
                           stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=120)
    assert p.returncode == 0, p.stderr
    maxrss_kib = int(peak.read_text().split()[-1])
    (uid, digest, size), = messages(srv, "alice")
    expected = crlf(data)
    assert size == len(expected)
    with open(blob_path(srv, "alice", digest), "rb") as f:
        assert f.read() == expected
    db = sqlite3.connect(os.path.join(account_dir(srv, "alice"), "index.db"))
    try:
        env, bs = db.execute("SELECT envelope, bodystructure FROM blobs WHERE hash = ?",
                             (digest,)).fetchone()
    finally:
        db.close()
    assert env.startswith("(") and bs.startswith("(")
    if not binary_is_sanitized():
        # the message is mapped, never copied into memory whole: its own
        # size in (file-backed) pages plus a bounded parse (ru_maxrss: KiB)
        assert maxrss_kib < 32 * 1024 + len(expected) // 1024 * 3 // 2, (name, maxrss_kib)
