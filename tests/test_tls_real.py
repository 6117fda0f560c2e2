"""Remote nodes over TCP with mutual TLS, against a real buildkitd on 127.0.0.1.

The `tls_node` fixture makes a CA, a server certificate for IP 127.0.0.1 and
a client certificate with the openssl CLI, starts buildkitd with
`--addr tcp://127.0.0.1:PORT --tlscacert --tlscert --tlskey`, and creates
`remote` builders with buildx's `cacert`, `cert`, `key`, `servername` driver
options: one with the right files, one whose client certificate another CA
signed, one that trusts another CA. buildx itself only calls the bad ones
`inactive` (and a build there says `context deadline exceeded` after 20 s);
bakeplan names the node and the TLS problem, and plans and runs on the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bakeplan.buildx import node_fault, probe_builder
from bakeplan.endpoint import diagnose
from tests.support import infra
from tests.support.clusters import TLSNode
from tests.support.tools import TOOLS

pytestmark = [pytest.mark.buildkit]

ROOT = Path(__file__).resolve().parent.parent

HELLO = """
target "hello" {
  platforms = ["linux/amd64"]
  output = ["type=oci,dest=hello.tar"]
}
group "default" { targets = ["hello"] }
"""


def project(directory: Path, bake: str = HELLO) -> Path:
    """A FROM scratch project: one file copied into an image."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text("FROM scratch\nARG NAME=hello\nCOPY hello.txt /${NAME}.txt\n")
    (directory / "hello.txt").write_text("hello over TLS\n")
    (directory / "docker-bake.hcl").write_text(bake)
    return directory


def bakeplan(cwd: Path, cli: infra.DockerCLI, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`bakeplan ARGS` in `cwd` with the test's DOCKER_CONFIG; no traceback, whatever the exit code."""
    env = dict(cli.env, BAKEPLAN_CACHE_DIR=str(cwd / ".cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "bakeplan", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def bad_client_reason(node: TLSNode) -> str:
    return (f"TLS handshake with {node.daemon.tcp} failed: the server refused the client certificate "
            f"{node.stranger.cert} (tlsv1 alert unknown ca): it is not signed by a CA the server trusts")


def bad_ca_reason(node: TLSNode) -> str:
    return (f"TLS handshake with {node.daemon.tcp} failed: the server's certificate is not trusted by cacert "
            f"{node.other_ca.cert} (unable to get local issuer certificate)")


def test_nodes_finds_the_tls_node_alive_and_names_each_certificate_problem(tmp_path: Path, tls_node: TLSNode) -> None:
    done = bakeplan(project(tmp_path), tls_node.cli, "nodes", "--format", "json")
    assert done.returncode == 0, done.stderr
    found = {n["name"]: n for n in json.loads(done.stdout)}
    good = found[tls_node.good]
    assert (good["excluded"], good["status"], good["endpoint"]) == (None, "running", tls_node.daemon.tcp)
    assert good["platforms"][0] == "linux/amd64"
    assert found[tls_node.bad_client]["excluded"].startswith("error: " + bad_client_reason(tls_node))
    assert found[tls_node.bad_ca]["excluded"] == "error: " + bad_ca_reason(tls_node)
    table = bakeplan(tmp_path, tls_node.cli, "nodes")
    assert f"{tls_node.bad_ca}: left out: error: {bad_ca_reason(tls_node)}" in table.stdout.splitlines()


def test_plan_places_the_job_on_the_tls_node_and_says_which_nodes_were_left_out(
        tmp_path: Path, tls_node: TLSNode) -> None:
    done = bakeplan(project(tmp_path), tls_node.cli, "plan")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{tls_node.good}  (linux/amd64"), done.stdout
    assert "1 job, 0 hand-overs on 1 node" in lines
    assert f"{tls_node.bad_ca}: left out: error: {bad_ca_reason(tls_node)}" in lines
    assert any(line.startswith(f"{tls_node.bad_client}: left out: error: {bad_client_reason(tls_node)}")
               for line in lines), done.stdout
    data = json.loads(bakeplan(tmp_path, tls_node.cli, "plan", "--format", "json").stdout)
    assert {j["id"]: j["node"] for j in data["jobs"]} == {"hello@linux/amd64": tls_node.good}


def test_run_builds_on_the_tls_node_and_exports_the_image(tmp_path: Path, tls_node: TLSNode) -> None:
    work = project(tmp_path)
    done = bakeplan(work, tls_node.cli, "run", "--progress", "plain")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ok: 1 succeeded"
    assert f"done   hello@linux/amd64 on {tls_node.good}" in done.stdout
    with tarfile.open(work / "hello.tar") as image:
        index = json.loads(image.extractfile("index.json").read())  # type: ignore[union-attr]
        layers = [m for m in image.getmembers() if m.name.startswith("blobs/sha256/") and m.size > 0]
        copied = [_layer_files(image, m) for m in layers]
    assert index["manifests"], index
    assert any("hello.txt" in names for names in copied)


def _layer_files(image: tarfile.TarFile, member: tarfile.TarInfo) -> list[str]:
    """The file names in a layer blob ([] for a blob that is not a tar, such as a manifest)."""
    blob = image.extractfile(member)
    assert blob is not None
    try:
        with tarfile.open(fileobj=blob) as layer:
            return layer.getnames()
    except tarfile.TarError:
        return []


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize("which", ["bad_client", "bad_ca"])
def test_with_only_a_badly_certified_node_plan_and_run_fail_clearly(
        tmp_path: Path, tls_node: TLSNode, command: str, which: str) -> None:
    builder = getattr(tls_node, which)
    reason = bad_client_reason(tls_node) if which == "bad_client" else bad_ca_reason(tls_node)
    done = bakeplan(project(tmp_path), tls_node.cli, command, "--builder", builder)
    assert done.returncode == 1, done.stdout + done.stderr
    first, second = done.stderr.splitlines()[:2]
    assert first == "error: no usable node"
    assert second.startswith(f"  {builder} (left out: error: {reason}"), done.stderr
    assert not (tmp_path / "hello.tar").exists()


def test_a_declared_node_with_a_refused_certificate_stops_the_run_before_any_build(
        tmp_path: Path, tls_node: TLSNode) -> None:
    nodes = [arg for name, builder in (("bad", tls_node.bad_client), ("good", tls_node.good))
             for arg in ("--node", f"name={name},builder={builder},platforms=linux/amd64")]
    done = bakeplan(project(tmp_path), tls_node.cli, "run", *nodes)
    assert done.returncode == 1, done.stdout + done.stderr
    # Said at once, from our own handshake: buildx would wait 20 s and say `context deadline exceeded`.
    assert done.stderr.startswith(f"error: builder {tls_node.bad_client!r} is unreachable: "
                                  f"{bad_client_reason(tls_node)}"), done.stderr
    assert not (tmp_path / "hello.tar").exists()


TWO = """
target "a" {
  platforms = ["linux/amd64"]
  args = { NAME = "a" }
  output = ["type=oci,dest=a.tar"]
}
target "b" {
  inherits = ["a"]
  args = { NAME = "b" }
  output = ["type=oci,dest=b.tar"]
}
group "default" { targets = ["a", "b"] }
"""


def test_a_tls_node_of_a_multi_node_builder_gets_a_builder_of_its_own_with_its_certificates(
        tmp_path: Path, tls_node: TLSNode) -> None:
    """`run` reaches a node of a multi-node builder through a single-node builder on its endpoint, TLS files included.

    The builder's other node trusts another CA: it is left out, naming the
    node and why. A stale builder of the own builder's name, without the TLS
    files, is made again.
    """
    cli = infra.isolated_docker_config(tmp_path / "cfg", tls_node.cli.docker, TOOLS / "docker" / "cli-plugins" / "docker-buildx")
    cli = infra.DockerCLI(cli.docker, cli.config_dir, {**cli.env, "DOCKER_HOST": tls_node.cli.env["DOCKER_HOST"]})
    files, tcp = tls_node.files, tls_node.daemon.tcp
    cli.run("create", "--name", "bp-mix", "--driver", "remote", "--node", "good", "--driver-opt",
            f"cacert={files.ca.cert},cert={files.client.cert},key={files.client.key}", tcp)
    # buildx refuses one endpoint twice in a builder: the same daemon, named another way.
    other = tcp.replace("127.0.0.1", "localhost")
    cli.run("create", "--name", "bp-mix", "--append", "--node", "wrongca", "--driver-opt",
            f"cacert={tls_node.other_ca.cert},cert={files.client.cert},key={files.client.key},servername=127.0.0.1",
            other)
    # Left by an older bakeplan, or made before the node's certificates: it cannot connect.
    cli.run("create", "--name", "bakeplan-bp-mix-good", "--driver", "remote", tcp)
    work = project(tmp_path / "p", TWO)
    plan = bakeplan(work, cli, "plan")
    assert plan.returncode == 0, plan.stderr
    reason = bad_ca_reason(tls_node).replace(tcp, other)
    assert "bp-mix/wrongca: left out: error: " + reason in plan.stdout.splitlines(), plan.stdout
    done = bakeplan(work, cli, "run", "--progress", "plain")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ok: 2 succeeded"
    assert all(f"{job}@linux/amd64 on bp-mix/good" in done.stdout for job in ("done   a", "done   b")), done.stdout
    own = cli.run("inspect", "--bootstrap", "bakeplan-bp-mix-good").stdout
    assert f'cert="{files.client.cert}"' in own and f'cacert="{files.ca.cert}"' in own
    assert "Status:           running" in own


@pytest.mark.slow
def test_buildx_on_a_badly_certified_node_fails_as_a_lost_node_not_as_a_build_error(
        tmp_path: Path, tls_node: TLSNode) -> None:
    """What buildx prints when its TLS handshake fails (after its 20 s wait) counts as a node fault: the job moves."""
    work = project(tmp_path)
    done = subprocess.run(tls_node.cli.argv("bake", "--builder", tls_node.bad_ca, "--progress", "plain"), cwd=work,
                          env=tls_node.cli.env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert node_fault(done.stderr.splitlines()) == "context deadline exceeded", done.stderr


def test_the_health_probe_finds_the_tls_node_up_and_says_why_a_badly_certified_one_is_down(tls_node: TLSNode) -> None:
    assert probe_builder(tls_node.good, docker=tls_node.cli.docker, env=tls_node.cli.env) == ""
    # Said at once, from our own handshake, where `inspect --bootstrap` would time out saying nothing.
    for builder, reason in ((tls_node.bad_client, bad_client_reason(tls_node)), (tls_node.bad_ca, bad_ca_reason(tls_node))):
        probe = probe_builder(builder, docker=tls_node.cli.docker, env=tls_node.cli.env)
        assert probe.startswith(reason), probe


def test_the_handshake_diagnosis_names_what_is_wrong_against_buildkitd(tls_node: TLSNode) -> None:
    """Each way a remote node's TLS files can be wrong, against the real daemon (Go's crypto/tls on the other end)."""
    files, tcp = tls_node.files, tls_node.daemon.tcp
    right = {"cacert": str(files.ca.cert), "cert": str(files.client.cert), "key": str(files.client.key)}
    cases = {
        "": right,
        f"TLS handshake with {tcp} failed: the server demands a client certificate (tlsv13 alert certificate "
        "required); give the builder cert= and key= driver options": {"cacert": str(files.ca.cert)},
        f"TLS handshake with {tcp} failed: the server's certificate is not valid for servername build.example "
        "(Hostname mismatch, certificate is not valid for 'build.example'.)": {**right, "servername": "build.example"},
        # buildkitd wants a client certificate (extendedKeyUsage clientAuth), not a server's.
        f"TLS handshake with {tcp} failed: the server refused the client certificate {files.server.cert} "
        "(sslv3 alert bad certificate)": {**right, "cert": str(files.server.cert), "key": str(files.server.key)},
        f"TLS setup for {tcp} failed: cannot load cert {files.client.cert} with key {files.server.key}: "
        "key values mismatch": {**right, "key": str(files.server.key)},
        f"{tcp} hung up on plain HTTP/2: it wants TLS; give the builder cacert=, cert= and key= driver options": {},
    }
    for expected, options in cases.items():
        assert diagnose(tcp, options) == expected
