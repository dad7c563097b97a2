"""Many sessions at once."""
import threading
import time

import pytest

from roostlib import PASSWORDS, ImapClient, ok, quote

N_LOGINS = 500
DEADLINE = 120.0


@pytest.fixture(scope="module")
def busy_server(module_server_factory):
    return module_server_factory(
        auth={"argon2_iterations": "1", "argon2_memory_kib": "64", "fail_delay_ms": "400"},
        limits={"max_connections_per_ip": "2000", "max_connections": "4000"},
    )


def run_parallel(n, fn, deadline=DEADLINE):
    """Run fn(i) in n threads released together; return the list of errors."""
    barrier = threading.Barrier(n)
    errors = [None] * n
    done = [False] * n

    def worker(i):
        try:
            barrier.wait(timeout=deadline)
            fn(i)
            done[i] = True
        except BaseException as e:  # report, never hang the test
            errors[i] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    end = time.monotonic() + deadline
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    stuck = sum(1 for t in threads if t.is_alive())
    failed = [e for e in errors if e is not None]
    if stuck:
        failed.append(f"{stuck} sessions did not finish within {deadline}s")
    return failed


def test_500_concurrent_tls_logins(busy_server, tls_ctx):
    users = list(PASSWORDS)

    def session(i):
        user = users[i % len(users)]
        c = ImapClient(busy_server.imaps_port, tls=True, ctx=tls_ctx, timeout=DEADLINE)
        try:
            assert c.greeting.startswith(b"* OK"), c.greeting
            _, tagged = c.cmd(f"LOGIN {user} {quote(PASSWORDS[user])}", tag="L")
            assert ok(tagged), tagged
            _, tagged = c.cmd("NOOP", tag="N")
            assert ok(tagged), tagged
        finally:
            c.close()

    failed = run_parallel(N_LOGINS, session)
    assert not failed, f"{len(failed)} failed, e.g. {failed[:5]}"


def test_concurrent_pipelined_sessions_keep_their_answers(busy_server, tls_ctx):
    """Sessions pipelining at once each get their own answers, in order."""

    def session(i):
        with busy_server.connect(tls=True, ctx=tls_ctx) as c:
            c.send(b"".join(b"s%d-%d NOOP\r\n" % (i, k) for k in range(50)))
            for k in range(50):
                line = c.read_line()
                assert line.startswith(b"s%d-%d OK" % (i, k)), (i, k, line)

    failed = run_parallel(50, session)
    assert not failed, failed[:5]


def test_failed_logins_in_parallel_do_not_stall_good_ones(busy_server, tls_ctx):
    """Many sessions sitting in the failure delay; good logins still pass
    quickly (the delay must not hold a worker)."""
    bad = [busy_server.connect(tls=True, ctx=tls_ctx) for _ in range(40)]
    try:
        for c in bad:
            c.send('f LOGIN alice "wrong-pw-x1"\r\n')
        t0 = time.monotonic()
        with busy_server.login_tls("bob") as good:
            assert ok(good.cmd("NOOP")[1])
        # 40 delayed failures on 4 workers would take 4 s if each held one
        assert time.monotonic() - t0 < 2.0
        for c in bad:
            _, tagged = c.read_until_tagged("f")
            assert tagged.startswith(b"f NO [AUTHENTICATIONFAILED]")
    finally:
        for c in bad:
            c.close()
