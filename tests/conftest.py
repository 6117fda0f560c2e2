"""Shared fixtures: the pinned buildx plugin and real BuildKit daemons.

A test that needs a tool which is not installed skips with a reason naming it;
under CI=true it fails instead, because CI must run those tests for real.

Fixtures (all session-scoped). Helpers live in `tests/support/`: `infra.py` starts
daemons, builders and the registry, `clusters.py` holds the types the fixtures
return, `tools.py` finds tools and skips without them.

The fixtures:

- `buildx`: the docker CLI with the pinned buildx plugin, DOCKER_CONFIG=.tools/docker
  (no builders are created there; use `docker_cli` for anything that writes config).
- `each_buildx`: parametrized, an `infra.DockerCLI` with the pinned buildx, then
  one with the oldest buildx the README claims (BUILDX_OLDEST_VERSION, built
  into .tools/buildx-oldest by `make tools`), each in a DOCKER_CONFIG of its own.
- `corpus_dir`: ../shared/corpus/bake.
- `docker_cli`: an `infra.DockerCLI` (docker + pinned buildx) with its own
  DOCKER_CONFIG in a temp dir; every builder below is created there.
  `docker_cli.env` is the environment to run `docker buildx ...` with.
- `buildkit_nodes`: an `infra.Cluster` of two real rootful buildkitd daemons
  (OCI worker, runc, overlayfs), `cluster.amd64` claiming linux/amd64 and
  `cluster.arm64` claiming linux/arm64, each with its own --root and unix socket
  (`daemon.addr` = "unix:///.../buildkitd.sock"). Stopped at session end.
  BuildKit lists the host's own platforms after the claimed one, so the arm64
  node reports `linux/arm64, linux/amd64, ...` (claimed first); it runs the
  amd64 busybox natively (no emulator is installed). `cluster.prune()` drops
  both daemons' build caches; `cluster.buildctl` is the buildctl path.
- `two_node_builder`: name of a `remote`-driver buildx builder holding both
  nodes, in order amd64 then arm64 (nodes named `<builder>-amd64`, `<builder>-arm64`).
- `node_builders`: {"amd64": builder, "arm64": builder}: one single-node builder
  per daemon (what `bakeplan run` uses to place a job on one node).
- `amd64_pair`: a `NodePair` of two more daemons both claiming linux/amd64 with
  `max-parallelism = 1` (standing for two separate machines of one platform),
  with single-node builders `bp-n1` and `bp-n2`.
- `registry`: an `infra.Registry` (Debian's docker-registry, distribution 2.8)
  on 127.0.0.1:PORT (`registry.host`, `registry.ref("repo")`) with storage in a
  temp dir; the daemons' buildkitd.toml marks `registry_port` as plain HTTP.
- `busybox_base`: (context dir factory, Dockerfile prelude): `FROM scratch` +
  `COPY busybox`, so `RUN` steps work without pulling any image.
- `tls_node`: a `TLSNode`: one more daemon (linux/amd64) that also listens on
  `tcp://127.0.0.1:PORT` with mutual TLS (certificates made by the openssl CLI),
  and in a DOCKER_CONFIG of its own the remote builders `bp-tls` (right
  certificates), `bp-tls-badclient` (client certificate of another CA) and
  `bp-tls-badca` (trusts another CA).

Example::

    def test_x(docker_cli, two_node_builder):
        subprocess.run(docker_cli.argv("inspect", two_node_builder), env=docker_cli.env)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support import infra
from tests.support.clusters import Buildx, Cluster, NodePair, TLSNode
from tests.support.tools import SHARED, TOOLS, missing, pinned_versions


@pytest.fixture(scope="session")
def buildx() -> Buildx:
    """The docker CLI with the pinned buildx plugin, in an isolated DOCKER_CONFIG."""
    docker = shutil.which("docker")
    if docker is None:
        missing("the docker CLI")
    plugin = TOOLS / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        missing("the buildx plugin (.tools/docker/cli-plugins/docker-buildx)")
    env = dict(os.environ, DOCKER_CONFIG=str(TOOLS / "docker"), BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    return Buildx(docker=str(docker), env=env)


@pytest.fixture(scope="session", params=["pinned", "oldest"])
def each_buildx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> infra.DockerCLI:
    """The docker CLI with the pinned buildx, then with the oldest the README claims, each in a DOCKER_CONFIG of its own."""
    docker = _require("docker", "the docker CLI")
    plugin = TOOLS / "docker" / "cli-plugins" / "docker-buildx"
    if request.param == "oldest":
        plugin = TOOLS / "buildx-oldest" / "docker-buildx"
        version = pinned_versions()["BUILDX_OLDEST_VERSION"]
        stamp = plugin.parent / ".version"
        if not plugin.exists() or not stamp.exists() or stamp.read_text().strip() != version:
            missing(f"buildx {version}, the oldest the README claims (.tools/buildx-oldest/docker-buildx)")
    elif not plugin.exists():
        missing("the buildx plugin (.tools/docker/cli-plugins/docker-buildx)")
    return infra.isolated_docker_config(tmp_path_factory.mktemp(f"buildx-{request.param}"), docker, plugin)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared real-world bake corpus, or skip when ../shared is absent."""
    path = SHARED / "corpus" / "bake"
    if not path.is_dir():
        pytest.skip("../shared/corpus/bake is absent")
    return path


# --- real BuildKit -----------------------------------------------------------


def _require(name: str, what: str) -> str:
    path = infra.find_tool(name)
    if path is None:
        missing(what)
    assert path is not None
    return path


@pytest.fixture(scope="session")
def docker_cli(tmp_path_factory: pytest.TempPathFactory) -> infra.DockerCLI:
    """docker + the pinned buildx plugin with a throwaway DOCKER_CONFIG."""
    docker = _require("docker", "the docker CLI")
    plugin = TOOLS / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        missing("the buildx plugin (.tools/docker/cli-plugins/docker-buildx)")
    return infra.isolated_docker_config(tmp_path_factory.mktemp("dockercfg"), docker, plugin)


@pytest.fixture(scope="session")
def registry_port() -> int:
    """The port the test registry will listen on (the daemons trust it as plain HTTP)."""
    return infra.free_port()


@pytest.fixture(scope="session")
def buildkit_nodes(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: infra.DockerCLI, registry_port: int
) -> Iterator[Cluster]:
    """Two real buildkitd daemons: one claiming linux/amd64, one linux/arm64."""
    buildkitd = _require("buildkitd", "buildkitd (.tools/bin/buildkitd)")
    buildctl = _require("buildctl", "buildctl (.tools/bin/buildctl)")
    _require("runc", "runc (Debian package runc)")
    if os.geteuid() != 0:
        missing("root (rootful buildkitd)")
    # Short path: unix socket paths are limited to 108 bytes.
    workdir = tmp_path_factory.mktemp("bk")
    config = infra.buildkitd_config(insecure_registries=[f"127.0.0.1:{registry_port}"])
    started: list[infra.Daemon] = []
    try:
        for name, platform in (("amd64", "linux/amd64"), ("arm64", "linux/arm64")):
            started.append(
                infra.start_buildkitd(
                    workdir, name, [platform], buildkitd=buildkitd, buildctl=buildctl, config_text=config
                )
            )
        yield Cluster(amd64=started[0], arm64=started[1], buildctl=buildctl, cli=docker_cli)
    finally:
        for daemon in started:
            daemon.process.stop()


@pytest.fixture(scope="session")
def two_node_builder(buildkit_nodes: Cluster) -> Iterator[str]:
    """A remote-driver builder holding both nodes (amd64 first)."""
    name = infra.create_builder(buildkit_nodes.cli, "bp-two", buildkit_nodes.daemons)
    yield name
    infra.remove_builder(buildkit_nodes.cli, name)


@pytest.fixture(scope="session")
def node_builders(buildkit_nodes: Cluster) -> Iterator[dict[str, str]]:
    """One single-node remote builder per daemon: {"amd64": name, "arm64": name}."""
    builders = {d.name: infra.create_builder(buildkit_nodes.cli, f"bp-{d.name}", [d]) for d in buildkit_nodes.daemons}
    yield builders
    for name in builders.values():
        infra.remove_builder(buildkit_nodes.cli, name)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, registry_port: int) -> Iterator[infra.Registry]:
    """Debian's docker-registry on 127.0.0.1 with storage in a temp dir."""
    binary = _require("docker-registry", "docker-registry (Debian package docker-registry)")
    reg = infra.start_registry(tmp_path_factory.mktemp("registry"), binary, port=registry_port)
    yield reg
    reg.process.stop()


@pytest.fixture(scope="session")
def busybox_base() -> tuple[Callable[[Path], Path], str]:
    """(put busybox into a context dir, the Dockerfile prelude defining stage `busybox`)."""
    busybox = infra.find_busybox()
    if busybox is None:
        missing("busybox-static (Debian package busybox-static)")
    assert busybox is not None
    return (lambda directory: infra.busybox_context(directory, busybox), infra.BUSYBOX_BASE)


# --- two nodes of one kind ---------------------------------------------------


@pytest.fixture(scope="session")
def amd64_pair(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: infra.DockerCLI, registry_port: int
) -> Iterator[NodePair]:
    """Two more daemons `n1`, `n2` claiming linux/amd64 with `max-parallelism = 1`, each with a builder `bp-nN`."""
    buildkitd = _require("buildkitd", "buildkitd (.tools/bin/buildkitd)")
    buildctl = _require("buildctl", "buildctl (.tools/bin/buildctl)")
    _require("runc", "runc (Debian package runc)")
    if os.geteuid() != 0:
        missing("root (rootful buildkitd)")
    daemons = infra.start_same_platform_nodes(
        tmp_path_factory.mktemp("bkpair"), ["n1", "n2"], "linux/amd64", buildkitd=buildkitd, buildctl=buildctl,
        max_parallelism=1, insecure_registries=[f"127.0.0.1:{registry_port}"],
    )
    builders: dict[str, str] = {}
    try:
        for daemon in daemons:
            builders[daemon.name] = infra.create_builder(docker_cli, f"bp-{daemon.name}", [daemon])
        yield NodePair(first=daemons[0], second=daemons[1], builders=builders, buildctl=buildctl, cli=docker_cli)
    finally:
        for name in builders.values():
            infra.remove_builder(docker_cli, name)
        for daemon in daemons:
            daemon.process.stop()


# --- a node over TCP with mutual TLS -----------------------------------------


@pytest.fixture(scope="session")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSNode]:
    """A buildkitd (linux/amd64) on 127.0.0.1 with test-made certificates; builders bp-tls, bp-tls-badclient, bp-tls-badca."""
    openssl = _require("openssl", "the openssl CLI (Debian package openssl)")
    buildkitd = _require("buildkitd", "buildkitd (.tools/bin/buildkitd)")
    buildctl = _require("buildctl", "buildctl (.tools/bin/buildctl)")
    docker = _require("docker", "the docker CLI")
    _require("runc", "runc (Debian package runc)")
    if os.geteuid() != 0:
        missing("root (rootful buildkitd)")
    plugin = TOOLS / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        missing("the buildx plugin (.tools/docker/cli-plugins/docker-buildx)")
    workdir = tmp_path_factory.mktemp("bktls")  # short: unix socket paths are limited to 108 bytes
    files = infra.tls_certificates(workdir / "certs", openssl=openssl)
    other_ca = infra.make_ca(workdir / "other", "other-ca", openssl=openssl)
    stranger = infra.issue_certificate(other_ca, workdir / "other", "stranger", usage="client", openssl=openssl)
    cli = infra.isolated_docker_config(workdir, docker, plugin)
    cli = replace(cli, env={**cli.env, "DOCKER_HOST": f"unix://{workdir}/no-docker.sock"})
    daemon = infra.start_buildkitd(workdir, "tls", ["linux/amd64"], buildkitd=buildkitd, buildctl=buildctl,
                                   tls=files.server)
    try:
        good = infra.create_tls_builder(cli, "bp-tls", daemon, files.client)
        bad_client = infra.create_tls_builder(cli, "bp-tls-badclient", daemon, stranger, ca=files.ca.cert,
                                              bootstrap=False)
        bad_ca = infra.create_tls_builder(cli, "bp-tls-badca", daemon, files.client, ca=other_ca.cert, bootstrap=False)
        yield TLSNode(daemon=daemon, files=files, other_ca=other_ca, stranger=stranger, cli=cli, good=good,
                      bad_client=bad_client, bad_ca=bad_ca)
    finally:
        daemon.process.stop()
