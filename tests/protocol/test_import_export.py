"""roost import and roost export: Maildir++ (with Dovecot's uidlist and
keywords, or Courier's uiddb) and mbox in; Maildir++ out. UIDVALIDITY and
UIDs are kept, a second import adds nothing, and import then export gives
back every message byte for byte with its flags."""
import os
import sqlite3
import subprocess

import pytest

EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_NOUSER = 67
EX_CANTCREAT = 73

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = 1, 2, 4, 8, 16


def run(srv, *args):
    r = subprocess.run([srv.binary, *args, "-c", srv.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    for marker in srv.SANITIZER_MARKERS:
        assert marker not in err, f"sanitizer report from roost {args[0]}:\n{err}"
    return r


def index(srv, user):
    db = sqlite3.connect(os.path.join(srv.data_dir, "roost.db"))
    try:
        (uid,) = db.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
    finally:
        db.close()
    return sqlite3.connect(os.path.join(srv.data_dir, "accounts", str(uid), "index.db"))


def mailbox_row(srv, user, name):
    db = index(srv, user)
    try:
        return db.execute("SELECT uidvalidity, uidnext, messages FROM mailboxes WHERE name = ?",
                          (name,)).fetchone()
    finally:
        db.close()


def message_rows(srv, user, name):
    """{uid: (flags, keywords, internaldate)}"""
    db = index(srv, user)
    try:
        rows = db.execute(
            "SELECT m.uid, m.flags, m.keywords, m.internaldate FROM messages m"
            " JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = ?", (name,)).fetchall()
    finally:
        db.close()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def write_msg(folder, sub, name, data, mtime):
    path = os.path.join(folder, sub, name)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def make_folder(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    return path


def msg(n, crlf=False):
    text = (f"From: sender{n}@example.org\nTo: alice@example.org\nSubject: message {n}\n"
            f"Message-ID: <{n}@example.org>\n\nbody of message {n}\nFrom the start\n")
    data = text.encode()
    return data.replace(b"\n", b"\r\n") if crlf else data


@pytest.fixture
def srv(start_server):
    return start_server(start=False)


@pytest.fixture
def maildir(tmp_path):
    """INBOX with Dovecot's uidlist v3 and keywords; "Projekte/Été" (modified
    UTF-7 on disk) with big UIDs and CRLF files; "Foo" with Courier's uiddb."""
    root = str(tmp_path / "Maildir")
    make_folder(root)
    write_msg(root, "cur", "1000.M1P1.old,S=100,W=104:2,S", msg(1), 1700000000)
    write_msg(root, "cur", "1001.M2P1.old:2,FRa", msg(2), 1700000100)
    write_msg(root, "new", "1002.M3P1.old", msg(3), 1700000200)
    with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
        f.write("3 V1234567 N10 G0123456789abcdef0123456789abcdef\n"
                "5 :1000.M1P1.old,S=100,W=104\n"
                "7 W123 S120 :1001.M2P1.old\n"
                "9 :1002.M3P1.old\n")
    with open(os.path.join(root, "dovecot-keywords"), "w") as f:
        f.write("0 $Forwarded\n1 Work\n")

    sub = make_folder(os.path.join(root, ".Projekte.&AMk-t&AOk-"))
    write_msg(sub, "cur", "2000.M1.old:2,DTb", msg(4, crlf=True), 1600000000)
    write_msg(sub, "cur", "2001.M2.old:2,", msg(5, crlf=True), 1600000100)
    with open(os.path.join(sub, "dovecot-uidlist"), "w") as f:
        f.write("3 V99 N4000000010\n4000000000 :2000.M1.old\n4000000005 :2001.M2.old\n")
    with open(os.path.join(sub, "dovecot-keywords"), "w") as f:
        f.write("1 Work\n")

    foo = make_folder(os.path.join(root, ".Foo"))
    write_msg(foo, "cur", "3000.x.old:2,RS", msg(6), 1500000000)
    with open(os.path.join(foo, "courierimapuiddb"), "w") as f:
        f.write("1 555 3\n2 3000.x.old\n")
    return root


def check_imported(srv, user):
    assert mailbox_row(srv, user, "INBOX")[:2] == (1234567, 10)
    assert message_rows(srv, user, "INBOX") == {
        5: (SEEN, None, 1700000000),
        7: (FLAGGED | ANSWERED, "$Forwarded", 1700000100),
        9: (0, None, 1700000200),
    }
    assert mailbox_row(srv, user, "Projekte/Été")[:2] == (99, 4000000010)
    assert message_rows(srv, user, "Projekte/Été") == {
        4000000000: (DRAFT | DELETED, "Work", 1600000000),
        4000000005: (0, None, 1600000100),
    }
    assert mailbox_row(srv, user, "Projekte") is not None
    assert mailbox_row(srv, user, "Foo")[:2] == (555, 3)
    assert message_rows(srv, user, "Foo") == {2: (ANSWERED | SEEN, None, 1500000000)}


def test_maildir_import_keeps_uids_flags_keywords(srv, maildir):
    r = run(srv, "import", "-u", "alice", "--maildir", maildir)
    assert r.returncode == 0, r.stderr
    assert b"6 messages in 3 mailboxes: 6 imported, 0 already there" in r.stdout
    check_imported(srv, "alice")

    # the same source again adds nothing
    r = run(srv, "import", "-u", "alice", "--maildir", maildir)
    assert r.returncode == 0, r.stderr
    assert b"0 imported, 6 already there" in r.stdout
    check_imported(srv, "alice")
    assert mailbox_row(srv, "alice", "INBOX")[2] == 3

    # a new message in the source: only it comes in, with its UID
    write_msg(maildir, "new", "1003.M4P1.old", msg(7), 1700000300)
    with open(os.path.join(maildir, "dovecot-uidlist"), "a") as f:
        f.write("12 :1003.M4P1.old\n")
    r = run(srv, "import", "-u", "alice", "--maildir", maildir)
    assert r.returncode == 0, r.stderr
    assert b"1 imported, 6 already there" in r.stdout
    assert sorted(message_rows(srv, "alice", "INBOX")) == [5, 7, 9, 12]
    assert mailbox_row(srv, "alice", "INBOX")[1] == 13


def read_export(root):
    """{folder: {uid: (bytes, flags letters, mtime)}}, from the uidlists."""
    out = {}
    for folder in [""] + sorted(d for d in os.listdir(root) if d.startswith(".")):
        path = os.path.join(root, folder)
        with open(os.path.join(path, "dovecot-uidlist")) as f:
            header = f.readline().split()
            uids = {}
            for line in f:
                uid, base = line.rstrip("\n").split(" :")
                uids[base] = int(uid)
        files = {}
        for name in os.listdir(os.path.join(path, "cur")):
            base, info = name.split(":2,")
            with open(os.path.join(path, "cur", name), "rb") as f:
                files[uids[base]] = (f.read(), info,
                                     int(os.stat(os.path.join(path, "cur", name)).st_mtime))
        assert len(files) == len(uids)
        out[folder] = (header, files)
    return out


def test_export_round_trip(srv, maildir, tmp_path):
    assert run(srv, "import", "-u", "alice", "--maildir", maildir).returncode == 0
    out = str(tmp_path / "export")
    r = run(srv, "export", "-u", "alice", "--maildir", out)
    assert r.returncode == 0, r.stderr
    exp = read_export(out)

    header, files = exp[""]
    assert header[:3] == ["3", "V1234567", "N10"]
    assert files == {5: (msg(1), "S", 1700000000), 7: (msg(2), "FRa", 1700000100),
                     9: (msg(3), "", 1700000200)}
    with open(os.path.join(out, "dovecot-keywords")) as f:
        assert f.read() == "0 $Forwarded\n"

    header, files = exp[".Projekte.&AMk-t&AOk-"]
    assert header[:3] == ["3", "V99", "N4000000010"]
    assert files == {4000000000: (msg(4, crlf=True), "DTa", 1600000000),
                     4000000005: (msg(5, crlf=True), "", 1600000100)}
    assert os.path.exists(os.path.join(out, ".Projekte.&AMk-t&AOk-", "maildirfolder"))
    header, files = exp[".Foo"]
    assert header[:3] == ["3", "V555", "N3"]
    assert files == {2: (msg(6), "RS", 1500000000)}
    # the default mailboxes come along, empty
    assert exp[".Sent"][1] == {}

    # the export, imported into another account, keeps UIDs and flags
    r = run(srv, "import", "-u", "bob", "--maildir", out)
    assert r.returncode == 0, r.stderr
    check_imported(srv, "bob")

    # a non-empty target is refused, unless forced
    r = run(srv, "export", "-u", "alice", "--maildir", out)
    assert r.returncode == EX_CANTCREAT
    r = run(srv, "export", "-u", "alice", "--maildir", out, "--force")
    assert r.returncode == 0, r.stderr
    assert read_export(out) == exp


def test_garbage_uidlist_lines(srv, tmp_path):
    root = make_folder(str(tmp_path / "md"))
    write_msg(root, "cur", "1.a.host:2,S", msg(1), 1700000000)
    write_msg(root, "cur", "2.b.host:2,", msg(2), 1700000001)
    write_msg(root, "cur", "3.c.host:2,", msg(3), 1700000002)
    with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
        f.write("3 V4242 N100\n50 :1.a.host\nthis is not a line\n0 :2.b.host\n"
                "x7 :3.c.host\n")
    r = run(srv, "import", "-u", "alice", "--maildir", root)
    assert r.returncode == 0, r.stderr
    assert b"not understood" in r.stderr
    assert b"2 messages not in dovecot-uidlist got new UIDs" in r.stderr
    assert mailbox_row(srv, "alice", "INBOX") == (4242, 100, 3)
    rows = message_rows(srv, "alice", "INBOX")
    assert rows[50][0] == SEEN
    assert sorted(rows) == [50, 51, 52]
    # again: nothing added, whether listed or not
    r = run(srv, "import", "-u", "alice", "--maildir", root)
    assert r.returncode == 0, r.stderr
    assert b"0 imported, 3 already there" in r.stdout
    assert mailbox_row(srv, "alice", "INBOX")[2] == 3


def test_garbage_uidlist_header(srv, tmp_path):
    root = make_folder(str(tmp_path / "md"))
    write_msg(root, "new", "1.a.host", msg(1), 1700000000)
    with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
        f.write("garbage\n1 :1.a.host\n")
    r = run(srv, "import", "-u", "alice", "--maildir", root)
    assert r.returncode == 0, r.stderr
    assert b"header not understood" in r.stderr
    assert list(message_rows(srv, "alice", "INBOX")) == [1]


def test_uidvalidity_kept_only_for_unused_mailbox(srv, maildir):
    r = run(srv, "deliver", "-u", "alice")
    assert r.returncode == 0
    before = mailbox_row(srv, "alice", "INBOX")
    r = run(srv, "import", "-u", "alice", "--maildir", maildir)
    assert r.returncode == 0, r.stderr
    assert b"imported messages get new UIDs" in r.stderr
    assert mailbox_row(srv, "alice", "INBOX")[0] == before[0]
    assert sorted(message_rows(srv, "alice", "INBOX")) == [1, 2, 3, 4]
    # the other folders were free to take theirs
    assert mailbox_row(srv, "alice", "Foo")[:2] == (555, 3)


MBOX = (b"From alice@example.org Sun Nov 22 10:00:00 2026\n"
        b"From: a@example.org\nSubject: one\n\n>From here\n>>From there\nplain\n\n"
        b"From bob@example.org Mon Feb  2 03:04:05 2015\n"
        b"From: b@example.org\nSubject: two\n\nsecond\n\n\n"
        b"From MAILER-DAEMON Tue Mar 10 00:00:01 2020\n"
        b"From: c@example.org\nSubject: three\n\nthird\n")
MBOX_MSGS = [
    b"From: a@example.org\nSubject: one\n\nFrom here\n>From there\nplain\n",
    b"From: b@example.org\nSubject: two\n\nsecond\n\n",
    b"From: c@example.org\nSubject: three\n\nthird\n",
]


def test_mbox_import(srv, tmp_path):
    path = tmp_path / "mail.mbox"
    path.write_bytes(MBOX)
    r = run(srv, "import", "-u", "alice", "--mbox", str(path), "-m", "Old/Mail")
    assert r.returncode == 0, r.stderr
    assert b"3 messages in 1 mailboxes: 3 imported" in r.stdout
    rows = message_rows(srv, "alice", "Old/Mail")
    assert [rows[u][2] for u in sorted(rows)] == [1795341600, 1422846245, 1583798401]

    out = str(tmp_path / "export")
    assert run(srv, "export", "-u", "alice", "--maildir", out).returncode == 0
    files = read_export(out)[".Old.Mail"][1]
    assert [files[u][0] for u in sorted(files)] == MBOX_MSGS

    r = run(srv, "import", "-u", "alice", "--mbox", str(path), "-m", "Old/Mail")
    assert r.returncode == 0, r.stderr
    assert b"0 imported, 3 already there" in r.stdout
    # identical messages in one source are all kept, once
    path.write_bytes(MBOX + b"\n" + MBOX)
    r = run(srv, "import", "-u", "alice", "--mbox", str(path), "-m", "Old/Mail")
    assert b"3 imported, 3 already there" in r.stdout
    assert mailbox_row(srv, "alice", "Old/Mail")[2] == 6
    # INBOX by default
    r = run(srv, "import", "-u", "bob", "--mbox", str(path))
    assert r.returncode == 0, r.stderr
    assert mailbox_row(srv, "bob", "INBOX")[2] == 6


def test_bad_input(srv, tmp_path, maildir):
    r = run(srv, "import", "-u", "alice", "--maildir", str(tmp_path / "nosuch"))
    assert r.returncode == EX_NOINPUT
    r = run(srv, "import", "-u", "alice", "--mbox", str(tmp_path / "nosuch"))
    assert r.returncode == EX_NOINPUT
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(srv, "import", "-u", "alice", "--maildir", str(empty)).returncode == EX_DATAERR
    r = run(srv, "import", "-u", "nosuch", "--maildir", maildir)
    assert r.returncode == EX_NOUSER
    assert b"no such user" in r.stderr
    assert run(srv, "export", "-u", "nosuch", "--maildir",
               str(tmp_path / "x")).returncode == EX_NOUSER
    for args in (["-u", "alice"], ["--maildir", maildir],
                 ["-u", "alice", "--maildir", maildir, "--mbox", "x"],
                 ["-u", "alice", "--maildir", maildir, "-m", "X"], ["-u", "alice", "extra"]):
        assert run(srv, "import", *args).returncode == EX_USAGE, args
    assert run(srv, "export", "-u", "alice").returncode == EX_USAGE


def test_progress_line_on_terminal(srv, maildir):
    import pty
    master, slave = pty.openpty()
    try:
        r = subprocess.run([srv.binary, "import", "-u", "alice", "--maildir", maildir,
                            "-c", srv.conf], stdout=slave, stderr=subprocess.PIPE,
                           timeout=120)
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0, r.stderr
    assert b"\rimported 6 of 6 messages (mailbox Projekte/\xc3\x89t\xc3\xa9)" in out
    assert b"6 messages in 3 mailboxes: 6 imported" in out
