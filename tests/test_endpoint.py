"""A remote node's endpoint and driver options: what buildx prints about them, and what bakeplan finds out itself.

The TLS handshakes themselves are tested against a real buildkitd in
tests/test_tls_real.py; here: what needs no daemon.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeplan import nodes as nd
from bakeplan.buildx import diagnosed, driver_opt_arg, node_fault
from bakeplan.endpoint import diagnose

# `docker buildx inspect bp-tls` (buildx v0.36.1) for a remote node with TLS driver options.
INSPECT_TLS = """\
Name:          bp-tls
Driver:        remote
Last Activity: 2026-12-06 05:36:39 +0000 UTC

Nodes:
Name:             bp-tls0
Endpoint:         tcp://127.0.0.1:59669
Driver Options:   servername="127.0.0.1" cacert="/certs/ca.pem" cert="/certs/client.pem" key="/certs/client.key"
Status:           running
BuildKit version: v0.26.3
Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/amd64/v4
Labels:
 org.mobyproject.buildkit.worker.executor:         oci
"""

TLS_OPTIONS = (("cacert", "/certs/ca.pem"), ("cert", "/certs/client.pem"), ("key", "/certs/client.key"),
               ("servername", "127.0.0.1"))


def test_inspect_gives_a_node_its_driver_options_sorted_by_name() -> None:
    (node,) = nd.parse_inspect(INSPECT_TLS)
    assert node.driver_opts == TLS_OPTIONS
    assert (node.endpoint, node.status) == ("tcp://127.0.0.1:59669", "running")


def test_ls_json_gives_a_node_its_driver_options() -> None:
    line = ('{"Name":"bp-tls","Driver":"remote","Nodes":[{"Name":"bp-tls0","Endpoint":"tcp://127.0.0.1:59669",'
            '"Status":"inactive","DriverOpts":{"key":"/certs/client.key","cacert":"/certs/ca.pem",'
            '"servername":"127.0.0.1","cert":"/certs/client.pem"}}]}')
    (node,) = nd.parse_ls_json(line)
    assert node.driver_opts == TLS_OPTIONS


def test_go_quoted_driver_options_are_unquoted() -> None:
    text = r'key="/my \"certs\"/k.pem" cacert="/a b/ca.pem" default-load="true"'
    assert nd.parse_driver_options(text) == (("cacert", "/a b/ca.pem"), ("default-load", "true"),
                                             ("key", '/my "certs"/k.pem'))


def test_a_buildx_node_keeps_its_driver_options_for_a_builder_of_its_own() -> None:
    (item,) = nd.parse_inspect(INSPECT_TLS)
    (node,) = nd.nodes_from_buildx([item], nd.Machine("vm", 2, None))
    assert node.driver_opts == TLS_OPTIONS


@pytest.mark.parametrize("value, field", [
    ("cacert=/certs/ca.pem", "cacert=/certs/ca.pem"),
    ("cert=/a,b/c.pem", '"cert=/a,b/c.pem"'),  # buildx reads --driver-opt as CSV
    ('key=/a"b', '"key=/a""b"'),
])
def test_driver_options_are_handed_to_buildx_create_as_csv_fields(value: str, field: str) -> None:
    assert driver_opt_arg(value) == field


@pytest.mark.parametrize("endpoint", [
    "unix:///run/buildkit/buildkitd.sock", "ssh://user@host", "docker-container://buildkitd",
    "kube-pod://buildkitd-0", "tcp://127.0.0.1", "tcp://:1234", "npipe:////./pipe/buildkitd",
])
def test_only_tcp_endpoints_with_a_port_are_diagnosed(endpoint: str) -> None:
    assert diagnose(endpoint, {"cacert": "/nonexistent/ca.pem"}) == ""


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_a_refused_connection_is_named_with_or_without_tls(closed_port: int) -> None:
    endpoint = f"tcp://127.0.0.1:{closed_port}"
    assert diagnose(endpoint, {}) == f"cannot connect to {endpoint}: connection refused"


def test_a_certificate_file_that_cannot_be_read_is_named_before_connecting(tmp_path: Path, closed_port: int) -> None:
    endpoint = f"tcp://127.0.0.1:{closed_port}"
    missing = tmp_path / "ca.pem"
    assert diagnose(endpoint, {"cacert": str(missing)}) == (
        f"TLS setup for {endpoint} failed: cannot load cacert {missing}: no such file or directory")
    missing.write_text("not a certificate\n")
    assert diagnose(endpoint, {"cacert": str(missing)}) == (
        f"TLS setup for {endpoint} failed: cannot load cacert {missing}: no certificate or crl found")


def test_an_inactive_remote_node_says_why_and_a_running_one_is_left_alone(closed_port: int) -> None:
    endpoint = f"tcp://127.0.0.1:{closed_port}"
    inactive = nd.BuilderNode("b", "b0", "remote", endpoint, "inactive", (), 0)
    assert diagnosed(inactive).error == f"cannot connect to {endpoint}: connection refused"
    running = nd.BuilderNode("b", "b0", "remote", endpoint, "running", ("linux/amd64",), 1)
    assert diagnosed(running) is running
    other_driver = nd.BuilderNode("b", "b0", "docker-container", endpoint, "inactive", (), 0)
    assert diagnosed(other_driver) is other_driver


@pytest.mark.parametrize("line, fault", [
    # What buildx prints when it cannot finish a TLS handshake with a remote node: it waited 20 s (real, test_tls_real).
    ("ERROR: context deadline exceeded", True),
    # grpc-go's report of a handshake that failed while building: gRPC Unavailable, the node is lost.
    ('ERROR: failed to receive status: rpc error: code = Unavailable desc = connection error: desc = "error reading '
     'server preface: remote error: tls: bad certificate"', True),
    # A registry's certificate refused inside the build is the build's problem, not the node's.
    ("ERROR: failed to solve: failed to fetch anonymous token: Get \"https://registry.example/token\": tls: "
     "failed to verify certificate: x509: certificate signed by unknown authority", False),
])
def test_tls_failures_of_the_node_are_node_faults_and_tls_failures_inside_a_build_are_not(line: str, fault: bool) -> None:
    assert node_fault([line]) == (line.removeprefix("ERROR: ") if fault else "")


SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty HTTP/2 SETTINGS frame, what a server sends first


@pytest.fixture
def plain_server() -> Iterator[str]:
    """A plain (no TLS) HTTP/2-ish server on 127.0.0.1 that answers every connection with SETTINGS: its endpoint."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(SETTINGS)
                conn.recv(64)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_plain_server_that_answers_is_no_fault_and_tls_towards_it_is_named(plain_server: str) -> None:
    assert diagnose(plain_server, {}) == ""
    assert diagnose(plain_server, {"servername": "127.0.0.1"}) == (
        f"TLS handshake with {plain_server} failed: the server does not speak TLS (wrong version number); "
        "create the builder without cacert, cert and key")
