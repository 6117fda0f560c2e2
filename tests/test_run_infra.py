"""The real BuildKit fixtures work: daemons answer, builders place platforms on their node."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clusters import Cluster

pytestmark = pytest.mark.buildkit


def test_each_daemon_reports_its_claimed_platform_first(buildkit_nodes: Cluster) -> None:
    # BuildKit appends the host's own platforms after the claimed ones
    # (worker/base/worker.go Platforms), so the arm64 node also lists amd64.
    listed = {}
    for daemon in buildkit_nodes.daemons:
        done = subprocess.run(
            [buildkit_nodes.buildctl, "--addr", daemon.addr, "debug", "workers"],
            capture_output=True, text=True, check=True,
        )
        listed[daemon.name] = done.stdout.splitlines()[1].split()[1].split(",")
        assert listed[daemon.name][0] == daemon.platforms[0]
    assert "linux/arm64" not in listed["amd64"]


def test_two_node_builder_lists_both_nodes(buildkit_nodes: Cluster, two_node_builder: str) -> None:
    out = buildkit_nodes.cli.run("inspect", two_node_builder).stdout
    assert f"{two_node_builder}-amd64" in out
    assert f"{two_node_builder}-arm64" in out
    assert buildkit_nodes.arm64.addr in out


def test_run_step_on_busybox_base_builds_on_each_node(
    tmp_path: Path,
    buildkit_nodes: Cluster,
    two_node_builder: str,
    busybox_base: tuple[Callable[[Path], Path], str],
) -> None:
    put_busybox, prelude = busybox_base
    context = put_busybox(tmp_path / "ctx")
    (context / "Dockerfile").write_text(
        prelude + "FROM busybox\nARG TARGETPLATFORM\nRUN echo \"built for $TARGETPLATFORM\" > /out.txt\n"
        "FROM scratch\nCOPY --from=1 /out.txt /\n"
    )
    (context / "docker-bake.hcl").write_text(
        'target "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        '  output = ["type=local,dest=out"]\n}\n'
    )
    done = subprocess.run(
        buildkit_nodes.cli.argv("bake", "--builder", two_node_builder, "--progress", "plain", "app"),
        cwd=context, env=buildkit_nodes.cli.env, check=False, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for arch in ("amd64", "arm64"):
        assert (context / "out" / f"linux_{arch}" / "out.txt").read_text() == f"built for linux/{arch}\n"
