"""ID, ENABLE, and the state rules for every other command."""
import re

import pytest

from roostlib import code, ok, status

ID_RESPONSE = re.compile(rb'^\* ID \("name" "Roost" "version" "[^"\\]+"\)$')

NOT_YET = ["SELECT INBOX", "EXAMINE INBOX", "IDLE"]
# implemented (test_mailbox.py); valid only after login
MAILBOX_CMDS = ["CREATE foo", "DELETE foo", "RENAME foo bar", "SUBSCRIBE foo",
                "UNSUBSCRIBE foo", 'LIST "" "*"', 'LSUB "" "*"', "NAMESPACE",
                "STATUS INBOX (MESSAGES)", "APPEND INBOX {0+}\r\n"]
SELECTED_ONLY = ["CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH ALL", "FETCH 1 FLAGS",
                 "STORE 1 +FLAGS (\\Seen)", "COPY 1 foo", "MOVE 1 foo", "UID FETCH 1 FLAGS"]


@pytest.fixture
def authed(server):
    c = server.login_tls()
    yield c
    c.close()


# ---------------------------------------------------------------- ID


@pytest.mark.parametrize("args", [
    "NIL",
    '("name" "x")',
    '("name" "x" "version" "1.0" "vendor" NIL)',
    "()",
])
def test_id_valid(server, args):
    with server.connect() as c:
        untagged, tagged = c.cmd("ID " + args)
        assert ok(tagged), tagged
        assert len(untagged) == 1 and ID_RESPONSE.match(untagged[0]), untagged


def test_id_after_login(authed):
    untagged, tagged = authed.cmd('ID ("name" "x")')
    assert ok(tagged) and ID_RESPONSE.match(untagged[0])


def test_id_with_literal(server):
    with server.connect() as c:
        c.send(b'a ID ("name" {4}\r\n')
        assert c.read_line().startswith(b"+")
        c.send(b"abcd)\r\n")
        untagged, tagged = c.read_until_tagged("a")
        assert ok(tagged) and ID_RESPONSE.match(untagged[0])


def test_id_30_pairs_ok(server):
    pairs = " ".join(f'"k{i}" "v{i}"' for i in range(30))
    with server.connect() as c:
        untagged, tagged = c.cmd(f"ID ({pairs})")
        assert ok(tagged), tagged


@pytest.mark.parametrize("args", [
    "",
    '("name")',
    '("name" "x" "version")',
    " ".join(["("] + [f'"k{i}" "v{i}"' for i in range(31)] + [")"]),
    '(name "x")',
    '("name" ("x"))',
    '(NIL "x")',
    '("name" "x") extra',
    "NIL NIL",
    "foo",
    '"name"',
])
def test_id_invalid(server, args):
    with server.connect() as c:
        untagged, tagged = c.cmd(("ID " + args).rstrip())
        assert status(tagged) == b"BAD", tagged
        assert not any(l.startswith(b"* ID") for l in untagged)
        assert ok(c.cmd("NOOP")[1])


# ---------------------------------------------------------------- ENABLE


def test_enable_before_login_is_bad(server, tls_ctx):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        untagged, tagged = c.cmd("ENABLE IMAP4rev2")
        assert status(tagged) == b"BAD", tagged
        assert untagged == []


def test_enable_imap4rev2(authed):
    untagged, tagged = authed.cmd("ENABLE IMAP4rev2")
    assert ok(tagged), tagged
    assert untagged == [b"* ENABLED IMAP4rev2"]


def test_enable_twice_lists_nothing_new(authed):
    assert authed.cmd("ENABLE IMAP4rev2")[0] == [b"* ENABLED IMAP4rev2"]
    untagged, tagged = authed.cmd("ENABLE IMAP4rev2")
    assert ok(tagged)
    assert [l.rstrip() for l in untagged] == [b"* ENABLED"]


def test_enable_case_insensitive(authed):
    untagged, tagged = authed.cmd("ENABLE imap4REV2")
    assert ok(tagged)
    assert [l.upper() for l in untagged] == [b"* ENABLED IMAP4REV2"]


def test_enable_unknown_ignored(authed):
    untagged, tagged = authed.cmd("ENABLE X-UNKNOWN-THING CONDSTORE")
    assert ok(tagged), tagged
    assert [l.rstrip() for l in untagged] == [b"* ENABLED"]


def test_enable_mixed(authed):
    untagged, tagged = authed.cmd("ENABLE FOO IMAP4rev2 BAR")
    assert ok(tagged)
    assert untagged == [b"* ENABLED IMAP4rev2"]


def test_enable_without_arguments_is_bad(authed):
    assert status(authed.cmd("ENABLE")[1]) == b"BAD"
    assert ok(authed.cmd("NOOP")[1])


def test_enable_non_atom_is_bad(authed):
    assert status(authed.cmd('ENABLE "IMAP4rev2"')[1]) == b"BAD"
    assert status(authed.cmd("ENABLE (IMAP4rev2)")[1]) == b"BAD"


# ---------------------------------------------------------------- state rules


@pytest.mark.parametrize("command", NOT_YET)
def test_unimplemented_after_login_is_no_cannot(authed, command):
    if command.startswith("APPEND"):
        authed.send("a APPEND INBOX {0+}\r\n\r\n")
        _, tagged = authed.read_until_tagged("a")
    else:
        _, tagged = authed.cmd(command)
    assert status(tagged) == b"NO", tagged
    assert code(tagged) == b"CANNOT", tagged
    assert ok(authed.cmd("NOOP")[1])


@pytest.mark.parametrize("command", NOT_YET + MAILBOX_CMDS)
def test_authenticated_commands_before_login_are_bad(server, tls_ctx, command):
    with server.connect(tls=True, ctx=tls_ctx) as c:
        if command.startswith("APPEND"):
            # before login a literal is limited but {0+} is fine
            c.send("a APPEND INBOX {0+}\r\n\r\n")
            untagged, tagged = c.read_until_tagged("a")
        else:
            untagged, tagged = c.cmd(command)
        assert status(tagged) == b"BAD", tagged
        assert ok(c.cmd("NOOP")[1])


@pytest.mark.parametrize("command", SELECTED_ONLY)
def test_selected_commands_after_login_are_bad(authed, command):
    _, tagged = authed.cmd(command)
    assert status(tagged) == b"BAD", tagged
    assert ok(authed.cmd("NOOP")[1])


@pytest.mark.parametrize("command", SELECTED_ONLY)
def test_selected_commands_before_login_are_bad(server, command):
    with server.connect() as c:
        assert status(c.cmd(command)[1]) == b"BAD"


@pytest.mark.parametrize("command", ["XYZZY", "FOO bar baz", "LOGOUTX", "NOOP2",
                                     "X-UNKNOWN (1 2 3)"])
def test_unknown_command(server, command):
    with server.connect() as c:
        _, tagged = c.cmd(command, tag="u")
        assert tagged == b"u BAD Unknown command", tagged
        assert ok(c.cmd("NOOP")[1])


def test_unknown_command_after_login(authed):
    _, tagged = authed.cmd("XYZZY", tag="u")
    assert tagged == b"u BAD Unknown command"


MARKER = "Zq8KJUNKMARK"


@pytest.mark.parametrize("line", [
    f"{MARKER}CMD",
    f"XYZZY {MARKER}",
    f'ID ("{MARKER}")',
    f"SELECT {MARKER}",
    f"LOGIN {MARKER}",
    f"ENABLE {MARKER}",
    f"AUTHENTICATE {MARKER}",
    f"NOOP {MARKER}",
    f'XYZZY "{MARKER}\\"',
    f"FETCH {MARKER} ({MARKER})",
])
def test_responses_never_echo_client_bytes(server, tls_ctx, line):
    for authed_session in (False, True):
        c = server.login_tls() if authed_session else server.connect(tls=True, ctx=tls_ctx)
        with c:
            c.send(f"a {line}\r\nb NOOP\r\n")
            untagged, tagged = c.read_until_tagged("b")
            assert ok(tagged)
            for l in untagged:
                assert MARKER.encode() not in l, l
                assert MARKER.lower().encode() not in l.lower(), l


def test_tag_with_bad_characters(server):
    with server.connect() as c:
        c.send(b"a+b NOOP\r\n")
        line = c.read_line()
        assert b" BAD" in line, line
        assert line.startswith(b"* BAD") or line.startswith(b"a+b BAD"), line
        assert ok(c.cmd("NOOP")[1])


def test_missing_command(server):
    with server.connect() as c:
        c.send(b"lonely\r\n")
        line = c.read_line()
        assert line.startswith(b"* BAD") or line.startswith(b"lonely BAD"), line
        assert ok(c.cmd("NOOP")[1])
