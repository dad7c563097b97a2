"""Mailbox commands of the authenticated state: CREATE, DELETE, RENAME,
SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, NAMESPACE, STATUS (RFC 9051 6.3)."""
import pytest

from roostlib import code, ok, status


@pytest.fixture
def c(start_server):
    srv = start_server()
    with srv.login_tls() as client:
        yield client


def names(untagged, kind=b"LIST"):
    out = {}
    for line in untagged:
        assert line.startswith(b"* " + kind + b" ("), line
        attrs, rest = line[len(kind) + 4:].split(b") ", 1)
        assert rest.startswith(b'"/" '), line
        name = rest[4:]
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        out[name.decode()] = set(attrs.split())
    return out


def test_new_account_has_special_use_mailboxes(c):
    untagged, tagged = c.cmd('LIST "" "*"')
    assert ok(tagged)
    got = names(untagged)
    assert set(got) == {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"}
    assert b"\\Sent" in got["Sent"] and b"\\Trash" in got["Trash"]
    assert b"\\Drafts" in got["Drafts"] and b"\\Junk" in got["Junk"]
    assert b"\\Archive" in got["Archive"]
    assert b"\\HasNoChildren" in got["INBOX"]
    # all subscribed
    untagged, tagged = c.cmd('LSUB "" "*"')
    assert ok(tagged) and set(names(untagged, b"LSUB")) == set(got)


def test_create_hierarchy_list_patterns(c):
    assert ok(c.cmd("CREATE Work/Projects/Roost")[1])
    assert ok(c.cmd('CREATE "Work/Old/"')[1])  # trailing separator: creates Work/Old
    got = names(c.cmd('LIST "" "*"')[0])
    assert {"Work", "Work/Projects", "Work/Projects/Roost", "Work/Old"} <= set(got)
    assert b"\\HasChildren" in got["Work"]
    assert b"\\HasNoChildren" in got["Work/Projects/Roost"]
    # '%' stops at the separator; the reference is prepended
    assert set(names(c.cmd('LIST "" "Work/%"')[0])) == {"Work/Projects", "Work/Old"}
    assert set(names(c.cmd('LIST "Work/" "%"')[0])) == {"Work/Projects", "Work/Old"}
    assert set(names(c.cmd('LIST "" "%"')[0])) == {"INBOX", "Drafts", "Sent", "Trash", "Junk",
                                                   "Archive", "Work"}
    # INBOX matches in any case
    assert set(names(c.cmd('LIST "" "inbox"')[0])) == {"INBOX"}
    # the separator query
    untagged, tagged = c.cmd('LIST "" ""')
    assert ok(tagged) and untagged == [b'* LIST (\\Noselect) "/" ""']


def test_create_errors(c):
    _, tagged = c.cmd("CREATE INBOX")
    assert status(tagged) == b"NO" and code(tagged) == b"ALREADYEXISTS"
    assert ok(c.cmd("CREATE x")[1])
    _, tagged = c.cmd("CREATE x")
    assert status(tagged) == b"NO" and code(tagged) == b"ALREADYEXISTS"
    for bad in ('"a//b"', '"/a"', '"a*b"', '"a%b"', '""'):
        _, tagged = c.cmd("CREATE " + bad)
        assert status(tagged) in (b"NO", b"BAD"), (bad, tagged)
    # control characters arrive in a literal; refused, never echoed
    c.send(b"t1 CREATE {5}\r\n")
    assert c.read_line().startswith(b"+")
    c.send(b"a\r\nb!\r\n")
    untagged, tagged = c.read_until_tagged(b"t1")
    assert status(tagged) == b"NO", tagged
    assert b"b!" not in tagged
    assert ok(c.cmd("NOOP")[1])
    _, tagged = c.cmd("CREATE")
    assert status(tagged) == b"BAD"
    _, tagged = c.cmd("CREATE a b")
    assert status(tagged) == b"BAD"


def test_modified_utf7_names(c):
    assert ok(c.cmd('CREATE "Entw&APw-rfe"')[1])
    got = names(c.cmd('LIST "" "Entw*"')[0])
    assert set(got) == {"Entw&APw-rfe"}
    # non-canonical and raw 8-bit forms are refused in rev1
    _, tagged = c.cmd('CREATE "&AGE-"')
    assert status(tagged) == b"NO" and code(tagged) == b"CANNOT"
    c.send(b't2 CREATE "caf\xc3\xa9"\r\n')
    _, tagged = c.read_until_tagged(b"t2")
    assert status(tagged) == b"NO"
    # after ENABLE IMAP4rev2 names are UTF-8 on the wire
    assert ok(c.cmd("ENABLE IMAP4rev2")[1])
    got = names(c.cmd('LIST "" "Entw*"')[0])
    assert set(got) == {"Entwürfe"}


def test_delete_and_rename(c):
    assert ok(c.cmd("CREATE a/b")[1])
    # delete a parent with children: it stays as \Noselect
    assert ok(c.cmd("DELETE a")[1])
    got = names(c.cmd('LIST "" "a*"')[0])
    assert b"\\Noselect" in got["a"] and "a/b" in got
    # rename moves the children
    assert ok(c.cmd("RENAME a/b c/d")[1])
    got = names(c.cmd('LIST "" "*"')[0])
    assert "c/d" in got and "a/b" not in got
    _, tagged = c.cmd("RENAME nosuch other")
    assert status(tagged) == b"NO" and code(tagged) == b"NONEXISTENT"
    _, tagged = c.cmd("RENAME c/d Sent")
    assert status(tagged) == b"NO" and code(tagged) == b"ALREADYEXISTS"
    _, tagged = c.cmd("DELETE INBOX")
    assert status(tagged) == b"NO"
    _, tagged = c.cmd("DELETE nosuch")
    assert status(tagged) == b"NO" and code(tagged) == b"NONEXISTENT"
    # RENAME INBOX: a new mailbox, INBOX stays
    assert ok(c.cmd("RENAME INBOX Old-Inbox")[1])
    got = names(c.cmd('LIST "" "*"')[0])
    assert "INBOX" in got and "Old-Inbox" in got


def test_subscriptions(c):
    assert ok(c.cmd("UNSUBSCRIBE Junk")[1])
    assert ok(c.cmd("SUBSCRIBE not/there")[1])  # names need not exist
    lsub = names(c.cmd('LSUB "" "*"')[0], b"LSUB")
    assert "Junk" not in lsub and "not/there" in lsub
    assert b"\\Noselect" in lsub["not/there"]


def test_namespace(c):
    untagged, tagged = c.cmd("NAMESPACE")
    assert ok(tagged)
    assert untagged == [b'* NAMESPACE (("" "/")) NIL NIL']


def test_status(c):
    untagged, tagged = c.cmd("STATUS INBOX (UIDNEXT MESSAGES UNSEEN UIDVALIDITY DELETED SIZE)")
    assert ok(tagged)
    assert len(untagged) == 1
    line = untagged[0]
    assert line.startswith(b"* STATUS \"INBOX\" (UIDNEXT 1 MESSAGES 0 UNSEEN 0 UIDVALIDITY ")
    assert line.endswith(b" DELETED 0 SIZE 0)")
    _, tagged = c.cmd("STATUS nosuch (MESSAGES)")
    assert status(tagged) == b"NO" and code(tagged) == b"NONEXISTENT"
    for bad in ("STATUS INBOX (BOGUS)", "STATUS INBOX ()", "STATUS INBOX MESSAGES",
                "STATUS INBOX", "STATUS INBOX (RECENT)"):
        _, tagged = c.cmd(bad)
        assert status(tagged) == b"BAD", (bad, tagged)
    assert ok(c.cmd("NOOP")[1])


def test_capabilities_after_login(c):
    untagged, tagged = c.cmd("CAPABILITY")
    caps = untagged[0].split()[2:]
    for cap in (b"NAMESPACE", b"CHILDREN", b"STATUS=SIZE"):
        assert cap in caps


def test_status_sees_delivered_mail(start_server):
    import subprocess
    srv = start_server()
    r = subprocess.run([srv.binary, "deliver", "-c", srv.conf, "-u", "alice"],
                       input=b"Subject: x\r\n\r\nhello\r\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with srv.login_tls() as client:
        untagged, tagged = client.cmd("STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)")
        assert ok(tagged)
        assert untagged == [b"* STATUS \"INBOX\" (MESSAGES 1 UNSEEN 1 UIDNEXT 2 SIZE 21)"]
