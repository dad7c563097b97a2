"""Crash consistency of the server itself: clients APPEND over IMAP while
the server is killed (SIGKILL) at random moments and started again. Every
APPEND that was answered OK [APPENDUID v uid] is present afterwards, byte
for byte, under that UID; nothing else is half there; UIDs are never
reused; `roost check` finds nothing wrong. The invariants are those of
test_crash.py (verify_account), whose message generator this reuses."""
import collections
import os
import re
import signal
import threading
import time

import pytest

from roostlib import PASSWORDS, binary_is_sanitized, tls_client_context
from roostlib import ImapClient, ConnectionClosed
from test_crash import Result, make_jobs, random_for, roost, run_with_seed, verify_account

CLIENTS = 4
COUNT_NORMAL = 600
COUNT_SANITIZED = 200
APPENDUID = re.compile(rb"^a\d+ OK \[APPENDUID (\d+) (\d+)\]")


def restart(srv, generation):
    """Start the server again on the same data dir (new ports)."""
    os.replace(srv.log_path, f"{srv.log_path}.{generation}")
    srv._log_file.close()
    srv.imap_ports, srv.imaps_ports = [], []
    srv.start()


class Appender(threading.Thread):
    def __init__(self, srv, jobs, ctx, state):
        super().__init__(daemon=True)
        self.srv, self.jobs, self.ctx, self.state = srv, jobs, ctx, state
        self.results = []
        self.error = None

    def connect(self):
        deadline = time.monotonic() + 60
        last = None
        while True:
            port = self.state["port"]
            try:
                c = ImapClient(port, tls=True, ctx=self.ctx, timeout=20)
                _, tagged = c.cmd(f'LOGIN alice "{PASSWORDS["alice"]}"')
                if b" OK " in tagged:
                    return c
                c.close()
            except (OSError, ConnectionClosed) as e:
                last = e
            if time.monotonic() > deadline:
                raise AssertionError(f"could not reconnect to the server: {last!r}")
            time.sleep(0.02)

    def run(self):
        try:
            c = self.connect()
            for n, job in enumerate(self.jobs):
                res = Result(job)
                res.start = time.monotonic()
                tag = f"a{n}".encode()
                try:
                    c.send(tag + b" APPEND INBOX {%d+}\r\n" % len(job.data) + job.data + b"\r\n")
                    _, tagged = c.read_until_tagged(tag)
                    res.end = time.monotonic()
                    m = APPENDUID.match(tagged)
                    if m:
                        res.rc = 0
                        res.uid = int(m.group(2))
                    else:
                        raise AssertionError(f"APPEND answered {tagged!r}")
                except (OSError, ConnectionClosed):
                    # the server died under it: not acknowledged
                    res.rc = -signal.SIGKILL
                    res.killed = True
                    c = self.connect()
                self.results.append(res)
        except BaseException as e:  # reported by the test
            self.error = e


def crash_server_run(srv, seed):
    count = int(os.environ.get("ROOST_CRASH_COUNT", "0")) or (
        COUNT_SANITIZED if binary_is_sanitized(srv.binary) else COUNT_NORMAL)
    jobs = make_jobs(seed, count, lambda n: 0.01)
    ctx = tls_client_context(srv.cert_path)
    state = {"port": srv.imaps_port}
    appenders = [Appender(srv, jobs[i::CLIENTS], ctx, state) for i in range(CLIENTS)]
    for a in appenders:
        a.start()
    rng = random_for(seed, "server-kills")
    kills = 0
    generation = 0
    while any(a.is_alive() for a in appenders):
        time.sleep(0.02 + 0.25 * rng.random())
        if not any(a.is_alive() for a in appenders):
            break
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=30)
        kills += 1
        generation += 1
        restart(srv, generation)
        state["port"] = srv.imaps_port
    for a in appenders:
        a.join(timeout=300)
        if a.error is not None:
            raise a.error
    results = [r for a in appenders for r in a.results]
    assert len(results) == count
    assert kills > 0
    summary = verify_account(srv, "alice", results)
    srv.stop()
    check = roost(srv, "check")
    out = check.stdout.decode("utf-8", "replace")
    assert check.returncode == 0, out + check.stderr.decode("utf-8", "replace")
    assert re.search(r"^alice: 0 problems found", out, re.M), out
    acked = sum(r.rc == 0 for r in results)
    print(f"seed {seed}: {kills} server kills; {summary}; {acked} acknowledged")


def test_server_killed_during_appends(start_server):
    seed = os.environ.get("ROOST_CRASH_SEED", "20261124")
    srv = start_server(start=False, users={"alice": PASSWORDS["alice"]})
    srv.start()
    run_with_seed(seed, lambda: crash_server_run(srv, seed))
