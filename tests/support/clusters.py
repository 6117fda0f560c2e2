"""What the BuildKit fixtures in conftest.py hand to a test: the docker CLI, daemons, builders."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support import infra


@dataclass(frozen=True)
class Buildx:
    """How to run the pinned `docker buildx` plugin."""

    docker: str
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        """The argv of `docker buildx ARGS...`."""
        return [self.docker, "buildx", *args]


@dataclass(frozen=True)
class Cluster:
    """Two running buildkitd daemons and the tools to talk to them."""

    amd64: infra.Daemon
    arm64: infra.Daemon
    buildctl: str
    cli: infra.DockerCLI

    @property
    def daemons(self) -> tuple[infra.Daemon, ...]:
        """Both daemons, amd64 first."""
        return (self.amd64, self.arm64)

    def prune(self) -> None:
        """Drop every daemon's local build cache."""
        for daemon in self.daemons:
            infra.prune_buildkitd(daemon, self.buildctl)


@dataclass(frozen=True)
class NodePair:
    """Two buildkitd daemons both claiming linux/amd64, one build step at a time each (`max-parallelism = 1`)."""

    first: infra.Daemon
    second: infra.Daemon
    builders: dict[str, str]  # daemon name ("n1", "n2") -> its single-node remote builder
    buildctl: str
    cli: infra.DockerCLI

    @property
    def daemons(self) -> tuple[infra.Daemon, ...]:
        """Both daemons, n1 first."""
        return (self.first, self.second)


@dataclass(frozen=True)
class TLSNode:
    """A buildkitd on `tcp://127.0.0.1:PORT` with mutual TLS, and builders that reach it with good and bad certificates.

    `cli` has a DOCKER_CONFIG of its own holding only these builders (and a
    DOCKER_HOST that answers nowhere, so buildx's `default` builder is left
    out on every machine): discovery there sees exactly them.
    """

    daemon: infra.Daemon
    files: infra.TLSFiles  # the CA the daemon trusts, its server certificate, a client certificate
    other_ca: infra.Certificate  # a CA the daemon does not know
    stranger: infra.Certificate  # a client certificate signed by `other_ca`
    cli: infra.DockerCLI
    good: str  # the right CA and client certificate
    bad_client: str  # a client certificate signed by another CA: buildkitd refuses it
    bad_ca: str  # trusts another CA: the server's certificate is refused
