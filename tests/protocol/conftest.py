"""Fixtures for the protocol tests: a real `roost serve` on free ports.

The binary comes from $ROOST_BIN (default: <repo>/build/roost), so CI can run
the same suite against a sanitizer build. Everything lives in temp dirs;
servers are stopped at the end of their scope.
"""
import os
import shutil
import tempfile

import pytest

from roostlib import (
    PASSWORDS,
    RoostServer,
    make_cert,
    roost_bin,
    tls_client_context,
)


@pytest.fixture(scope="session")
def roost():
    path = roost_bin()
    if not os.access(path, os.X_OK):
        pytest.exit(f"roost binary not found at {path} (build it or set ROOST_BIN)", 2)
    return path


@pytest.fixture(scope="session")
def cert_dir():
    d = tempfile.mkdtemp(prefix="roost-cert-")
    make_cert(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cert(cert_dir):
    """(cert_path, key_path) of the session's self-signed localhost certificate."""
    return os.path.join(cert_dir, "cert.pem"), os.path.join(cert_dir, "key.pem")


@pytest.fixture(scope="session")
def tls_ctx(cert):
    """A client context that trusts only the test certificate and checks the name."""
    return tls_client_context(cert[0])


class ServerFactory:
    """Starts servers in fresh temp dirs and stops all of them at the end."""

    def __init__(self, roost, cert):
        self.roost = roost
        self.cert = cert
        self.servers = []

    def __call__(self, users=None, start=True, copy_cert=False, **sections):
        """sections: e.g. limits={"preauth_timeout": "2"}, auth={...}.
        users: dict name -> password (default: alice and bob)."""
        srv = RoostServer(self.roost, self.cert, sections, copy_cert=copy_cert)
        self.servers.append(srv)
        for name, pw in (PASSWORDS if users is None else users).items():
            srv.user_cli("add", name, password=pw, check=True)
        if start:
            srv.start()
        return srv

    def cleanup(self):
        reports = []
        for srv in self.servers:
            r = srv.cleanup()
            if r:
                reports.append(r)
        self.servers.clear()
        if reports:
            pytest.fail("sanitizer report from roost serve:\n" + "\n----\n".join(reports),
                        pytrace=False)


@pytest.fixture
def start_server(roost, cert):
    """Function-scoped factory for dedicated servers (limit and signal tests)."""
    f = ServerFactory(roost, cert)
    yield f
    f.cleanup()


@pytest.fixture(scope="module")
def module_server_factory(roost, cert):
    f = ServerFactory(roost, cert)
    yield f
    f.cleanup()


@pytest.fixture(scope="module")
def server(module_server_factory):
    """The module's default server: plaintext login refused on the plain port,
    fail_delay_ms=400, fast argon2, users alice and bob."""
    return module_server_factory()
