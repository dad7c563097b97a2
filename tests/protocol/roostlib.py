"""Helpers for the protocol tests: the server process, a raw IMAP client,
certificates. Standard library only."""
import base64
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A generous default for any single wait; sanitizer builds are slow.
TIMEOUT = float(os.environ.get("ROOST_TEST_TIMEOUT", "20"))

# Distinctive passwords: the log tests check that none of them is ever logged.
PASSWORDS = {
    "alice": "pw-Alice-q7Zx!c9",
    "bob": "pw-Bob-Kp3w$8mN",
}
# Passwords the tests type wrong on purpose; they must not be logged either.
WRONG_PASSWORD = "pw-Wrong-Vb5n#2T"
ALL_TEST_PASSWORDS = list(PASSWORDS.values()) + [WRONG_PASSWORD]

EX_DATAERR = 65
EX_NOUSER = 67


def roost_bin():
    return os.environ.get("ROOST_BIN") or os.path.join(REPO, "build", "roost")


_SANITIZED = {}


def binary_is_sanitized(path=None):
    """True if the binary is built with ASan (its memory use is not
    comparable: freed blocks sit in a quarantine)."""
    path = path or roost_bin()
    if path not in _SANITIZED:
        with open(path, "rb") as f:
            data = f.read()
            _SANITIZED[path] = b"__asan_init" in data or b"AddressSanitizer" in data
    return _SANITIZED[path]


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain_ir(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


# ---------------------------------------------------------------- certificates


def make_cert(directory, name="cert.pem", key="key.pem", cn="localhost"):
    """A self-signed certificate for localhost (CN and subjectAltName)."""
    cert_path = os.path.join(directory, name)
    key_path = os.path.join(directory, key)
    tmp_cert = cert_path + ".new"
    tmp_key = key_path + ".new"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "30", "-subj", f"/CN={cn}",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", tmp_key, "-out", tmp_cert,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    # rename: a reader never sees half a file
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path


def cert_der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def tls_client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------- polling


def wait_for(predicate, timeout=TIMEOUT, interval=0.02, what="condition"):
    """Poll predicate() until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the server


DEFAULT_SECTIONS = {
    "server": {"log_level": "debug", "workers": "4"},
    "imap": {"listen": "127.0.0.1:0"},
    "imaps": {"listen": "127.0.0.1:0"},
    "auth": {
        "allow_plaintext": "no",
        "fail_delay_ms": "400",
        "argon2_iterations": "1",
        "argon2_memory_kib": "64",
    },
    "limits": {},
}


def write_config(path, sections):
    with open(path, "w") as f:
        for sec, kv in sections.items():
            f.write(f"[{sec}]\n")
            for k, v in kv.items():
                f.write(f"{k} = {v}\n")
            f.write("\n")


class ServerStartError(Exception):
    pass


class RoostServer:
    """One `roost serve` in its own temp dir. stderr goes to DIR/stderr.log."""

    def __init__(self, binary, cert, sections=None, copy_cert=False):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="roost-test-")
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "roost.conf")
        self.log_path = os.path.join(self.dir, "stderr.log")
        cert_path, key_path = cert
        if copy_cert:
            # the SIGHUP test replaces these files
            shutil.copy(cert_path, os.path.join(self.dir, "cert.pem"))
            shutil.copy(key_path, os.path.join(self.dir, "key.pem"))
            cert_path = os.path.join(self.dir, "cert.pem")
            key_path = os.path.join(self.dir, "key.pem")
        self.cert_path = cert_path
        self.key_path = key_path
        merged = {k: dict(v) for k, v in DEFAULT_SECTIONS.items()}
        merged["server"]["data_dir"] = self.data_dir
        merged["tls"] = {"cert": cert_path, "key": key_path}
        for sec, kv in (sections or {}).items():
            merged.setdefault(sec, {}).update(kv)
        self.sections = merged
        write_config(self.conf, merged)
        self.proc = None
        self.imap_port = None
        self.imaps_port = None
        self.imap_ports = []
        self.imaps_ports = []

    # -- process

    def start(self, timeout=TIMEOUT):
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "-c", self.conf],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=self._log_file,
        )
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if re.search(r"\broost \S+ ready$", log, re.M):
                break
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"roost serve exited with {self.proc.returncode}:\n{log}")
            if time.monotonic() >= deadline:
                raise ServerStartError(f"roost serve not ready after {timeout}s:\n{log}")
            time.sleep(0.01)
        for m in re.finditer(r"listening on (\S+):(\d+) \((imaps?)\)", log):
            port = int(m.group(2))
            (self.imaps_ports if m.group(3) == "imaps" else self.imap_ports).append(port)
        self.imap_port = self.imap_ports[0] if self.imap_ports else None
        self.imaps_port = self.imaps_ports[0] if self.imaps_ports else None
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=TIMEOUT, start=0):
        """Wait until the log (from offset start) matches the regex; return the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()[start:]), timeout,
                        what=f"log line matching {pattern!r}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "runtime error:", "WARNING: ThreadSanitizer",
                         "ERROR: MemorySanitizer")

    def sanitizer_report(self):
        """Sanitizer output in the server's stderr, or None."""
        log = self.log()
        for marker in self.SANITIZER_MARKERS:
            i = log.find(marker)
            if i >= 0:
                return log[max(0, i - 200):i + 4000]
        return None

    def cleanup(self):
        """Stop the server and remove its dir; return a sanitizer report
        (None if clean)."""
        try:
            self.stop()
            return self.sanitizer_report()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the user command

    def user_cli(self, *args, password=None, check=False, timeout=60):
        r = subprocess.run(
            [self.binary, "user", "-c", self.conf, *args],
            input=(password + "\n").encode() if password is not None else b"",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        err = r.stderr.decode("utf-8", "replace")
        for marker in self.SANITIZER_MARKERS:
            assert marker not in err, f"sanitizer report from roost user {args[0]}:\n{err}"
        if check and r.returncode != 0:
            raise AssertionError(
                f"roost user {' '.join(args)} exited {r.returncode}: {r.stderr.decode()}")
        return r

    # -- clients

    def connect(self, tls=False, ctx=None, **kw):
        if tls:
            return ImapClient(self.imaps_port, tls=True,
                              ctx=ctx or tls_client_context(self.cert_path), **kw)
        return ImapClient(self.imap_port, **kw)

    def login_tls(self, user="alice", password=None, ctx=None):
        """A logged-in client on the implicit TLS port."""
        c = self.connect(tls=True, ctx=ctx)
        pw = PASSWORDS[user] if password is None else password
        _, tagged = c.cmd(f"LOGIN {user} {quote(pw)}")
        assert ok(tagged), tagged
        return c


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- the client


class ConnectionClosed(Exception):
    pass


def ok(line):
    return status(line) == b"OK"


def status(line):
    """The status word (OK/NO/BAD/BYE/PREAUTH) of a tagged or untagged line."""
    parts = line.split(b" ", 2)
    return parts[1].upper() if len(parts) > 1 else b""


def code(line):
    """The response code of a status response, e.g. b"PRIVACYREQUIRED", or None."""
    m = re.match(rb"^\S+ \S+ \[([^\]\s]+)", line)
    return m.group(1).upper() if m else None


class ImapClient:
    """A raw-socket IMAP client: bytes in, lines out (CRLF stripped)."""

    def __init__(self, port, tls=False, ctx=None, host="127.0.0.1", timeout=TIMEOUT,
                 read_greeting=True):
        self.timeout = timeout
        self.buf = b""
        self.tagno = 0
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            self.sock = (ctx or insecure_context()).wrap_socket(
                self.sock, server_hostname="localhost")
        self.greeting = self.read_line() if read_greeting else None

    # -- low level

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _recv(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server") from None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError) as e:
            raise ConnectionClosed(str(e)) from None
        if not data:
            raise ConnectionClosed("connection closed by the server")
        return data

    def read_line(self, timeout=None):
        """One line without its CRLF. Raises ConnectionClosed or TimeoutError."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\r\n" not in self.buf:
            self.buf += self._recv(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_until_tagged(self, tag, timeout=None):
        """(untagged lines, tagged line). Continuation requests go with the
        untagged ones."""
        if isinstance(tag, str):
            tag = tag.encode()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        untagged = []
        while True:
            line = self.read_line(timeout=max(0.0, deadline - time.monotonic()))
            if line.startswith(tag + b" "):
                return untagged, line
            untagged.append(line)

    def next_tag(self):
        self.tagno += 1
        return f"t{self.tagno}"

    def cmd(self, text, tag=None, timeout=None):
        """Send `TAG text` and read up to the tagged answer."""
        tag = tag or self.next_tag()
        self.send(f"{tag} {text}\r\n" if isinstance(text, str)
                  else tag.encode() + b" " + text + b"\r\n")
        return self.read_until_tagged(tag, timeout=timeout)

    def read_to_eof(self, timeout=None):
        """Everything until the server closes the connection."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        data, self.buf = self.buf, b""
        while True:
            try:
                data += self._recv(deadline)
            except ConnectionClosed:
                return data
            except ssl.SSLError:
                return data

    def is_closed(self, timeout=1.0):
        """True if the server closes within timeout with nothing more to say."""
        try:
            self.read_to_eof(timeout)
            return True
        except TimeoutError:
            return False

    def starttls(self, ctx, tag=None):
        untagged, tagged = self.cmd("STARTTLS", tag=tag)
        assert ok(tagged), tagged
        assert self.buf == b"", f"server sent bytes after the STARTTLS OK: {self.buf!r}"
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        return tagged

    def login(self, user="alice", password=None):
        pw = PASSWORDS[user] if password is None else password
        return self.cmd(f"LOGIN {user} {quote(pw)}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def capabilities(line):
    """The capability names from a `* CAPABILITY ...` line, an `[CAPABILITY ...]`
    code, or a greeting, upper-cased."""
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        words = m.group(1)
    else:
        m = re.match(rb"^\* CAPABILITY (.*)$", line)
        assert m, f"no capability list in {line!r}"
        words = m.group(1)
    return {w.upper().decode() for w in words.split()}
