"""Hand-over between nodes, against real buildkitd daemons (see the fixtures in conftest.py).

`bakeplan run` builds one job (target@platform) per `docker buildx bake`. A
child whose `target:` parent ran on the same node re-solves the parent there
(every parent step CACHED); a child on another node reads the parent's
exported result by digest: `oci-layout://RUN/handover/JOB@sha256:...` (the
default) or `docker-image://REPO@sha256:...` (`--handoff registry:REPO`).

What a daemon really did is read back from its build history (`buildctl debug
histories`): a build's frontend attributes name its `MARKER` build arg and its
`context:base`, so "the base was never built on that node" and "the child read
the hand-over, by that digest" are facts about the daemon, not about
bakeplan's own report.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil
import pytest

from tests.support import infra
from tests.support.clusters import Cluster, NodePair

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent

# The root of every chain: busybox plus /chain.txt naming it; BIG adds that many
# random bytes (a slow export), FAIL=all or FAIL=<platform> fails the RUN.
BASE_DOCKERFILE = infra.BUSYBOX_BASE + """
FROM busybox AS image
ARG TARGETPLATFORM
ARG MARKER
ARG BIG=0
ARG FAIL=none
RUN echo "$MARKER for $TARGETPLATFORM" > /chain.txt && \\
    if [ "$BIG" != 0 ]; then head -c "$BIG" /dev/urandom > /big; fi && \\
    if [ "$FAIL" = all ] || [ "$FAIL" = "$TARGETPLATFORM" ]; then exit 1; fi
"""

# A link of a chain: reads the named context `base`, appends its own line.
# Target `image` is the whole image (for children of its own), `out` just the text.
CHILD_DOCKERFILE = """\
FROM base AS image
ARG TARGETPLATFORM
ARG MARKER
ARG FAIL=none
RUN echo "$MARKER for $TARGETPLATFORM" >> /chain.txt && \\
    if [ "$FAIL" = all ] || [ "$FAIL" = "$TARGETPLATFORM" ]; then exit 1; fi

FROM scratch AS out
COPY --from=image /chain.txt /
"""


@pytest.fixture
def project(tmp_path: Path, busybox_base: tuple[Callable[[Path], Path], str]) -> Path:
    """A build context with busybox and the two Dockerfiles."""
    put_busybox, _ = busybox_base
    context = put_busybox(tmp_path / "project")
    (context / "Dockerfile.base").write_text(BASE_DOCKERFILE)
    (context / "Dockerfile.child").write_text(CHILD_DOCKERFILE)
    return context


@pytest.fixture
def marker() -> str:
    """A value no earlier build used, so nothing is cached from another test."""
    return str(time.time_ns())


# ---------------------------------------------------------------- running bakeplan


def node(name: str, builder: str, platforms: str, slots: int = 1) -> list[str]:
    """One declared node: `--node name=N,builder=B,platforms=P,slots=S`."""
    return ["--node", f"name={name},builder={builder},platforms={platforms},slots={slots}"]


def two_nodes(node_builders: dict[str, str]) -> list[str]:
    """The amd64 and arm64 daemons, each building only its claimed platform (and 386 on amd64)."""
    return [*node("amd64", node_builders["amd64"], "linux/amd64"), *node("arm64", node_builders["arm64"], "linux/arm64")]


def run_env(cli: infra.DockerCLI, cwd: Path, *, attestations: bool = False) -> dict[str, str]:
    """The cluster's DOCKER_CONFIG, a history of this project only, this checkout's bakeplan.

    The fixtures turn buildx's default provenance attestations off; `attestations` turns them
    back on (images are then indexes holding an attestation manifest, as users get them).
    """
    env = dict(cli.env, BAKEPLAN_CACHE_DIR=str(cwd / ".cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    if attestations:
        env.pop("BUILDX_NO_DEFAULT_ATTESTATIONS", None)
    return env


def bakeplan(cli: infra.DockerCLI, cwd: Path, *args: str, code: int = 0,
             attestations: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `bakeplan run --progress plain ARGS` for real and check its exit code."""
    done = subprocess.run([sys.executable, "-m", "bakeplan", "run", "--progress", "plain", *args], cwd=cwd,
                          env=run_env(cli, cwd, attestations=attestations), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write_bake(cwd: Path, text: str) -> None:
    (cwd / "docker-bake.hcl").write_text(text)


def run_dir(cwd: Path) -> Path:
    runs = cwd / ".bakeplan" / "runs"
    return runs / (runs / "latest").read_text().strip()


def latest_state(cwd: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads((run_dir(cwd) / "state.json").read_text())["steps"])


def log_of(steps: dict[str, dict[str, object]], step: str) -> str:
    return Path(str(steps[step]["log"])).read_text()


def handover_of(steps: dict[str, dict[str, object]], step: str) -> str:
    result = steps[step]["result"]
    assert isinstance(result, dict), steps[step]
    return str(result.get("handover", ""))


def digest_of(reference: str) -> str:
    """`oci-layout://DIR@sha256:X` or `docker-image://REPO@sha256:X` -> `sha256:X`."""
    assert "@" in reference, f"not a reference by digest: {reference!r}"
    digest = reference.rsplit("@", 1)[1]
    assert digest.startswith("sha256:") and len(digest) == 71, reference
    return digest


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def chain(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- what the daemons did


def builds(buildctl: str, daemon: infra.Daemon) -> list[dict[str, object]]:
    """Every build record the daemon's history keeps (frontend attributes, exporters, step counts)."""
    out = subprocess.run([buildctl, "--addr", daemon.addr, "debug", "histories", "--format", "json"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [json.loads(line).get("record", {}) for line in out.splitlines() if line.strip()]


def attrs(record: dict[str, object]) -> dict[str, str]:
    found = record.get("FrontendAttrs", {})
    assert isinstance(found, dict)
    return {str(k): str(v) for k, v in found.items()}


def built(records: Sequence[dict[str, object]], marker_arg: str) -> list[dict[str, str]]:
    """The frontend attributes of the builds whose MARKER build arg is `marker_arg`."""
    return [attrs(r) for r in records if attrs(r).get("build-arg:MARKER") == marker_arg]


def reads(records: Sequence[dict[str, object]], marker_arg: str) -> str:
    """What the one build with that MARKER read as its `base` context (`oci-layout://SESSION@DIGEST`, ...)."""
    (found,) = built(records, marker_arg)
    return found.get("context:base", "")


def cached_in_log(log: str, text: str) -> bool:
    """Whether the log's step whose name holds `text` (a RUN with its marker) is CACHED."""
    steps = [line.split()[0] for line in log.splitlines() if text in line and " RUN " in line]
    assert steps, f"no RUN step with {text!r} in:\n{log}"
    return all(f"{step} CACHED" in log for step in steps)


# ---------------------------------------------------------------- a. fan-out over two equal nodes


FAN_OUT = """
target "base" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/amd64"]
  args = { MARKER = "base-%(m)s" }
}
target "svc" {
  name = "svc${i}"
  matrix = { i = [1, 2, 3, 4, 5, 6, 7, 8] }
  dockerfile = "Dockerfile.child"
  target = "out"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64"]
  args = { MARKER = "svc${i}-%(m)s" }
  output = ["type=local,dest=out/svc${i}"]
}
group "default" { targets = ["svc"] }
"""


def test_services_on_two_equal_nodes_read_the_base_built_once(
    project: Path, amd64_pair: NodePair, marker: str
) -> None:
    write_bake(project, FAN_OUT % {"m": marker})
    pair = amd64_pair
    nodes = [arg for d in pair.daemons for arg in node(d.name, pair.builders[d.name], "linux/amd64")]
    bakeplan(pair.cli, project, *nodes)
    steps = latest_state(project)
    services = [f"svc{i}@linux/amd64" for i in range(1, 9)]
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert {steps[s]["node"] for s in services} == {"n1", "n2"}  # both nodes took services
    for i in range(1, 9):
        assert (project / "out" / f"svc{i}" / "chain.txt").read_text() == chain(
            f"base-{marker} for linux/amd64", f"svc{i}-{marker} for linux/amd64")
    home = str(steps["base@linux/amd64"]["node"])
    away = next(d for d in pair.daemons if d.name != home)
    handover = handover_of(steps, "base@linux/amd64")
    assert handover.startswith(f"oci-layout://{run_dir(project)}/handover/base_linux_amd64@sha256:"), handover
    assert not (run_dir(project) / "handover").exists()  # removed after a run that succeeded
    # The other node never built the base: its services read the exported layout, by its digest.
    records = builds(pair.buildctl, away)
    assert built(records, f"base-{marker}") == []
    away_services = [s for s in services if steps[s]["node"] == away.name]
    for service in away_services:
        read = reads(records, f"{service.split('@')[0]}-{marker}")
        assert read.startswith("oci-layout://") and read.endswith("@" + digest_of(handover)), read
        log = log_of(steps, service)
        assert f"base-{marker}" not in log and digest_of(handover) in log, log
    # On the base's own node the services re-solve the base: its RUN is CACHED there.
    records = builds(pair.buildctl, next(d for d in pair.daemons if d.name == home))
    for service in [s for s in services if steps[s]["node"] == home]:
        assert cached_in_log(log_of(steps, service), f"base-{marker} for linux/amd64"), service
        assert reads(records, f"{service.split('@')[0]}-{marker}").startswith("input:")  # the linked target itself


# ---------------------------------------------------------------- b. platforms and chains


MULTI_PLATFORM_PARENT = """
target "base" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/amd64", "linux/arm64"]
  args = { MARKER = "base-%(m)s" }
}
target "child" {
  name = "c${i}"
  matrix = { i = [1, 2] }
  dockerfile = "Dockerfile.child"
  target = "out"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = { MARKER = "c${i}-%(m)s" }
  output = ["type=local,dest=out/c${i}"]
}
group "default" { targets = ["child"] }
"""


def test_each_child_reads_its_own_platforms_parent_on_any_node(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], amd64_pair: NodePair, marker: str
) -> None:
    write_bake(project, MULTI_PLATFORM_PARENT % {"m": marker})
    # Two nodes build linux/amd64 (one slot each): the amd64 children spread over both.
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders),
             *node("n1", amd64_pair.builders["n1"], "linux/amd64"))
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    for i in (1, 2):
        for arch in ("amd64", "arm64"):
            assert (project / "out" / f"c{i}" / f"linux_{arch}" / "chain.txt").read_text() == chain(
                f"base-{marker} for linux/{arch}", f"c{i}-{marker} for linux/{arch}")
    daemons = {d.name: d for d in (*buildkit_nodes.daemons, amd64_pair.first)}
    assert steps["base@linux/arm64"]["node"] == "arm64"
    assert {steps[f"c{i}@linux/arm64"]["node"] for i in (1, 2)} == {"arm64"}
    amd_parent = str(steps["base@linux/amd64"]["node"])
    amd_children = {str(steps[f"c{i}@linux/amd64"]["node"]) for i in (1, 2)}
    assert amd_children == {"amd64", "n1"}, steps
    # The amd64 child on the other amd64 node read the amd64 parent's layout (its text says so, above);
    # only one node builds arm64, so the arm64 parent exported nothing.
    amd_digest = digest_of(handover_of(steps, "base@linux/amd64"))
    assert handover_of(steps, "base@linux/arm64") == ""
    (away,) = amd_children - {amd_parent}
    records = builds(buildkit_nodes.buildctl, daemons[away])
    assert built(records, f"base-{marker}") == []
    (child,) = [f"c{i}" for i in (1, 2) if steps[f"c{i}@linux/amd64"]["node"] == away]
    read = reads(records, f"{child}-{marker}")
    assert read.startswith("oci-layout://") and read.endswith("@" + amd_digest), read
    # The arm64 children re-solve their own platform's parent where it was built.
    for i in (1, 2):
        assert cached_in_log(log_of(steps, f"c{i}@linux/arm64"), f"base-{marker} for linux/arm64")


ONE_PLATFORM_PARENT = """
target "base" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/amd64"]
  args = { MARKER = "base-%(m)s" }
}
target "child" {
  dockerfile = "Dockerfile.child"
  target = "out"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64", "linux/386"]
  args = { MARKER = "child-%(m)s" }
  output = ["type=local,dest=out"]
}
"""


def test_a_single_platform_parent_serves_a_three_platform_child(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    write_bake(project, ONE_PLATFORM_PARENT % {"m": marker})
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child")
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    # linux/386 runs natively on the amd64 node; the arm64 node is declared for linux/arm64 only
    # (its daemon lists linux/386 too, but only as a host platform after the claimed one).
    assert {job: steps[job]["node"] for job in steps} == {
        "base@linux/amd64": "amd64", "child@linux/amd64": "amd64", "child@linux/386": "amd64",
        "child@linux/arm64": "arm64",
    }
    for platform in ("linux/amd64", "linux/arm64", "linux/386"):
        assert (project / "out" / platform.replace("/", "_") / "chain.txt").read_text() == chain(
            f"base-{marker} for linux/amd64", f"child-{marker} for {platform}")
    digest = digest_of(handover_of(steps, "base@linux/amd64"))
    arm = builds(buildkit_nodes.buildctl, buildkit_nodes.arm64)
    assert built(arm, f"base-{marker}") == []
    read = reads(arm, f"child-{marker}")
    assert read.startswith("oci-layout://") and read.endswith("@" + digest), read
    for job in ("child@linux/amd64", "child@linux/386"):  # the amd64 parent, re-solved from the cache
        assert cached_in_log(log_of(steps, job), f"base-{marker} for linux/amd64"), job


CHAIN = """
target "base" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/amd64"]
  args = { MARKER = "base-%(m)s" }
}
target "mid" {
  dockerfile = "Dockerfile.child"
  target = "image"
  contexts = { base = "target:base" }
  platforms = ["linux/arm64"]
  args = { MARKER = "mid-%(m)s" }
}
target "top" {
  name = "top-${arch}"
  matrix = { arch = ["amd64", "arm64"] }
  dockerfile = "Dockerfile.child"
  target = "out"
  contexts = { base = "target:mid" }
  platforms = ["linux/${arch}"]
  args = { MARKER = "top-${arch}-%(m)s" }
  output = ["type=local,dest=out/${arch}"]
}
group "default" { targets = ["top"] }
"""


def test_a_three_level_chain_crosses_nodes_twice(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    write_bake(project, CHAIN % {"m": marker})
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders))
    steps = latest_state(project)
    assert {job: (s["status"], s["node"]) for job, s in steps.items()} == {
        "base@linux/amd64": ("succeeded", "amd64"), "mid@linux/arm64": ("succeeded", "arm64"),
        "top-amd64@linux/amd64": ("succeeded", "amd64"), "top-arm64@linux/arm64": ("succeeded", "arm64"),
    }
    for arch in ("amd64", "arm64"):
        assert (project / "out" / arch / "chain.txt").read_text() == chain(
            f"base-{marker} for linux/amd64", f"mid-{marker} for linux/arm64", f"top-{arch}-{marker} for linux/{arch}")
    base = digest_of(handover_of(steps, "base@linux/amd64"))
    mid = digest_of(handover_of(steps, "mid@linux/arm64"))
    amd = builds(buildkit_nodes.buildctl, buildkit_nodes.amd64)
    arm = builds(buildkit_nodes.buildctl, buildkit_nodes.arm64)
    # amd64 -> arm64: mid reads the base's layout; the base is never built on arm64.
    assert built(arm, f"base-{marker}") == []
    mids = built(arm, f"mid-{marker}")  # mid's own job, and its re-solve inside top-arm64
    assert len(mids) == 2 and all(m["context:base"].startswith("oci-layout://") for m in mids), mids
    assert all(m["context:base"].endswith("@" + base) for m in mids), mids
    # arm64 -> amd64: top-amd64 reads mid's layout; mid is never built on amd64, nor the base again.
    assert built(amd, f"mid-{marker}") == []
    assert len(built(amd, f"base-{marker}")) == 1
    read = reads(amd, f"top-amd64-{marker}")
    assert read.startswith("oci-layout://") and read.endswith("@" + mid), read
    # top-arm64 re-solves mid (CACHED), which still reads the base by its hand-over.
    assert reads(arm, f"top-arm64-{marker}").startswith("input:")
    assert cached_in_log(log_of(steps, "top-arm64@linux/arm64"), f"mid-{marker} for linux/arm64")


# ---------------------------------------------------------------- c. failures and --resume


PARENT_AND_CHILD = """
target "base" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/amd64"]
  args = { MARKER = "base-%(m)s", FAIL = "%(base_fails)s", BIG = "%(big)s" }
}
target "child" {
  dockerfile = "Dockerfile.child"
  target = "out"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = { MARKER = "child-%(m)s", FAIL = "%(child_fails)s" }
  output = ["type=local,dest=out"]
}
"""


def parent_and_child(m: str, *, base_fails: str = "none", child_fails: str = "none", big: int = 0) -> str:
    return PARENT_AND_CHILD % {"m": m, "base_fails": base_fails, "child_fails": child_fails, "big": big}


def assert_child_outputs(project: Path, marker: str) -> None:
    for arch in ("amd64", "arm64"):
        assert (project / "out" / f"linux_{arch}" / "chain.txt").read_text() == chain(
            f"base-{marker} for linux/amd64", f"child-{marker} for linux/{arch}")


def test_a_failed_parent_skips_its_children_on_every_node_and_resume_builds_them(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    write_bake(project, parent_and_child(marker, base_fails="all"))
    done = bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child", code=1)
    first = latest_state(project)
    assert first["base@linux/amd64"]["status"] == "failed" and first["base@linux/amd64"]["exit_code"] == 1
    for job in ("child@linux/amd64", "child@linux/arm64"):
        assert (first[job]["status"], first[job]["reason"], first[job]["log"]) == (
            "skipped", "base@linux/amd64 failed", ""), first[job]
    assert "skipped (base@linux/amd64 failed)" in done.stdout  # the summary says why
    handover = run_dir(project) / "handover"
    assert not handover.exists() or all(p.name.endswith(".partial") for p in handover.iterdir())
    write_bake(project, parent_and_child(marker))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--resume", "child")
    second = latest_state(project)
    assert {s["status"] for s in second.values()} == {"succeeded"}
    assert {job: s["node"] for job, s in second.items()} == {
        "base@linux/amd64": "amd64", "child@linux/amd64": "amd64", "child@linux/arm64": "arm64"}
    assert_child_outputs(project, marker)
    assert not handover.exists()


def test_resume_after_a_child_failed_reads_the_parents_recorded_handover(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    write_bake(project, parent_and_child(marker, child_fails="linux/arm64"))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child", code=1)
    first = latest_state(project)
    assert {job: s["status"] for job, s in first.items()} == {
        "base@linux/amd64": "succeeded", "child@linux/amd64": "succeeded", "child@linux/arm64": "failed"}
    handover = handover_of(first, "base@linux/amd64")
    layout = Path(handover.removeprefix("oci-layout://").rsplit("@", 1)[0])
    assert (layout / "index.json").is_file()  # kept: the run did not succeed
    base_builds = len(built(builds(buildkit_nodes.buildctl, buildkit_nodes.amd64), f"base-{marker}"))
    write_bake(project, parent_and_child(marker))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--resume", "child")
    second = latest_state(project)
    assert {s["status"] for s in second.values()} == {"succeeded"}
    assert second["base@linux/amd64"] == first["base@linux/amd64"]  # not rerun, same hand-over
    assert second["child@linux/amd64"] == first["child@linux/amd64"]
    assert_child_outputs(project, marker)
    # The resumed child read the recorded layout by its digest; nothing built the base again.
    log = log_of(second, "child@linux/arm64")
    assert "OCI load from client" in log and digest_of(handover) in log, log
    arm = built(builds(buildkit_nodes.buildctl, buildkit_nodes.arm64), f"child-{marker}")
    assert len(arm) == 2 and all(a["context:base"].endswith("@" + digest_of(handover)) for a in arm), arm
    assert len(built(builds(buildkit_nodes.buildctl, buildkit_nodes.amd64), f"base-{marker}")) == base_builds
    assert not layout.exists()  # removed once the run succeeded


def test_resume_rebuilds_a_parent_whose_handover_was_removed(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    write_bake(project, parent_and_child(marker, child_fails="linux/arm64"))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child", code=1)
    # Hand-over copies can be large: someone cleans them up, and the child's node forgot the layers.
    shutil.rmtree(run_dir(project) / "handover")
    infra.prune_buildkitd(buildkit_nodes.arm64, buildkit_nodes.buildctl)
    write_bake(project, parent_and_child(marker))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--resume", "child")
    assert {s["status"] for s in latest_state(project).values()} == {"succeeded"}
    assert_child_outputs(project, marker)


# ---------------------------------------------------------------- d. Ctrl-C during an export


def test_ctrl_c_during_a_parents_export_leaves_nothing_to_read_and_resume_completes(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str
) -> None:
    # 32 MB of random bytes: exporting (compressing) the base's layout takes a second or two.
    write_bake(project, parent_and_child(marker, big=32_000_000))
    argv = [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", *two_nodes(node_builders), "child"]
    proc = subprocess.Popen(argv, cwd=project, env=run_env(buildkit_nodes.cli, project),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        children = _wait_for_export(proc, project, "base_linux_amd64")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [_cmdline(p) for p in alive]
    steps = latest_state(project)
    assert steps["base@linux/amd64"]["status"] == "cancelled" and steps["base@linux/amd64"]["result"] == {}
    assert {steps[job]["status"] for job in ("child@linux/amd64", "child@linux/arm64")} == {"pending"}
    handover = run_dir(project) / "handover"
    left = sorted(p.name for p in handover.iterdir()) if handover.exists() else []
    assert all(name.endswith(".partial") for name in left), left  # nothing a later run could take as finished
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--resume", "child")
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert_child_outputs(project, marker)
    assert not handover.exists()


def _wait_for_export(proc: subprocess.Popen[str], project: Path, job_file: str, timeout: float = 60) -> list[psutil.Process]:
    """Once the job's log says it is exporting layers: bakeplan's descendants."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            log = (run_dir(project) / "logs" / f"{job_file}.log").read_text()
        except OSError:
            log = ""
        if "exporting layers" in log:
            children = list(psutil.Process(proc.pid).children(recursive=True))
            assert any("bake" in _cmdline(p) for p in children), [_cmdline(p) for p in children]
            return children
        time.sleep(0.05)
    raise AssertionError(f"{job_file} never reached its export")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(arg) for arg in process.cmdline()]
    except psutil.Error:
        return []


# ---------------------------------------------------------------- e. hand-over through a registry


@pytest.mark.parametrize("attestations", [False, True], ids=["plain-image", "with-attestations"])
def test_registry_handoff_children_elsewhere_read_the_pushed_digest(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry, marker: str,
    attestations: bool,
) -> None:
    write_bake(project, parent_and_child(marker))
    repo = registry.ref(f"handover/m{marker}")
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--handoff", f"registry:{repo}", "child",
             attestations=attestations)
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert_child_outputs(project, marker)
    handover = handover_of(steps, "base@linux/amd64")
    assert handover == f"docker-image://{repo}@{digest_of(handover)}", handover
    assert not (run_dir(project) / "handover").exists()  # no layout on this machine at all
    # The arm64 child pulled exactly that digest; the amd64 child re-solved the base where it was built.
    assert reads(builds(buildkit_nodes.buildctl, buildkit_nodes.arm64), f"child-{marker}") == handover
    assert built(builds(buildkit_nodes.buildctl, buildkit_nodes.arm64), f"base-{marker}") == []
    assert cached_in_log(log_of(steps, "child@linux/amd64"), f"base-{marker} for linux/amd64")
    # The reference names the amd64 image manifest itself (inside the pushed index, with attestations).
    manifest = json.loads(buildkit_nodes.cli.run("imagetools", "inspect", "--raw", f"{repo}@{digest_of(handover)}").stdout)
    assert manifest["mediaType"] in (OCI_MANIFEST, DOCKER_MANIFEST), manifest
    config = json.loads(buildkit_nodes.cli.run("imagetools", "inspect", "--format", "{{json .Image}}",
                                               f"{repo}@{digest_of(handover)}").stdout)
    assert (config["os"], config["architecture"]) == ("linux", "amd64"), config
    result = steps["base@linux/amd64"]["result"]
    assert isinstance(result, dict)
    assert (result["digest"] != digest_of(handover)) == attestations  # the pushed index, around that manifest


# ---------------------------------------------------------------- f. a hand-over that cannot be written


WITH_OTHER = PARENT_AND_CHILD + """
target "other" {
  dockerfile = "Dockerfile.base"
  platforms = ["linux/arm64"]
  args = { MARKER = "other-%(m)s", FAIL = "%(base_fails)s" }
  output = ["type=local,dest=out-other"]
}
"""


def with_other(m: str, *, fail: str) -> str:
    return WITH_OTHER % {"m": m, "base_fails": fail, "child_fails": "none", "big": 0}


def _break_as_file(handover: Path) -> None:
    shutil.rmtree(handover, ignore_errors=True)
    handover.write_text("not a folder\n")


def _break_as_immutable(handover: Path) -> None:
    """A folder nobody may write into, root included (root ignores permission bits)."""
    shutil.rmtree(handover, ignore_errors=True)
    handover.mkdir()
    if subprocess.run(["chattr", "+i", str(handover)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not supported here")


@pytest.mark.parametrize("breaks", [
    pytest.param(_break_as_file, id="handover-is-a-file"),
    pytest.param(_break_as_immutable, id="handover-not-writable"),
])
def test_a_handover_that_cannot_be_written_names_the_job_and_the_remedy(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str,
    breaks: Callable[[Path], None],
) -> None:
    write_bake(project, with_other(marker, fail="all"))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child", "other", code=1)
    handover = run_dir(project) / "handover"
    breaks(handover)
    try:
        write_bake(project, with_other(marker, fail="none"))
        done = bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--resume", "child", "other", code=1)
    finally:
        subprocess.run(["chattr", "-i", str(handover)], capture_output=True, check=False)
    steps = latest_state(project)
    assert {job: s["status"] for job, s in steps.items()} == {
        "base@linux/amd64": "failed", "child@linux/amd64": "skipped", "child@linux/arm64": "skipped",
        "other@linux/arm64": "succeeded",  # finished in this run, recorded
    }
    assert (project / "out-other" / "chain.txt").read_text() == chain(f"other-{marker} for linux/arm64")
    # Said where the failure is shown (the job's log tail) and in the summary row: the job, the folder.
    said = [line for line in done.stdout.splitlines() if "hand-over" in line]
    assert said and all("base@linux/amd64" in line and str(handover) in line for line in said), done.stdout
    assert any(line.startswith("base@linux/amd64") for line in said), done.stdout
    assert "--run-dir" in done.stdout, done.stdout


@pytest.mark.parametrize("resume", [
    pytest.param(False, id="new-run"),
    pytest.param(True, id="resume"),
])
def test_an_unwritable_run_directory_is_one_clear_error(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str, resume: bool
) -> None:
    write_bake(project, with_other(marker, fail="all"))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "child", "other", code=1)
    locked = run_dir(project) if resume else run_dir(project).parent
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        write_bake(project, with_other(marker, fail="none"))
        done = subprocess.run(
            [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", *two_nodes(node_builders),
             *(["--resume"] if resume else []), "child", "other"],
            cwd=project, env=run_env(buildkit_nodes.cli, project), capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], capture_output=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert str(locked) in done.stderr and "--run-dir" in done.stderr, done.stderr


# ---------------------------------------------------------------- g. --push: the parent's own push is the hand-over


def test_with_push_a_pushed_parent_is_read_from_its_own_push_and_no_copy_is_made(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry, marker: str,
) -> None:
    repo = registry.ref(f"pushed/base{marker}")
    write_bake(project, parent_and_child(marker).replace(
        'platforms = ["linux/amd64"]\n', f'platforms = ["linux/amd64"]\n  tags = ["{repo}:v1"]\n', 1))
    bakeplan(buildkit_nodes.cli, project, *two_nodes(node_builders), "--push", "base", "child", attestations=True)
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert_child_outputs(project, marker)
    handover = handover_of(steps, "base@linux/amd64")
    assert handover == f"docker-image://{repo}@{digest_of(handover)}", handover  # the user's own push
    assert not (run_dir(project) / "handover").exists()  # no extra copy was written
    assert "type=oci" not in log_of(steps, "base@linux/amd64")
    assert reads(builds(buildkit_nodes.buildctl, buildkit_nodes.arm64), f"child-{marker}") == handover
    # The tag the user asked for is there, and the child read the amd64 manifest inside it.
    pushed = json.loads(buildkit_nodes.cli.run("imagetools", "inspect", "--raw", f"{repo}:v1").stdout)
    assert digest_of(handover) in [m["digest"] for m in pushed["manifests"]], pushed  # an index: attestations on


# ---------------------------------------------------------------- h. a bake file on stdin is read once


def test_a_bake_file_on_stdin_is_read_once_and_every_job_builds_from_it(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], marker: str,
) -> None:
    text = parent_and_child(marker)
    done = subprocess.run([sys.executable, "-m", "bakeplan", "run", "--progress", "plain", "-f", "-",
                           *two_nodes(node_builders), "child"], input=text, cwd=project,
                          env=run_env(buildkit_nodes.cli, project), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert not (project / "docker-bake.hcl").exists()
    assert_child_outputs(project, marker)
    steps = latest_state(project)
    for job in steps:  # stdin was read once, by bakeplan: each build read its own resolved definition
        name = job.replace("@", "_").replace("/", "_")
        assert f"reading {run_dir(project)}/jobs/{name}.json" in log_of(steps, job), log_of(steps, job)
    assert sorted(p.name for p in (run_dir(project) / "jobs").iterdir()) == [
        "base_linux_amd64.json", "child_linux_amd64.json", "child_linux_arm64.json"]
