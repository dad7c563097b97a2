"""Crash consistency of delivery: a stream of `roost deliver` processes, several
at once, some killed with SIGKILL at random moments (while the message is
still being written to their stdin, right after it was all read, or at any
time from their start). Afterwards:

- every acknowledged delivery (exit status 0) is in INBOX, under the UID it
  logged, and its blob file holds exactly the CRLF form of what was sent;
- no message row points at a missing or partial blob (each referenced
  file's SHA-256 is its name), and no file under a final blob name is
  partial either (a temp file is renamed only once complete);
- every row is a whole message that was sent (a killed delivery stores all
  of its message or nothing);
- UIDs are unique and increase (a delivery acknowledged before another one
  started has the smaller UID) and UIDNEXT is above them; refcounts and the
  STATUS counters agree with the rows;
- `roost check` reports "0 problems found": temp files and unreferenced
  blobs that killed deliveries leave behind are younger than check's hour
  (docs/storage.md: a delivery in another process may be about to commit
  them), so they are not problems yet;
- the store still takes deliveries.

SIGKILL only tests what a process crash can do (the page cache survives),
not a power cut; the fsync ordering that covers that is argued in
docs/storage.md.

Deterministic: the messages, which deliveries are killed and how, and the
kill delays (relative to a calibrated delivery time) come from
random.Random(seed). ROOST_CRASH_SEED overrides the seed, ROOST_CRASH_COUNT
the number of deliveries; failures print the seed. With a sanitizer build
(binary_is_sanitized()) fewer deliveries are made.
"""
import collections
import concurrent.futures
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

from roostlib import binary_is_sanitized

PARALLEL = 4
COUNT_NORMAL = 500
COUNT_SANITIZED = 200
PER_DELIVERY_TIMEOUT = 120.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: MemorySanitizer")
BLOB_NAME = re.compile(r"^[0-9a-f]{64}$")
# cmd_deliver.c logs this at info level (the test config logs at debug)
DELIVERED_LINE = re.compile(rb"deliver: user=(\S+) mailbox=(\S+) uid=(\d+) size=(\d+)")

# ---------------------------------------------------------------- messages

WORDS = ("the of and to in is it you that he was for on are with as his they be at one "
         "have this from or had by hot word but what some we can out other were all there "
         "when up use your how said an each she which do their time if will way about many "
         "then them write would like so these her long make thing see him two has look more "
         "day could go come did number sound no most people my over know water than call "
         "first who may down side been now find meeting invoice report budget quarterly "
         "schedule deadline review draft attached please regards thanks tomorrow").split()
NAMES = ["Alice Liddell", "Bob Marley", "Carol Danvers", "Dave Bowman", "Eve Moneypenny",
         "Frank Poole", "Grace Hopper", "Heinz Müller", "Ingrid Bergström", "Jürgen Klopp"]
DOMAINS = ["example.org", "example.com", "mail.example.net", "lists.example.edu"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def _size(rng):
    """Log-uniform within bands: most mail is small, a few messages are big."""
    r = rng.random()
    lo, hi = (200, 10_000) if r < 0.6 else (10_000, 200_000) if r < 0.9 else (200_000, 2_000_000)
    return int(lo * (hi / lo) ** rng.random())


def _addr(rng):
    name = rng.choice(NAMES)
    local = name.split()[0].lower()
    return name, f"{local}@{rng.choice(DOMAINS)}"


def _text_lines(rng, nbytes):
    """Plain text lines (no line end) of about nbytes in total."""
    lines, total = [], 0
    while total < nbytes:
        if rng.random() < 0.08:
            line = ""
        else:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
            if rng.random() < 0.1:
                line = "> " + line
        lines.append(line)
        total += len(line) + 1
    return lines


def _b64_lines(rng, nbytes):
    import base64
    raw = rng.randbytes(max(1, nbytes * 3 // 4))
    enc = base64.b64encode(raw).decode()
    return [enc[i:i + 76] for i in range(0, len(enc), 76)]


def make_message(rng, i):
    """One realistic message (bytes) of 200 B to ~2 MB, with LF or CRLF line
    ends: headers, then plain text, or multipart with text and a base64
    attachment, or HTML."""
    size = _size(rng)
    crlf = rng.random() < 0.5
    from_name, from_addr = _addr(rng)
    to_name, to_addr = _addr(rng)
    date = (f"{rng.choice(DAYS)}, {rng.randint(1, 28)} {rng.choice(MONTHS)} "
            f"{rng.randint(2019, 2026)} {rng.randint(0, 23):02}:{rng.randint(0, 59):02}:"
            f"{rng.randint(0, 59):02} {rng.choice(['+0000', '+0100', '-0500', '+0530'])}")
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
    hdr = [
        f"Return-Path: <{from_addr}>",
        f"Received: from mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)} "
        f"(mx.{rng.choice(DOMAINS)} [192.0.2.{rng.randint(1, 254)}])",
        f"\tby mail.example.org with ESMTPS id {rng.getrandbits(64):016x}; {date}",
        f"From: {from_name} <{from_addr}>",
        f"To: {to_name} <{to_addr}>",
        f"Subject: [{i}] {subject}",
        f"Date: {date}",
        f"Message-ID: <{i}.{rng.getrandbits(48):012x}@{rng.choice(DOMAINS)}>",
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.3:
        hdr.append(f"Cc: {', '.join('%s <%s>' % _addr(rng) for _ in range(rng.randint(1, 4)))}")
    kind = rng.random()
    body = []
    if size > 20_000 and kind < 0.6:
        boundary = f"=_b{rng.getrandbits(40):010x}"
        hdr.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        text = _text_lines(rng, rng.randint(100, 3000))
        att = _b64_lines(rng, size - 600 - sum(len(x) + 1 for x in text))
        body = ["This is a multi-part message in MIME format.", f"--{boundary}",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit", "", *text, f"--{boundary}",
                "Content-Type: application/octet-stream; name=\"file.bin\"",
                "Content-Disposition: attachment; filename=\"file.bin\"",
                "Content-Transfer-Encoding: base64", "", *att, f"--{boundary}--", ""]
    elif kind < 0.8:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        hdr.append("Content-Transfer-Encoding: 8bit")
        body = _text_lines(rng, max(20, size - 500))
    else:
        hdr.append("Content-Type: text/html; charset=utf-8")
        body = ["<html><body>"] + ["<p>%s</p>" % x for x in _text_lines(rng, max(20, size - 500))] \
            + ["</body></html>"]
    eol = "\r\n" if crlf else "\n"
    data = (eol.join(hdr) + eol + eol + eol.join(body) + eol).encode()
    return data


def boundary_message(rng):
    """A CRLF message whose CR is the last byte of the store's first 64 KiB
    read and whose LF is the first of the next: the normalizer must not turn
    that CRLF into CR CR LF."""
    head = (b"From: Boundary <b@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: chunk boundary\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n")
    line = b"x" * 70 + b"\r\n"
    data = head
    while len(data) + len(line) < 65536 - 200:
        data += line
    data += b"y" * (65535 - len(data)) + b"\r\nend\r\n"
    assert data[65535:65537] == b"\r\n"
    return data


def crlf_form(data):
    """What the store keeps: every bare LF becomes CRLF (mime_crlf_normalize)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def only_lf(data):
    return b"\n" in data and b"\r\n" not in data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- deliveries

Job = collections.namedtuple("Job", "index data digest mode delay cut")


class Result:
    __slots__ = ("job", "rc", "start", "end", "uid", "stderr", "killed")

    def __init__(self, job):
        self.job = job
        self.rc = None
        self.start = self.end = None
        self.uid = None
        self.stderr = b""
        self.killed = False


def make_jobs(seed, count, est):
    """The deliveries: the messages and how each one is treated. est(n) is
    the calibrated time a delivery of n bytes takes."""
    rng = random_for(seed, "messages")
    messages = [make_message(rng, i) for i in range(count)]
    # the same bytes delivered again share one blob (and an orphan left by
    # a killed delivery may be reused by a later one)
    for i in range(count):
        if i >= 10 and rng.random() < 0.06:
            messages[i] = messages[rng.randrange(i)]
    messages[count // 3] = boundary_message(rng)
    jobs = []
    for i, data in enumerate(messages):
        r = random_for(seed, f"job{i}")
        x = r.random()
        t = est(len(data))
        if x < 0.55:
            mode, delay, cut = "none", 0.0, len(data)
        elif x < 0.68:
            # killed while its stdin is still being written
            mode, delay, cut = "mid-stdin", 0.0, r.randrange(len(data))
        elif x < 0.84:
            # the whole message was written and stdin closed: killed at once
            # (before or right after it read EOF) or during the store's work
            mode, delay, cut = "after-stdin", t * r.random() ** 2, len(data)
        else:
            # killed at any moment from its start
            mode, delay, cut = "timer", 1.5 * t * r.random(), len(data)
        jobs.append(Job(i, data, sha256(crlf_form(data)), mode, delay, cut))
    return jobs


def random_for(seed, what):
    import random
    return random.Random(f"{seed}/{what}")


def run_delivery(srv, job, user="alice"):
    """Run one `roost deliver`, feed it its message and kill it as the job
    says. Returns a Result."""
    res = Result(job)
    errpath = os.path.join(srv.dir, f"deliver-{user}-{job.index}.err")
    with open(errpath, "wb") as errf:
        res.start = time.monotonic()
        p = subprocess.Popen([srv.binary, "deliver", "-c", srv.conf, "-u", user],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errf)
        timer = None
        if job.mode == "timer":
            timer = threading.Timer(job.delay, p.send_signal, (signal.SIGKILL,))
            timer.start()
        try:
            view = memoryview(job.data)[:job.cut]
            for off in range(0, len(view), 65536):
                p.stdin.write(view[off:off + 65536])
                p.stdin.flush()
            if job.mode == "mid-stdin":
                p.send_signal(signal.SIGKILL)
            else:
                p.stdin.close()
                if job.mode == "after-stdin":
                    if job.delay > 0:
                        time.sleep(job.delay)
                    p.send_signal(signal.SIGKILL)  # a no-op once it was reaped
        except BrokenPipeError:
            pass  # killed by the timer while we were writing
        finally:
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
        try:
            res.rc = p.wait(timeout=PER_DELIVERY_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            res.rc = p.wait()
            res.rc = f"hung for {PER_DELIVERY_TIMEOUT}s"
        if timer is not None:
            timer.cancel()
        res.end = time.monotonic()
    with open(errpath, "rb") as f:
        res.stderr = f.read()
    os.unlink(errpath)
    res.killed = res.rc == -signal.SIGKILL
    if res.rc == 0:
        m = DELIVERED_LINE.search(res.stderr)
        if m:
            res.uid = int(m.group(3))
    return res


def calibrate(srv):
    """Seconds a delivery takes: (fixed, per byte), measured on bob's
    account (alice's is created by the racing deliveries themselves)."""
    rng = random_for("calibrate", "bob")

    def timed(data):
        best = None
        for _ in range(2):
            t0 = time.monotonic()
            r = subprocess.run([srv.binary, "deliver", "-c", srv.conf, "-u", "bob"], input=data,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
            assert r.returncode == 0, r.stderr
            dt = time.monotonic() - t0
            best = dt if best is None else min(best, dt)
        return best

    small = timed(b"Subject: calibrate\n\nhello\n")
    big_data = b"".join(b"%s\n" % " ".join(rng.choice(WORDS) for _ in range(12)).encode()
                        for _ in range(20_000))
    big = timed(big_data)
    per_byte = max(0.0, big - small) / len(big_data)
    return small, per_byte


# ---------------------------------------------------------------- inspection


def account_dir(srv, user):
    db = sqlite3.connect(os.path.join(srv.data_dir, "roost.db"))
    try:
        (uid,) = db.execute("SELECT id FROM users WHERE name = ? COLLATE NOCASE",
                            (user,)).fetchone()
    finally:
        db.close()
    return os.path.join(srv.data_dir, "accounts", str(uid))


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def verify_account(srv, user, results):
    """All the invariants of the module docstring, for one account; returns
    a short summary for the log."""
    adir = account_dir(srv, user)
    blob_dir = os.path.join(adir, "blobs")
    acked = [r for r in results if r.rc == 0]
    sent = {r.job.digest: r.job for r in results}
    db = sqlite3.connect(os.path.join(adir, "index.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        mbox = db.execute(
            "SELECT id, uidnext, messages, size FROM mailboxes WHERE name = 'INBOX'").fetchone()
        rows = db.execute(
            "SELECT uid, blob, size, only_lf FROM messages WHERE mailbox_id = ? ORDER BY uid",
            (mbox[0],)).fetchall()
        other = db.execute("SELECT count(*) FROM messages WHERE mailbox_id != ?",
                           (mbox[0],)).fetchone()[0]
        blob_rows = {h: (refcount, size) for h, refcount, size in
                     db.execute("SELECT hash, refcount, size FROM blobs")}
        uses = collections.Counter(
            h for (h,) in db.execute("SELECT blob FROM messages"))
    finally:
        db.close()

    assert other == 0, f"{other} messages outside INBOX"
    uids = [r[0] for r in rows]
    assert uids == sorted(set(uids)), "UIDs are not unique and increasing"
    assert not uids or mbox[1] > uids[-1], f"UIDNEXT {mbox[1]} not above UID {uids[-1]}"
    assert mbox[2] == len(rows), f"INBOX counts {mbox[2]} messages, has {len(rows)}"
    assert mbox[3] == sum(r[2] for r in rows), "INBOX size counter is wrong"
    by_uid = {r[0]: r for r in rows}

    # every row is a whole message that was sent, with a good blob
    checked = {}
    for uid, digest, size, lf in rows:
        assert digest in sent, f"UID {uid}: blob {digest} is not any message sent (partial?)"
        expect = crlf_form(sent[digest].data)
        assert size == len(expect), f"UID {uid}: size {size}, expected {len(expect)}"
        assert bool(lf) == only_lf(sent[digest].data), f"UID {uid}: only_lf is {lf}"
        if digest not in checked:
            path = os.path.join(blob_dir, digest[:2], digest)
            assert os.path.isfile(path), f"UID {uid}: blob file {path} is missing"
            content = read_file(path)
            assert sha256(content) == digest, f"UID {uid}: blob {digest} is partial or wrong"
            assert content == expect
            checked[digest] = True
        assert digest in blob_rows, f"UID {uid}: blob {digest} has no row"
    for h, (refcount, size) in blob_rows.items():
        assert refcount == uses.get(h, 0), f"blob {h}: refcount {refcount}, {uses.get(h)} uses"

    # every acknowledged delivery is there, under the UID it logged
    have = collections.Counter(r[1] for r in rows)
    want = collections.Counter(r.job.digest for r in acked)
    for digest, n in want.items():
        assert have[digest] >= n, \
            f"message {sent[digest].index} acknowledged {n} times, stored {have[digest]}"
    assert len(rows) >= len(acked)
    assert len(rows) <= len(results), "more messages than deliveries"
    logged = [r for r in acked if r.uid is not None]
    assert len({r.uid for r in logged}) == len(logged), "two deliveries logged the same UID"
    for r in logged:
        assert r.uid in by_uid, f"message {r.job.index} acknowledged as UID {r.uid}: not stored"
        assert by_uid[r.uid][1] == r.job.digest, \
            f"UID {r.uid} holds another message than {r.job.index}"
    # acknowledged before another one started: the smaller UID
    logged.sort(key=lambda r: r.end)
    latest_uid_before = 0
    starts = sorted(logged, key=lambda r: r.start)
    j = 0
    for r in starts:
        while j < len(logged) and logged[j].end < r.start:
            latest_uid_before = max(latest_uid_before, logged[j].uid)
            j += 1
        assert r.uid > latest_uid_before, \
            f"message {r.job.index} got UID {r.uid} below one acknowledged before it started"

    # no file under a final blob name is partial; unreferenced ones come
    # from killed deliveries
    orphans = 0
    for sub in sorted(os.listdir(blob_dir)):
        if sub == "tmp":
            continue
        for name in os.listdir(os.path.join(blob_dir, sub)):
            path = os.path.join(blob_dir, sub, name)
            assert BLOB_NAME.match(name) and name[:2] == sub, f"stray file {path}"
            if name in checked:
                continue
            assert name in sent, f"blob file {path} is not any message sent"
            assert sha256(read_file(path)) == name, f"blob file {path} is partial"
            orphans += 1
    temps = len(os.listdir(os.path.join(blob_dir, "tmp")))
    killed = sum(r.killed for r in results)
    assert temps + orphans <= killed, f"{temps} temp files and {orphans} orphans, {killed} kills"
    return (f"{user}: {len(results)} deliveries, {len(acked)} acknowledged, {killed} killed, "
            f"{len(rows)} stored, {orphans} orphan blobs, {temps} temp files left")


def roost(srv, *args, stdin=b""):
    return subprocess.run([srv.binary, *args, "-c", srv.conf], input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


# ---------------------------------------------------------------- the tests


def crash_run(srv, seed):
    count = int(os.environ.get("ROOST_CRASH_COUNT", "0")) or (
        COUNT_SANITIZED if binary_is_sanitized(srv.binary) else COUNT_NORMAL)
    small, per_byte = calibrate(srv)
    # calibrated alone; PARALLEL deliveries share the CPUs
    load = max(1.0, PARALLEL / (os.cpu_count() or 1))
    jobs = make_jobs(seed, count, lambda n: load * (small + per_byte * n))

    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for res in pool.map(lambda j: run_delivery(srv, j), jobs):
            results.append(res)

    modes = collections.Counter(r.job.mode for r in results)
    bad = [r for r in results if r.rc not in (0, -signal.SIGKILL)]
    assert not bad, "deliveries failed without being killed:\n" + "\n".join(
        f"message {r.job.index} ({r.job.mode}): exit {r.rc}: "
        f"{r.stderr.decode('utf-8', 'replace')[-2000:]}" for r in bad[:5])
    unkilled = [r for r in results if r.job.mode == "none"]
    assert all(r.rc == 0 for r in unkilled)
    for r in results:
        if not r.killed:
            err = r.stderr.decode("utf-8", "replace")
            for marker in SANITIZER_MARKERS:
                assert marker not in err, f"sanitizer report from roost deliver:\n{err}"
    # some kills hit (where they land depends on timing: see the summary)
    kills = [r for r in results if r.job.mode != "none"]
    assert any(r.killed for r in kills)
    late = sum(r.rc == 0 for r in kills)

    summary = verify_account(srv, "alice", results)

    check = roost(srv, "check")
    out = check.stdout.decode("utf-8", "replace")
    assert check.returncode == 0, f"roost check exited {check.returncode}:\n{out}" \
        f"{check.stderr.decode('utf-8', 'replace')}"
    assert re.search(r"^alice: 0 problems found", out, re.M), out
    assert re.search(r"^bob: 0 problems found", out, re.M), out

    # the store still takes mail, after the highest UID
    final = roost(srv, "deliver", "-u", "alice", stdin=b"Subject: after\n\nstill here\n")
    assert final.returncode == 0, final.stderr
    m = DELIVERED_LINE.search(final.stderr)
    db = sqlite3.connect(os.path.join(account_dir(srv, "alice"), "index.db"))
    try:
        (maxuid,) = db.execute(
            "SELECT max(uid) FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id"
            " WHERE b.name = 'INBOX'").fetchone()
    finally:
        db.close()
    if m:
        assert int(m.group(3)) == maxuid
    print(f"seed {seed}: {summary}; modes {dict(modes)}, {late} of the {len(kills)} to be"
          f" killed finished first; calibrated {small * 1000:.1f} ms"
          f" + {per_byte * 1e9:.1f} ms/MB; roost check:\n{out}")


def run_with_seed(seed, fn):
    try:
        fn()
    except AssertionError as e:
        raise AssertionError(f"[seed {seed}; rerun with ROOST_CRASH_SEED={seed}] {e}") from e


def test_crash_during_deliveries(start_server):
    seed = os.environ.get("ROOST_CRASH_SEED", "20261122")
    srv = start_server(start=False)
    run_with_seed(seed, lambda: crash_run(srv, seed))


def test_crash_during_deliveries_with_server_running(start_server):
    """The same with a `roost serve` running, so that store_notify_external
    has a listener (once the server binds DATA/control.sock; until then the
    datagram finds no one, which deliver tolerates).

    The server is not killed here; test_crash_server.py kills it at random
    moments while clients APPEND."""
    seed = os.environ.get("ROOST_CRASH_SEED", "20261123")
    srv = start_server(start=False)
    srv.start()
    run_with_seed(seed, lambda: crash_run(srv, seed))
    assert srv.proc.poll() is None, f"roost serve exited:\n{srv.log()[-3000:]}"
