"""The one place that talks to `docker buildx` outside a build: checks, builders, `--print`.

- `check_docker`, `check_builders`, `check_current_builder`: fail early, once,
  saying what to install or start, instead of every job failing on its own.
- `find_nodes`: the nodes to plan on; a `remote`-driver node inside a
  multi-node builder gets a single-node builder `bakeplan-<builder>-<node>` on
  the same endpoint, because buildx sends a platform to the first node of a
  multi-node builder that lists it, so only a builder of its own reaches it.
- `load_with_buildx`: resolve through real buildx's `--print` (a fallback and
  a test oracle).

Every call is an argument list with a timeout; a missing CLI or a hang is one
clear `ToolError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bakeplan import nodes as nd
from bakeplan.bake.model import BakeRequest, BakeResult, Target
from bakeplan.cache import sanitize_tag
from bakeplan.endpoint import diagnose
from bakeplan.errors import BakeplanError, ToolError
from bakeplan.nodes import Node
from bakeplan.platforms import normalize_platform, platform_text
from bakeplan.record import replace


def check_docker(docker: str, env: Mapping[str, str] | None = None) -> None:
    """Fail early, saying what to install, when the docker CLI is missing (the plugin: `check_builders`)."""
    path = (env or os.environ).get("PATH")
    if shutil.which(docker, path=path) is None:
        raise ToolError(f"the docker CLI ({docker}) was not found",
                        hint="Install the docker CLI (docker-ce-cli or docker.io) with the buildx plugin.")


def check_builders(docker: str, builders: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Fail early when the buildx plugin is missing or a builder is unknown or unreachable (checked concurrently)."""
    names = list(dict.fromkeys(builders))
    with ThreadPoolExecutor(max_workers=min(8, len(names) + 1)) as pool:
        version = pool.submit(_quiet, [docker, "buildx", "version"], env)
        problems = list(pool.map(lambda name: _unreachable(name, docker, env), names))
    if version.result().returncode != 0:
        raise ToolError("the docker buildx plugin is not installed",
                        hint="Install docker-buildx-plugin (or put docker-buildx in ~/.docker/cli-plugins).")
    for builder, problem in zip(names, problems):
        if problem.startswith("TLS "):
            raise ToolError(f"builder {builder!r} is unreachable: {problem}",
                            hint="Fix its cacert, cert, key or servername (`docker buildx create --driver-opt ...`), "
                                 "or pick nodes with --node/--builder.")
        if problem:
            raise ToolError(f"builder {builder!r} is unknown or unreachable: {problem}",
                            hint="Create it with `docker buildx create` (or start its buildkitd), or pick nodes with --node/--builder.")


def _unreachable(builder: str, docker: str, env: Mapping[str, str] | None) -> str:
    """Why a builder cannot be reached ('' when `inspect --bootstrap` succeeds).

    A remote node that fails its TLS handshake or refuses the connection is
    `diagnosed` first: that says why at once, where the bootstrap would wait
    20 s and say `context deadline exceeded`.
    """
    problem = _diagnosis(builder, docker, env)
    if problem:
        return problem
    done = _quiet([docker, "buildx", "inspect", "--bootstrap", builder], env)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["unreachable"])[-1]


def _diagnosis(builder: str, docker: str, env: Mapping[str, str] | None, timeout: float = 120) -> str:
    """What `diagnosed` finds wrong with a builder's inactive remote nodes ('' when nothing: unknown, fine, or not remote)."""
    listed = _quiet([docker, "buildx", "inspect", builder], env, timeout=timeout)
    if listed.returncode != 0:
        return ""
    return next((d.error for n in nd.parse_inspect(listed.stdout) if (d := diagnosed(n)) is not n), "")


def _quiet(argv: Sequence[str], env: Mapping[str, str] | None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`_docker`, with a CLI that cannot run reported as exit 127 and its reason on stderr."""
    try:
        return _docker(list(argv), env=env, timeout=timeout)
    except ToolError as error:
        return subprocess.CompletedProcess(list(argv), 127, "", error.message)


def check_current_builder(nodes: Sequence[Node], *, docker: str = "docker") -> None:
    """A node without a builder of its own runs on buildx's current builder: fail early, once, if that is broken.

    Without this, every job fails on its own with the same daemon error
    (discovery falls back to this machine when no buildx builder is usable).
    """
    if not any(n.excluded is None and not n.builder for n in nodes):
        return
    try:
        done = _docker([docker, "buildx", "inspect", "--bootstrap"])
    except ToolError as error:
        raise ToolError(f"the current buildx builder cannot be reached: {error.message}",
                        hint="Start the docker daemon, pick a builder (--builder), or declare nodes with --node.") from error
    error_line = next((line.split(":", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("Error:")), "")
    if done.returncode != 0 or error_line:
        last = error_line or (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"the current buildx builder is not usable: {last}",
                        hint="Start the docker daemon, pick a builder (--builder), or declare nodes with --node.")


def find_nodes(declared_specs: Sequence[str], nodes_file: str | None, builder: str | None, *, create: bool) -> tuple[Node, ...]:
    """Declared nodes, else buildx's; remote nodes in multi-node builders get a builder of their own.

    `--builder` chooses buildx discovery over a nodes file; with `--node` flags
    as well it is ambiguous, and silently ignoring one of them would plan on
    nodes the user did not mean.
    """
    if builder and declared_specs:
        raise BakeplanError("--builder and --node both choose the nodes", hint="Use one of them.")
    declared = () if builder else nd.declared_nodes(Path.cwd(), declared_specs, nodes_file)
    return tuple(_own_builder(n, create=create) for n in nd.discover(declared, builder=builder))


def _own_builder(node: Node, *, create: bool) -> Node:
    """A remote node of a multi-node builder, made usable through a single-node builder on its endpoint."""
    if not node.shared or node.driver != "remote":
        return node
    name = sanitize_tag(f"bakeplan-{node.name}".replace("/", "-"))
    if create:
        ensure_remote_builder(name, node.endpoint, options=node.driver_opts)
    return replace(node, builder=name, excluded=None, shared=False)


def _docker(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a short docker CLI command (the one way this module runs one); a missing CLI or a hang is one clear ToolError."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=None if env is None else dict(env),
                              timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise ToolError(f"{argv[0]} not found", hint="Install the docker CLI with the buildx plugin.") from error
    except subprocess.TimeoutExpired as error:
        raise ToolError(f"`{' '.join(argv)}` did not answer in {timeout:.0f} s",
                        hint="Check that the builder's endpoint is reachable.") from error
    except OSError as error:
        raise ToolError(f"cannot run {argv[0]}: {error.strerror or error}") from error


def ensure_remote_builder(name: str, endpoint: str, *, options: Sequence[tuple[str, str]] = (),
                          docker: str = "docker") -> None:
    """Create a single-node `remote` builder NAME for ENDPOINT with the node's driver options unless it exists.

    The options carry a TLS endpoint's `cacert`, `cert`, `key` and `servername`:
    without them the new builder could not connect. An existing builder NAME
    (bakeplan's own) on another endpoint or with other options, such as one
    made before the node's certificates changed, is made again.
    """
    found = _docker([docker, "buildx", "inspect", name])
    if found.returncode == 0:
        if [(n.endpoint, n.driver_opts) for n in nd.parse_inspect(found.stdout)] == [(endpoint, tuple(sorted(options)))]:
            return
        _docker([docker, "buildx", "rm", name])
    driver_opts = [arg for key, value in options for arg in ("--driver-opt", driver_opt_arg(f"{key}={value}"))]
    done = _docker([docker, "buildx", "create", "--name", name, "--driver", "remote", *driver_opts, endpoint])
    if done.returncode != 0:
        raise ToolError(f"cannot create builder {name} for {endpoint}: {done.stderr.strip()}",
                        hint="Create one builder per node yourself, or declare nodes with --node.")


def driver_opt_arg(text: str) -> str:
    """One field as buildx reads `--driver-opt` (CSV, builder/builder.go csvToMap): quoted when it holds `,` or `"`."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def load_with_buildx(request: BakeRequest) -> BakeResult:
    """Resolve through real buildx's `--print` (no matrix values; a fallback and test oracle)."""
    from bakeplan.bake.model import BakeResult
    argv = ["docker", "buildx", "bake", "--print"]
    for name in request.files or ():
        argv += ["-f", name]
    for item in request.sets:
        argv += ["--set", item]
    for item in request.vars:
        argv += ["--var", item]
    argv += list(request.names)
    # The request's environment is the one bake variables come from (empty: ours).
    done = _docker(argv, cwd=request.cwd, env=request.env or None)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"docker buildx bake --print failed: {last}")
    data = json.loads(done.stdout)
    groups = {name: tuple(g.get("targets", ())) for name, g in data.get("group", {}).items()}
    targets = {name: Target(name=name, fields=fields, block=name) for name, fields in data.get("target", {}).items()}
    files = tuple(Path(f) for f in request.files or ())
    return BakeResult(groups=groups, targets=targets, files=files, requested=tuple(request.names) or ("default",))


# ---------------------------------------------------------------- discovery


def _buildx(args: Sequence[str], docker: str, env: Mapping[str, str] | None) -> str:
    """stdout of `docker buildx ARGS`; ToolError when docker or buildx is missing or fails."""
    argv = [docker, "buildx", *args]
    done = _docker(argv, env=env, timeout=60)
    if done.returncode != 0:
        if not _has_buildx_plugin(docker, env):
            raise ToolError("the docker buildx plugin is not installed",
                            hint="Install it (docker-buildx in $DOCKER_CONFIG/cli-plugins or ~/.docker/cli-plugins), "
                                 "or declare nodes with --node.")
        message = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "failed")
        raise ToolError(f"`{' '.join(argv)}`: {message}", hint="Create a builder (docker buildx create), or declare nodes with --node.")
    return done.stdout


def _has_buildx_plugin(docker: str, env: Mapping[str, str] | None) -> bool:
    """Whether `docker buildx version` works: without the plugin docker answers `buildx ...` with a bare usage error."""
    return _quiet([docker, "buildx", "version"], env, timeout=60).returncode == 0


def diagnosed(node: nd.BuilderNode) -> nd.BuilderNode:
    """A remote node buildx calls `inactive`, with why when connecting to it ourselves tells (a TLS problem, a refused connect).

    buildx hides the reason (driver/remote/driver.go `Info`), and a build there
    would only say `context deadline exceeded` after 20 s.
    """
    if node.driver != "remote" or node.status != "inactive" or node.error:
        return node
    reason = diagnose(node.endpoint, dict(node.driver_opts))
    return replace(node, error=reason) if reason else node


def buildx_nodes(builder: str | None = None, *, docker: str = "docker", env: Mapping[str, str] | None = None) -> tuple[nd.BuilderNode, ...]:
    """Every builder's nodes (`ls --format json`), refined by `inspect` for the `*` marks; one builder if named.

    An inactive remote node is `diagnosed`: its exclusion then says why.
    """
    names = [builder] if builder else list(dict.fromkeys(b.builder for b in nd.parse_ls_json(_buildx(["ls", "--format", "json"], docker, env))))

    def inspect(name: str) -> Sequence[nd.BuilderNode]:
        try:
            return tuple(map(diagnosed, nd.parse_inspect(_buildx(["inspect", name], docker, env))))
        except ToolError as error:
            return (nd.BuilderNode(name, "", "", "", "error", (), 0, error=error.message),)

    # One `docker buildx inspect` per builder, concurrently: each is a docker CLI start
    # and a daemon round trip, and a slow remote builder should not delay the others.
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
        return tuple(node for nodes in pool.map(inspect, names) for node in nodes)


# ---------------------------------------------------------------- registry


def platform_manifest(reference: str, platform: str | None, *, builder: str | None = None,
                      docker: str = "docker", env: Mapping[str, str] | None = None) -> str:
    """The digest of the image manifest for `platform` inside the index `reference` (`imagetools inspect --raw`).

    A pushed build with attestations is an index; a child that builds for
    another platform than its single-platform parent must name the parent's
    manifest itself, or BuildKit finds no image for its platform there.
    """
    argv = [docker, "buildx", "imagetools", "inspect", "--raw", *(["--builder", builder] if builder else []), reference]
    done = _docker(argv, env=env)
    try:
        index = json.loads(done.stdout) if done.returncode == 0 else {}
        manifests = [m for m in index.get("manifests", []) if (m.get("platform") or {}).get("os") != "unknown"]
    except (ValueError, AttributeError) as error:
        raise ToolError(f"cannot read the index {reference}: {error}") from error
    if not manifests:
        last = (done.stderr.strip().splitlines() or ["no image manifest in it"])[-1]
        raise ToolError(f"cannot read the index {reference}: {last}",
                        hint="Check that this machine can reach the hand-over registry.")
    wanted = normalize_platform(platform) if platform else None
    for manifest in manifests:
        if wanted is None or normalize_platform(platform_text(manifest.get("platform") or {})) == wanted:
            return str(manifest["digest"])
    return str(manifests[0]["digest"])


# ---------------------------------------------------------------- liveness


# What buildx prints (its last `ERROR: ...` line, cmd/buildx/main.go) when the node itself
# failed, not the build. Seen against remote-driver buildkitd nodes (buildx v0.36.1, tests/test_liveness_real.py):
# - a daemon killed mid-build: `failed to receive status: rpc error: code = Unavailable desc =
#   error reading from server: EOF` (gRPC's Unavailable, grpc-go codes.Unavailable);
# - a daemon gone before the build: `context deadline exceeded` after the remote driver's 20 s
#   `[internal] waiting for connection` (driver/remote/driver.go Bootstrap);
# - a builder removed: `no builder "NAME" found` (store/storeutil);
# - other drivers and endpoints: `connection refused`, `failed to dial`, and a unix socket that
#   is gone, `connect: no such file or directory` (net.Dial errors as grpc-go reports them).
# A build error that merely mentions such words (a RUN step's curl, a registry that refused a
# push) is reported inside `failed to solve: ...` without a gRPC Unavailable: not a node fault.
_ALWAYS_NODE = (re.compile(r"rpc error: code = Unavailable"), re.compile(r"(?:^|: )Unavailable: "))
_NODE_UNLESS_SOLVING = (
    re.compile(r"^context deadline exceeded$"),
    re.compile(r"connection refused"),
    re.compile(r"failed to dial"),
    re.compile(r"connect: no such file or directory"),
    re.compile(r"^no builder .* found$"),
    re.compile(r"Cannot connect to the Docker daemon"),
)


def node_fault(log_lines: Sequence[str]) -> str:
    """Why a failed `docker buildx` run says its node stopped answering ('' when it is a build error).

    Only buildx's own `ERROR:` lines count, the last one that names a node fault.
    """
    for line in reversed(log_lines):
        if not line.startswith("ERROR: "):
            continue
        message = line[len("ERROR: "):].strip()
        if any(p.search(message) for p in _ALWAYS_NODE):
            return message
        if "failed to solve" not in message and any(p.search(message) for p in _NODE_UNLESS_SOLVING):
            return message
    return ""


def probe_builder(builder: str | None, *, docker: str = "docker", env: Mapping[str, str] | None = None,
                  timeout: float = 8.0) -> str:
    """Whether a node answers: '' when `docker buildx inspect --bootstrap BUILDER` succeeds, else why not.

    The timeout is short on purpose: a dead remote node makes buildx wait 20 s before it says so.
    A remote node whose TLS handshake fails (or whose port refuses) is told at once by `diagnosed`.
    """
    problem = _diagnosis(builder, docker, env, timeout=timeout) if builder else ""
    if problem:
        return problem
    argv = [docker, "buildx", "inspect", "--bootstrap", *([builder] if builder else [])]
    try:
        done = _docker(argv, env=env, timeout=timeout)
    except ToolError as error:
        return error.message
    if done.returncode == 0:
        return ""
    lines = (done.stderr + done.stdout).strip().splitlines()
    return node_fault(lines) or (lines or ["failed"])[-1].removeprefix("ERROR: ")


# ---------------------------------------------------------------- build history


HISTORY_TIMEOUT = 5.0  # seconds per call: an estimate is not worth a slow plan


def history_ls(builder: str | None, *, docker: str = "docker", env: Mapping[str, str] | None = None,
               timeout: float = HISTORY_TIMEOUT) -> str:
    """A builder's completed build records, newest first (`history ls --format json`, one object a line)."""
    argv = [docker, "buildx", "history", "ls", "--format", "json", "--filter", "status=completed",
            *(["--builder", builder] if builder else [])]
    return _history_output(argv, env=env, timeout=timeout)


def history_inspect(builder: str | None, ref: str, *, cwd: Path, docker: str = "docker",
                    env: Mapping[str, str] | None = None, timeout: float = HISTORY_TIMEOUT) -> str:
    """One build record in detail (`history inspect REF --format json`).

    buildx reports the record's context relative to the working directory
    when it lies inside it (commands/history/inspect.go), so `cwd` is where
    relative contexts resolve from.
    """
    argv = [docker, "buildx", "history", "inspect", *(["--builder", builder] if builder else []), ref, "--format", "json"]
    return _history_output(argv, cwd=cwd, env=env, timeout=timeout)


def _history_output(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None,
                    timeout: float) -> str:
    done = _docker(argv, cwd=cwd, env=env, timeout=timeout)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"`{' '.join(argv)}`: {last}")
    return done.stdout
