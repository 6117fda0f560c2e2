"""Why a remote BuildKit endpoint does not answer: connect to it as buildx's remote driver would.

buildx says no more than `inactive` for a `remote`-driver node whose daemon
it cannot reach, and `context deadline exceeded` after 20 s when it tries to
build there (driver/remote/driver.go: `Info` hides the dial error; `Bootstrap`
retries until its deadline). For a `tcp://` endpoint, `diagnose` opens the
connection itself with the node's own driver options (`cacert`, `cert`,
`key`, `servername`, driver/remote/factory.go) and names what fails: the TCP
connect, a certificate file, the server's certificate, or buildkitd refusing
the client certificate. With TLS 1.3 the server judges the client's
certificate after the client's handshake is done, so its refusal is an alert
read after the handshake; a server that accepts sends its HTTP/2 settings.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

TIMEOUT = 3.0  # seconds for the connect, the handshake and the first read each

# OpenSSL's names for the alerts a TLS server sends when it refuses the client's certificate.
_REFUSED_CLIENT = ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED",
                   "ALERT_CERTIFICATE_EXPIRED", "ALERT_CERTIFICATE_REVOKED", "ALERT_UNSUPPORTED_CERTIFICATE",
                   "ALERT_CERTIFICATE_UNKNOWN", "ALERT_ACCESS_DENIED", "ALERT_DECRYPT_ERROR")


def diagnose(endpoint: str, options: Mapping[str, str], *, timeout: float = TIMEOUT) -> str:
    """Why a `tcp://HOST:PORT` endpoint with these driver options does not answer ('' when it does or cannot be told).

    Without TLS options buildx speaks plain HTTP/2: a server that hangs up on
    its first bytes wants TLS (Go's crypto/tls closes on a record that is not
    a handshake), one that answers is a plain daemon that is merely busy.
    """
    address = _address(endpoint)
    if address is None:
        return ""
    tls = any(key in options for key in ("cacert", "cert", "key", "servername"))
    try:
        context = _context(options) if tls else None
    except _SetupError as error:
        return f"TLS setup for {endpoint} failed: {error}"
    try:
        raw = socket.create_connection(address, timeout=timeout)
    except OSError as error:
        return f"cannot connect to {endpoint}: {_os_reason(error)}"
    with raw:
        if context is None:
            return _plain(raw, endpoint)
        server = options.get("servername") or address[0]
        return _handshake(raw, context, server, endpoint, options, timeout)


class _SetupError(Exception):
    """A certificate file that cannot be read, or a certificate that does not fit its key."""


def _address(endpoint: str) -> tuple[str, int] | None:
    """(host, port) of a `tcp://` endpoint, None for any other kind (unix sockets, ssh, docker-container, ...)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        return None
    return parts.hostname, port


def _context(options: Mapping[str, str]) -> ssl.SSLContext:
    """A client context as buildx builds one: trust only `cacert`, present `cert`/`key`, check the server name.

    Not `ssl.create_default_context`: newer Pythons add strict X.509 checks there
    that Go's crypto/tls does not make, and a node buildx could use must not be
    blamed for them.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the host name
    context.set_alpn_protocols(["h2"])
    cacert, cert, key = options.get("cacert", ""), options.get("cert", ""), options.get("key", "")
    try:
        if cacert:
            context.load_verify_locations(cafile=cacert)
    except (OSError, ssl.SSLError) as error:
        raise _SetupError(f"cannot load cacert {cacert}: {_load_reason(error)}") from error
    try:
        if cert or key:
            context.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as error:
        raise _SetupError(f"cannot load cert {cert or '(none)'} with key {key or '(none)'}: "
                          f"{_load_reason(error)}") from error
    return context


def _load_reason(error: OSError | ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLError):
        return _alert(error.reason or str(error))
    return _os_reason(error)


def _handshake(raw: socket.socket, context: ssl.SSLContext, server: str, endpoint: str,
               options: Mapping[str, str], timeout: float) -> str:
    """Shake hands and read the server's first bytes; why that failed, or ''."""
    try:
        with context.wrap_socket(raw, server_hostname=server) as tls:
            # buildkitd (grpc-go) sends its HTTP/2 settings first: the client certificate was accepted.
            if not tls.recv(1):
                return f"TLS handshake with {endpoint} failed: the server closed the connection"
    except ssl.SSLCertVerificationError as error:
        return f"TLS handshake with {endpoint} failed: {_server_reason(error, server, options)}"
    except ssl.SSLError as error:
        reason = error.reason or str(error)
        if any(reason.endswith(alert) for alert in _REFUSED_CLIENT):
            return f"TLS handshake with {endpoint} failed: {_client_reason(reason, options)}"
        if reason == "WRONG_VERSION_NUMBER":
            return (f"TLS handshake with {endpoint} failed: the server does not speak TLS ({_alert(reason)}); "
                    "create the builder without cacert, cert and key")
        return f"TLS handshake with {endpoint} failed: {_alert(reason)}"
    except TimeoutError:
        return f"TLS handshake with {endpoint} failed: no answer in {timeout:g} s"
    except OSError as error:
        return f"TLS handshake with {endpoint} failed: {_os_reason(error)} (is it a TLS endpoint?)"
    return ""


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # how every HTTP/2 client (gRPC's) opens a connection


def _plain(raw: socket.socket, endpoint: str) -> str:
    """Speak plain HTTP/2 as buildx does without TLS options: '' when the server answers, why not otherwise."""
    try:
        raw.sendall(PREFACE)
        if raw.recv(1):
            return ""
    except OSError:
        return ""  # no answer yet (busy) or a reset: nothing certain to say
    return f"{endpoint} hung up on plain HTTP/2: it wants TLS; give the builder cacert=, cert= and key= driver options"


def _server_reason(error: ssl.SSLCertVerificationError, server: str, options: Mapping[str, str]) -> str:
    """Why the server's certificate was not accepted, naming the file or option to look at."""
    message = str(error.verify_message or error.reason or error)
    if "mismatch" in message.lower():
        return f"the server's certificate is not valid for servername {server} ({message})"
    return f"the server's certificate is not trusted by cacert {options.get('cacert') or '(none given)'} ({message})"


def _client_reason(reason: str, options: Mapping[str, str]) -> str:
    """Why the server refused the client (an alert after the handshake), naming the certificate to look at."""
    if not options.get("cert"):
        return f"the server demands a client certificate ({_alert(reason)}); give the builder cert= and key= driver options"
    why = "it is not signed by a CA the server trusts (buildkitd --tlscacert)" if reason.endswith("UNKNOWN_CA") else ""
    return f"the server refused the client certificate {options['cert']} ({_alert(reason)})" + (f": {why}" if why else "")


def _alert(reason: str) -> str:
    """`TLSV1_ALERT_UNKNOWN_CA` -> `tlsv1 alert unknown ca`, as OpenSSL and Go print alerts."""
    return reason.lower().replace("_", " ")


def _os_reason(error: OSError) -> str:
    """`Connection refused` -> `connection refused`, as Go's net package says it."""
    reason = error.strerror or str(error) or type(error).__name__
    return reason[:1].lower() + reason[1:]
