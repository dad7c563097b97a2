"""APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), literal8 (RFC 3516),
APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889). Stored bytes are checked in
the account's index.db and blob files (docs/storage.md)."""
import calendar
import hashlib
import os
import re
import sqlite3
import threading
import time

import pytest

from roostlib import capabilities, code, ok, status

MSG = (b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: hi\r\n"
       b"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\nworld\r\n")
APPENDUID = re.compile(rb"^\S+ OK \[APPENDUID (\d+) ([0-9:,]+)\] ")


# ---------------------------------------------------------------- helpers


def account_dir(srv, user="alice"):
    db = sqlite3.connect(os.path.join(srv.data_dir, "roost.db"))
    try:
        (uid,) = db.execute("SELECT id FROM users WHERE name = ? COLLATE NOCASE",
                            (user,)).fetchone()
    finally:
        db.close()
    return os.path.join(srv.data_dir, "accounts", str(uid))


def rows(srv, mailbox="INBOX", user="alice"):
    """(uid, blob, size, flags, keywords, internaldate, only_lf) in UID order."""
    db = sqlite3.connect(os.path.join(account_dir(srv, user), "index.db"))
    try:
        return db.execute(
            "SELECT m.uid, m.blob, m.size, m.flags, m.keywords, m.internaldate, m.only_lf "
            "FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id WHERE b.name = ? "
            "ORDER BY m.uid", (mailbox,)).fetchall()
    finally:
        db.close()


def blob(srv, digest, user="alice"):
    with open(os.path.join(account_dir(srv, user), "blobs", digest[:2], digest), "rb") as f:
        return f.read()


def crlf(data):
    return re.sub(rb"\r?\n", b"\r\n", data)


def lit(msg, plus=True, lit8=False):
    """A literal with its data, to splice into a command line."""
    return (b"~" if lit8 else b"") + b"{%d%s}\r\n" % (len(msg), b"+" if plus else b"") + msg


def append(c, args, msg, sync=True, lit8=False, timeout=None):
    """`tag APPEND args literal`; a synchronizing literal waits for "+".
    Returns (untagged, tagged); a literal refused at once gives ([], tagged)."""
    tag = c.next_tag()
    head = f"{tag} APPEND {args} ".encode()
    if sync:
        c.send(head + (b"~" if lit8 else b"") + b"{%d}\r\n" % len(msg))
        line = c.read_line()
        if not line.startswith(b"+"):
            return [], line
        c.send(msg + b"\r\n")
    else:
        c.send(head + lit(msg, lit8=lit8) + b"\r\n")
    return c.read_until_tagged(tag, timeout=timeout)


def raw(c, line):
    """Send one command given as bytes (with its literals) and read the answer."""
    tag = c.next_tag()
    c.send(tag.encode() + b" " + line + b"\r\n")
    return c.read_until_tagged(tag)


def mailbox_status(c, mailbox="INBOX"):
    untagged, tagged = c.cmd(f"STATUS {mailbox} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    assert ok(tagged), tagged
    m = re.match(rb"^\* STATUS \S+ \((.*)\)$", untagged[-1])
    words = m.group(1).split()
    return {words[i].decode(): int(words[i + 1]) for i in range(0, len(words), 2)}


def appenduid(tagged):
    m = APPENDUID.match(tagged)
    assert m, tagged
    return int(m.group(1)), m.group(2).decode()


@pytest.fixture
def srv(start_server):
    return start_server()


@pytest.fixture
def c(srv):
    with srv.login_tls() as client:
        yield client


@pytest.fixture(scope="module")
def shared(module_server_factory):
    return module_server_factory()


@pytest.fixture
def sc(shared):
    """A client on the module's server (bob, so counts stay separate)."""
    with shared.login_tls(user="bob") as client:
        yield client


# ---------------------------------------------------------------- success


def test_append_stores_message_and_answers_appenduid(srv, c):
    before = time.time()
    untagged, tagged = append(c, "INBOX", MSG)
    assert ok(tagged), tagged
    assert untagged == []
    uidvalidity, uids = appenduid(tagged)
    st = mailbox_status(c)
    assert uidvalidity == st["UIDVALIDITY"] and uids == "1"
    assert (st["MESSAGES"], st["UIDNEXT"], st["UNSEEN"]) == (1, 2, 1)
    (uid, digest, size, flags, keywords, internaldate, only_lf), = rows(srv)
    assert (uid, size, flags, keywords, only_lf) == (1, len(MSG), 0, None, 0)
    assert digest == hashlib.sha256(MSG).hexdigest()
    assert blob(srv, digest) == MSG
    # no date-time: now
    assert before - 2 <= internaldate <= time.time() + 2


def test_append_flags_and_date(srv, c):
    _, tagged = append(c, r'INBOX (\Seen \Flagged $Forwarded Work) " 7-Feb-1994 21:52:25 -0800"',
                       MSG)
    assert ok(tagged), tagged
    (_, _, _, flags, keywords, internaldate, _), = rows(srv)
    assert flags == 1 | 4
    assert sorted(keywords.split()) == ["$Forwarded", "Work"]
    # RFC 9051 9: subtracting the zone gives UT
    assert internaldate == calendar.timegm((1994, 2, 8, 5, 52, 25))
    st = mailbox_status(c)
    assert (st["MESSAGES"], st["UNSEEN"]) == (1, 0)


def test_append_all_system_flags_any_case(srv, c):
    _, tagged = append(c, r"INBOX (\seen \ANSWERED \Flagged \deleted \Draft)", MSG)
    assert ok(tagged), tagged
    assert rows(srv)[0][3] == 31
    _, tagged = append(c, "INBOX ()", MSG)
    assert ok(tagged), tagged
    assert rows(srv)[1][3] == 0


@pytest.mark.parametrize("date, expected", [
    ("07-Feb-1994 21:52:25 -0800", (1994, 2, 8, 5, 52, 25)),
    ("7-feb-1994 21:52:25 +0000", (1994, 2, 7, 21, 52, 25)),
    (" 1-Jan-2024 00:30:00 +0100", (2023, 12, 31, 23, 30, 0)),
    ("29-Feb-2024 12:00:00 +0530", (2024, 2, 29, 6, 30, 0)),
    ("31-DEC-2099 23:59:59 -1200", (2100, 1, 1, 11, 59, 59)),
])
def test_append_date_forms(srv, c, date, expected):
    _, tagged = append(c, f'INBOX "{date}"', MSG)
    assert ok(tagged), tagged
    assert rows(srv)[0][5] == calendar.timegm(expected)


def test_append_nonsync_literal_and_mailbox_case(srv, c):
    _, tagged = append(c, "inbox", MSG, sync=False)
    assert ok(tagged), tagged
    assert len(rows(srv)) == 1


def test_append_to_other_mailbox_and_utf7_name(srv, c):
    assert ok(c.cmd('CREATE "&AOk-t&AOk-"')[1])
    _, tagged = append(c, '"&AOk-t&AOk-"', MSG)
    assert ok(tagged), tagged
    assert len(rows(srv, "été")) == 1
    _, tagged = append(c, "Drafts", MSG)
    assert appenduid(tagged)[1] == "1"
    assert rows(srv) == []


def test_append_bare_lf_becomes_crlf(srv, c):
    msg = MSG.replace(b"\r\n", b"\n")
    _, tagged = append(c, "INBOX", msg)
    assert ok(tagged), tagged
    (_, digest, size, _, _, _, only_lf), = rows(srv)
    assert blob(srv, digest) == MSG and size == len(MSG) and only_lf == 1


def test_append_literal8_keeps_nul_bytes(srv, c):
    msg = b"Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff\x00\r\n"
    _, tagged = append(c, "INBOX", msg, lit8=True)
    assert ok(tagged), tagged
    _, tagged = append(c, "INBOX", msg, sync=False, lit8=True)
    assert ok(tagged), tagged
    digests = [r[1] for r in rows(srv)]
    assert len(digests) == 2 and blob(srv, digests[0]) == msg and digests[0] == digests[1]


def test_append_nul_in_plain_literal_is_bad(srv, c):
    msg = b"Subject: x\r\n\r\na\x00b\r\n"
    _, tagged = append(c, "INBOX", msg)
    assert status(tagged) == b"BAD", tagged
    _, tagged = append(c, "INBOX", msg, sync=False)
    assert status(tagged) == b"BAD", tagged
    assert ok(c.cmd("NOOP")[1])
    assert rows(srv) == []


def test_append_10mb_sync_literal_byte_exact(srv, c):
    msg = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (10 * 1024 * 1024 // 1000)
    _, tagged = append(c, "INBOX", msg, timeout=120)
    assert ok(tagged), tagged
    (_, digest, size, _, _, _, _), = rows(srv)
    assert size == len(msg) and digest == hashlib.sha256(msg).hexdigest()
    assert blob(srv, digest) == msg
    assert mailbox_status(c)["MESSAGES"] == 1


def test_append_spooled_lf_message_is_normalized(srv, c):
    """Above spool_threshold (256K) the literal reaches the store as a file."""
    msg = b"Subject: lf\n\n" + b"line of text\n" * 40000
    _, tagged = append(c, "INBOX", msg, sync=False)
    assert ok(tagged), tagged
    (_, digest, size, _, _, _, only_lf), = rows(srv)
    assert blob(srv, digest) == crlf(msg) and size == len(crlf(msg)) and only_lf == 1


# ---------------------------------------------------------------- MULTIAPPEND


def test_multiappend_one_command(srv, c):
    big = b"Subject: spooled\r\n\r\n" + b"z" * (300 * 1024) + b"\r\n"
    line = (b"APPEND INBOX (\\Seen) " + lit(MSG) + b' (\\Flagged kw) "01-Jan-2020 00:00:00 +0000" '
            + lit(big) + b" " + lit(MSG.replace(b"hi", b"third")))
    _, tagged = raw(c, line)
    assert ok(tagged), tagged
    uidvalidity, uids = appenduid(tagged)
    assert uids == "1:3"
    got = rows(srv)
    assert [r[0] for r in got] == [1, 2, 3]
    assert [r[3] for r in got] == [1, 4, 0]
    assert got[1][4] == "kw" and got[1][5] == calendar.timegm((2020, 1, 1, 0, 0, 0))
    assert blob(srv, got[1][1]) == big
    st = mailbox_status(c)
    assert (st["MESSAGES"], st["UIDNEXT"], st["UNSEEN"]) == (3, 4, 2)
    # after the first three, the next command goes on from UID 4
    _, tagged = raw(c, b"APPEND INBOX " + lit(MSG) + b" " + lit(MSG))
    assert appenduid(tagged) == (uidvalidity, "4:5")


def test_multiappend_sync_literals(srv, c):
    c.send(b"m APPEND INBOX (\\Draft) {%d}\r\n" % len(MSG))
    assert c.read_line().startswith(b"+")
    c.send(MSG + b" {%d}\r\n" % len(MSG))
    assert c.read_line().startswith(b"+")
    c.send(MSG + b"\r\n")
    _, tagged = c.read_until_tagged("m")
    assert appenduid(tagged)[1] == "1:2"
    assert [r[3] for r in rows(srv)] == [16, 0]


@pytest.mark.parametrize("line", [
    b"APPEND INBOX " + lit(MSG) + b" (\\Recent) " + lit(MSG),
    b"APPEND INBOX " + lit(MSG) + b' "32-Jan-2020 00:00:00 +0000" ' + lit(MSG),
    b"APPEND INBOX " + lit(MSG) + b" (\\Seen)",
    b"APPEND INBOX " + lit(MSG) + b" " + lit(MSG) + b" junk",
])
def test_multiappend_bad_later_message_stores_nothing(srv, c, line):
    _, tagged = raw(c, line)
    assert status(tagged) == b"BAD", tagged
    assert ok(c.cmd("NOOP")[1])
    assert rows(srv) == [] and mailbox_status(c)["UIDNEXT"] == 1


def test_multiappend_zero_byte_message_stores_nothing(srv, c):
    _, tagged = raw(c, b"APPEND INBOX " + lit(MSG) + b" " + lit(b""))
    assert status(tagged) == b"NO", tagged
    assert rows(srv) == []
    assert ok(append(c, "INBOX", MSG)[1])


# ---------------------------------------------------------------- errors


def test_append_zero_byte_message_is_no(srv, c):
    _, tagged = raw(c, b"APPEND INBOX " + lit(b""))
    assert status(tagged) == b"NO" and b"zero byte" in tagged, tagged
    c.send(b"s APPEND INBOX {0}\r\n")
    line = c.read_line()
    if line.startswith(b"+"):
        c.send(b"\r\n")
        _, line = c.read_until_tagged("s")
    assert status(line) == b"NO", line
    assert rows(srv) == []
    assert ok(c.cmd("NOOP")[1])


def test_append_missing_mailbox_trycreate(srv, c):
    _, tagged = append(c, "Nowhere", MSG)
    assert status(tagged) == b"NO" and code(tagged) == b"TRYCREATE", tagged
    assert ok(c.cmd("CREATE Nowhere")[1])
    _, tagged = append(c, "Nowhere", MSG)
    assert appenduid(tagged)[1] == "1"
    assert len(rows(srv, "Nowhere")) == 1


def test_append_noselect_mailbox(srv, c):
    assert ok(c.cmd("CREATE a/b")[1])
    assert ok(c.cmd("DELETE a")[1])  # a stays as \Noselect parent
    _, tagged = append(c, "a", MSG)
    assert status(tagged) == b"NO" and code(tagged) == b"TRYCREATE", tagged
    assert ok(append(c, "a/b", MSG)[1])


def test_append_invalid_mailbox_name(c):
    _, tagged = append(c, '"a*b"', MSG)
    assert status(tagged) in (b"NO", b"BAD"), tagged
    _, tagged = append(c, '"&Jjo"', MSG)  # broken modified UTF-7
    assert status(tagged) in (b"NO", b"BAD"), tagged
    assert ok(c.cmd("NOOP")[1])


def test_append_keyword_limits(srv, c):
    _, tagged = append(c, f"INBOX ({'k' * 128})", MSG)
    assert ok(tagged), tagged
    _, tagged = append(c, f"INBOX ({'k' * 129})", MSG)
    assert status(tagged) == b"NO" and code(tagged) == b"LIMIT", tagged
    many = " ".join(f"kw{i}" for i in range(257))
    _, tagged = append(c, f"INBOX ({many})", MSG)
    assert status(tagged) == b"NO" and code(tagged) == b"LIMIT", tagged
    assert len(rows(srv)) == 1


M = lit(MSG)


@pytest.mark.parametrize("line", [
    b"APPEND",
    b"APPEND INBOX",
    b"APPEND INBOX foo",
    b'APPEND INBOX "a message"',
    b"APPEND INBOX NIL",
    b"APPEND INBOX (\\Seen)",
    b'APPEND INBOX (\\Seen) "01-Jan-2020 00:00:00 +0000"',
    b"APPEND " + M,
    b"APPEND INBOX \\Seen " + M,
    b"APPEND INBOX ((\\Seen)) " + M,
    b"APPEND INBOX (\\Seen (kw)) " + M,
    b"APPEND INBOX (\\Recent) " + M,
    b"APPEND INBOX (\\Foo) " + M,
    b"APPEND INBOX (\\) " + M,
    b'APPEND INBOX ("kw") ' + M,
    b"APPEND INBOX (" + lit(b"kw") + b") " + M,
    b"APPEND INBOX (NIL) " + M,
    b"APPEND INBOX (k\\w) " + M,
    b"APPEND INBOX (k]w) " + M,
    b"APPEND INBOX (k%w) " + M,
    b"APPEND INBOX (k*) " + M,
    b"APPEND INBOX (\\Seen) (\\Seen) " + M,
    b'APPEND INBOX "01-Jan-2020 00:00:00 +0000" (\\Seen) ' + M,
    b'APPEND INBOX "01-Jan-2020 00:00:00 +0000" "01-Jan-2020 00:00:00 +0000" ' + M,
    b"APPEND INBOX " + M + b" (\\Seen)",
    b"APPEND INBOX " + M + b" extra",
    b"APPEND INBOX 01-Jan-2020 " + M,
])
def test_append_bad_syntax(shared, sc, line):
    before = mailbox_status(sc)
    _, tagged = raw(sc, line)
    assert status(tagged) == b"BAD", (line, tagged)
    assert b"Bob" not in tagged  # never echoes client bytes
    assert ok(sc.cmd("NOOP")[1])
    assert mailbox_status(sc) == before


@pytest.mark.parametrize("date", [
    "",
    "1-Jan-2024",
    "01-Jan-2024 00:00:00",
    "32-Jan-2024 00:00:00 +0000",
    "00-Jan-2024 00:00:00 +0000",
    "29-Feb-2023 00:00:00 +0000",
    "31-Apr-2024 00:00:00 +0000",
    "01-Foo-2024 00:00:00 +0000",
    "01-January-2024 00:00:00 +0000",
    "01-Jan-24 00:00:00 +0000",
    "01-Jan-2024 24:00:00 +0000",
    "01-Jan-2024 00:60:00 +0000",
    "01-Jan-2024 00:00:61 +0000",
    "01-Jan-2024 0:00:00 +0000",
    "01-Jan-2024 00:00:00 0000",
    "01-Jan-2024 00:00:00 +000",
    "01-Jan-2024 00:00:00 +0060",
    "01-Jan-2024 00:00:00 +00000",
    "01-Jan-2024T00:00:00 +0000",
    "01/Jan/2024 00:00:00 +0000",
    "  1-Jan-2024 00:00:00 +0000",
    "x1-Jan-2024 00:00:00 +0000",
    "01-Jan-2024 00:00:00 GMT",
    "Mon, 01 Jan 2024 00:00:00 +0000",
])
def test_append_bad_date_time(shared, sc, date):
    before = mailbox_status(sc)
    _, tagged = append(sc, f'INBOX "{date}"', MSG, sync=False)
    assert status(tagged) == b"BAD", (date, tagged)
    assert ok(sc.cmd("NOOP")[1])
    assert mailbox_status(sc) == before


def test_append_before_login_is_bad(shared):
    with shared.connect() as c:
        _, tagged = raw(c, b"APPEND INBOX " + lit(b"Subject: x\r\n\r\nx\r\n"))
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


# ---------------------------------------------------------------- limits


def test_capabilities_after_login(c):
    untagged, tagged = c.cmd("CAPABILITY")
    caps = capabilities(untagged[0])
    assert {"MULTIAPPEND", "APPENDLIMIT=67108864", "LITERAL+"} <= caps
    # UIDPLUS needs UID EXPUNGE and COPYUID; BINARY needs FETCH BINARY
    assert "UIDPLUS" not in caps and "BINARY" not in caps


def test_append_over_max_message_size_is_refused_before_the_literal(start_server):
    srv = start_server(limits={"max_message_size": "1M"})
    limit = 1024 * 1024
    with srv.login_tls() as c:
        caps = capabilities(c.cmd("CAPABILITY")[0][0])
        assert f"APPENDLIMIT={limit}" in caps
        # no "+": the client never sends the bytes
        c.send(b"a APPEND INBOX {%d}\r\n" % (limit + 1))
        line = c.read_line()
        assert line.startswith(b"a BAD") and code(line) == b"TOOBIG", line
        assert ok(c.cmd("NOOP")[1])
        # a non-synchronizing one is read and skipped (a little past the limit)
        _, tagged = raw(c, b"APPEND INBOX " + lit(b"x" * (limit + 100)))
        assert status(tagged) == b"BAD" and code(tagged) == b"TOOBIG", tagged
        assert ok(c.cmd("NOOP")[1])
        msg = b"Subject: max\r\n\r\n" + b"m" * (limit - 18) + b"\r\n"
        assert len(msg) == limit
        _, tagged = append(c, "INBOX", msg)
        assert ok(tagged), tagged
    (_, digest, size, _, _, _, _), = rows(srv)
    assert size == limit and blob(srv, digest) == msg


def test_concurrent_appends_from_five_sessions(srv):
    n = 5
    clients = [srv.login_tls() for _ in range(n)]
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = append(clients[i], "INBOX", MSG, sync=False)[1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        uids = set()
        validities = set()
        for tagged in results:
            assert tagged is not None and ok(tagged), results
            v, u = appenduid(tagged)
            validities.add(v)
            uids.add(int(u))
        assert uids == set(range(1, n + 1)) and len(validities) == 1
        got = rows(srv)
        assert [r[0] for r in got] == list(range(1, n + 1))
        assert len({r[1] for r in got}) == 1  # one shared blob
        assert mailbox_status(clients[0])["MESSAGES"] == n
    finally:
        for cl in clients:
            cl.close()
