"""Where jobs can run: buildx builder nodes, declared nodes, local capacity.

Sources, in the order `discover` merges them:

1. Declared nodes: `[[node]]` tables in `bakeplan.toml` and `--node` flags
   (`name=N,builder=B,platforms=linux/amd64+linux/arm64,slots=2,memory=8g`).
   When any node is declared, only declared nodes are used: build hosts and CI
   say exactly what they have.
2. Otherwise every buildx builder (`docker buildx ls --format json`, then
   `docker buildx inspect` for each, whose `*` marks a node's configured
   platforms; without marks the first platform BuildKit reports is the
   native one). A single-node builder is a node; nodes of multi-node
   builders are listed but left out, because buildx sends each platform to
   the first node that has it, so bakeplan cannot place a job on them.
   `--builder` restricts discovery to one builder.
3. Capacity. Declared `slots` and `memory` win. A buildx node runs on the
   host its BuildKit worker names (`org.mobyproject.buildkit.worker.hostname`
   in `docker buildx inspect`'s labels); nodes on one host share that host's
   slots (`host_pools`): four daemons on one 2-core machine have 2 slots
   between them, not 8. A host is this machine when the node's endpoint is
   local (a unix socket, loopback TCP) or its hostname is this machine's:
   its slots and memory are detected (psutil: usable cores after cgroup
   quota and CPU affinity, like ninja; total memory). BuildKit reports
   neither for other hosts: their slots are assumed to be this machine's
   core count, their memory unknown. A node's speed is learned from
   finished jobs (`bakeplan.history.History.speeds`), else assumed 1. Each
   figure keeps where it came from (`DECLARED`, `DETECTED`, `LEARNED`,
   `ASSUMED`) for `bakeplan nodes`.

Every candidate is kept in the list, with `excluded` saying why it is not
used (inactive, no platforms, ...), so `bakeplan nodes` can show it.

Platform compatibility (`platform_rank`): a node builds its native platforms
exactly; compatible platforms run natively without emulation (arm/v7 and
arm/v6 on arm64, arm/v6 on arm/v7, 386 on amd64, amd64/v2..v4 on amd64 when
listed); anything else only where the node lists the platform (emulation).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bakeplan.errors import BakeplanError, ToolError

EXACT, COMPATIBLE, EMULATED = 0, 1, 2
DECLARED, DETECTED, LEARNED, ASSUMED = "declared", "detected", "learned", "assumed"  # where a figure came from
HOSTNAME_LABEL = "org.mobyproject.buildkit.worker.hostname"  # set by BuildKit's workers (worker/label)
RANK_NAMES = {EXACT: "exact", COMPATIBLE: "compatible", EMULATED: "emulated"}


@dataclass(frozen=True, slots=True)
class Node:
    """A place that runs `docker buildx bake` invocations.

    `builder` is the buildx builder to pass as `--builder` so that the
    invocation lands on this node (a builder holding only this node; buildx
    sends a platform to the first node of a multi-node builder that has it).
    `platforms` lists native platforms first; `native` counts how many of them
    are native (configured `*` or BuildKit's first). `slots` is how many
    invocations may run at once. `memory` is in bytes (None: unknown).
    `excluded` is None for a usable node, otherwise the reason it is left out.
    `shared` marks a healthy node of a multi-node builder that no single-node
    builder reaches: buildx cannot send a job to it alone (`run` can give it
    a builder of its own).
    `host` names the machine the node runs on: nodes with the same host share
    its slots ('' : a machine of its own). `speed` is relative to the
    estimates (0.625: jobs take 1.6 times as long here). `slots_source`,
    `memory_source` and `speed_source` say where each figure came from.
    """

    name: str
    builder: str | None = None
    endpoint: str = ""
    platforms: tuple[str, ...] = ()
    native: int = 1
    slots: int = 1
    memory: int | None = None
    status: str = ""
    driver: str = ""
    source: str = "declared"  # declared | buildx | local
    excluded: str | None = None
    shared: bool = False
    host: str = ""
    speed: float = 1.0
    slots_source: str = DECLARED
    memory_source: str = ASSUMED  # as the default memory (None) is
    speed_source: str = ASSUMED
    driver_opts: tuple[tuple[str, str], ...] = ()  # buildx driver options (a remote node's TLS files), sorted

    @property
    def native_platforms(self) -> tuple[str, ...]:
        """The platforms this node builds without emulation or compatibility modes."""
        return self.platforms[: max(self.native, 1)]

    @property
    def default_platform(self) -> str | None:
        """The platform a job without platforms gets on this node."""
        return self.platforms[0] if self.platforms else None


# ------------------------------------------------------------ platforms


def normalize_platform(platform: str) -> str:
    """Canonical `os/arch[/variant]` as containerd's normalizer: arm64/v8 -> arm64, x86_64 -> amd64."""
    parts = platform.strip().lower().split("/")
    aliases = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}
    parts[1:2] = [aliases.get(parts[1], parts[1])] if len(parts) > 1 else []
    if len(parts) == 3 and (parts[1], parts[2]) in {("arm64", "v8"), ("amd64", "v1")}:
        parts = parts[:2]
    if len(parts) == 2 and parts[1] == "arm":
        parts.append("v7")
    return "/".join(parts)


# Platforms a native platform runs without emulation (BuildKit's archutil checks).
_COMPATIBLE: Mapping[str, tuple[str, ...]] = {
    "linux/arm64": ("linux/arm/v7", "linux/arm/v6", "linux/arm/v5"),
    "linux/arm/v7": ("linux/arm/v6", "linux/arm/v5"),
    "linux/arm/v6": ("linux/arm/v5",),
    "linux/amd64": ("linux/386",),
    "linux/amd64/v2": ("linux/amd64", "linux/386"),
    "linux/amd64/v3": ("linux/amd64/v2", "linux/amd64", "linux/386"),
    "linux/amd64/v4": ("linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"),
}


def platform_rank(node: Node, platform: str | None) -> int | None:
    """How `node` builds `platform`: EXACT, COMPATIBLE, EMULATED, or None when it cannot.

    A job without a platform (None) or for `local` (buildx: the node's own
    platform) builds exactly on any node. A non-Linux platform (darwin,
    windows, freebsd, ...) runs on no Linux node, so it can only be
    cross-compiled from a `--platform=$BUILDPLATFORM` stage: any node with a
    platform can do that (buildx sends such a platform to its first node).
    """
    if platform is None or platform.strip().lower() == "local":
        return EXACT
    want = normalize_platform(platform)
    if not want.startswith("linux/") and node.platforms and not any(p.startswith(want.split("/")[0] + "/") for p in node.platforms):
        return COMPATIBLE
    native = [normalize_platform(p) for p in node.native_platforms]
    if want in native:
        return EXACT
    if any(want in _COMPATIBLE.get(p, ()) for p in native):
        return COMPATIBLE
    if want in (normalize_platform(p) for p in node.platforms[len(native):]):
        # amd64 variants that BuildKit lists were detected on the CPU: no emulation.
        return COMPATIBLE if want.startswith("linux/amd64/") and "linux/amd64" in native else EMULATED
    return None


# ------------------------------------------------------------ local capacity


def usable_cores(*, _cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPU cores this process may use: affinity, then cgroup v2/v1 quota (as ninja does)."""
    import psutil

    try:
        cores = len(psutil.Process().cpu_affinity() or []) or (psutil.cpu_count() or 1)
    except (AttributeError, OSError):
        cores = psutil.cpu_count() or 1
    quota = _cgroup_quota(_cgroup_root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota(root: Path) -> float | None:
    """The CPU quota in cores from cgroup v2 `cpu.max` or v1 `cpu.cfs_*`, None when unlimited."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def total_memory() -> int:
    """Total memory in bytes, capped by the cgroup v2 limit when one is set."""
    import psutil

    memory = int(psutil.virtual_memory().total)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            memory = min(memory, int(limit))
    except (OSError, ValueError):
        pass
    return memory


@dataclass(frozen=True, slots=True)
class Machine:
    """The machine bakeplan runs on: its hostname, usable cores and memory (bytes)."""

    host: str
    slots: int
    memory: int | None


def this_machine() -> Machine:
    """This machine as psutil and the hostname see it."""
    import socket

    return Machine(socket.gethostname(), usable_cores(), total_memory())


_LOOPBACK = re.compile(r"^tcp://(127\.[0-9.]+|localhost|\[::1\])(:\d+)?(/.*)?$", re.IGNORECASE)


def on_machine(endpoint: str, host: str, machine: Machine) -> bool:
    """Whether a node at `endpoint` whose worker names `host` runs on `machine`.

    A unix socket or named pipe is local by nature, so is loopback TCP; else
    the worker's hostname decides (a remote daemon on this machine reports its name).
    """
    if endpoint.startswith(("unix://", "npipe://")) or _LOOPBACK.match(endpoint):
        return True
    return bool(host) and host == machine.host


def local_platform() -> str:
    """This machine's platform as `linux/amd64`-style text."""
    import platform as _platform

    machine = _platform.machine()
    system = _platform.system().lower() or "linux"
    return normalize_platform(f"{system}/{machine}")


# ------------------------------------------------------------ sizes and specs


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`8g`, `512m`, `2GiB`, `1024` (bytes) -> bytes (binary multiples)."""
    match = _SIZE.match(text)
    if not match:
        raise BakeplanError(f"bad memory size {text!r}", hint="Use a number with k, m, g or t, e.g. memory=8g.")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024**power)


def parse_node_spec(text: str) -> Node:
    """Parse a `--node` flag: `name=N,builder=B,platforms=P1+P2,slots=2,memory=8g,endpoint=E,host=H`."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise BakeplanError(f"bad --node {text!r}: {part!r} is not KEY=VALUE", hint="For example --node name=arm,builder=arm,platforms=linux/arm64,slots=2.")
        fields[key.strip()] = value.strip()
    return node_from_mapping(fields, where="--node")


def node_from_mapping(fields: Mapping[str, object], *, where: str) -> Node:
    """A declared node from `--node` fields or a `[[node]]` table.

    Without `slots` a node takes one job at a time, without `memory` its
    memory is unknown: both assumed. Declared nodes naming one `host` share
    its slots (the most any of them declares).
    """
    known = {"name", "builder", "platforms", "slots", "memory", "endpoint", "host"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise BakeplanError(f"{where}: unknown node field(s) {', '.join(unknown)}", hint=f"Known fields: {', '.join(sorted(known))}.")
    for key in ("name", "builder", "endpoint", "host"):
        if key in fields and not isinstance(fields[key], str):
            raise BakeplanError(f"{where}: {key} must be a string, not {fields[key]!r}", hint=f'For example {key} = "arm".')
    name = str(fields.get("name") or fields.get("builder") or "")
    if not name:
        raise BakeplanError(f"{where}: a node needs a name (or a builder)", hint="Add name=... to the node.")
    if not _NAME.match(name):
        # The name goes into tables, DOT and Mermaid labels, file names and builder names.
        raise BakeplanError(f"{where}: bad node name {name!r}", hint="Use letters, digits, '.', '_', '-' and '/'.")
    platforms = _platform_list(fields.get("platforms", ()), where)
    return Node(
        name=name,
        builder=str(fields["builder"]) if fields.get("builder") else None,
        endpoint=str(fields.get("endpoint", "")),
        platforms=tuple(dict.fromkeys(normalize_platform(p) for p in platforms)),
        native=max(1, len(platforms)),
        slots=_positive(fields.get("slots", 1), where),
        memory=_memory(fields.get("memory"), where),
        source="declared",
        excluded=None if platforms else "no platforms declared",
        host=str(fields.get("host", "")),
        slots_source=DECLARED if "slots" in fields else ASSUMED,
        memory_source=DECLARED if fields.get("memory") is not None else ASSUMED,
    )


_PLATFORM = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")


def _platform_list(raw: object, where: str) -> list[str]:
    """`platforms` as `P1+P2` / `P1 P2` text or a list of strings, each `os/arch[/variant]`."""
    if isinstance(raw, str):
        items: list[object] = list(re.split(r"[+ ,]", raw))
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise BakeplanError(f"{where}: platforms must be a list of platforms, not {raw!r}",
                            hint='For example platforms = ["linux/amd64", "linux/386"].')
    platforms = []
    for item in items:
        if not isinstance(item, str) or (item.strip() and not _PLATFORM.match(item.strip())):
            raise BakeplanError(f"{where}: bad platform {item!r}: expected OS/ARCH[/VARIANT]",
                                hint="For example linux/amd64, linux/arm64 or linux/arm/v7.")
        if item.strip():
            platforms.append(item.strip())
    return platforms


def _memory(value: object, where: str) -> int | None:
    """`memory` as bytes (an integer) or a size (`8g`); None when not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BakeplanError(f"{where}: bad memory size {value!r}", hint="Use a number with k, m, g or t, e.g. memory=8g.")
    size = value if isinstance(value, int) else parse_size(value)
    if size <= 0:
        raise BakeplanError(f"{where}: memory must be positive, not {value!r}", hint="Use a number with k, m, g or t, e.g. memory=8g.")
    return size


def _positive(value: object, where: str) -> int:
    # bool is an int in Python: `slots = true` is a mistake, not 1 slot.
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < 1:
        raise BakeplanError(f"{where}: slots must be a positive integer, not {value!r}", hint="For example slots=2.")
    return number


def load_config(path: Path, *, required: bool = False) -> tuple[Node, ...]:
    """Declared nodes from a `bakeplan.toml` (`[[node]]` tables); () when the file is absent (unless `required`)."""
    if not path.is_file():
        if required:
            raise BakeplanError(f"{path}: no such nodes file", hint="Check the --nodes-file path (or $BAKEPLAN_NODES).")
        return ()
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BakeplanError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})", hint="Save the file as UTF-8.") from error
    except tomllib.TOMLDecodeError as error:
        raise BakeplanError(_toml_message(path, str(error)), hint="Fix the TOML syntax.") from error
    except OSError as error:
        raise BakeplanError(f"{path}: {error.strerror}", hint="Check the --nodes-file path (or $BAKEPLAN_NODES).") from error
    unknown = sorted(set(data) - {"node"})
    if unknown:
        raise BakeplanError(f"{path}: unknown key(s) {', '.join(unknown)}", hint="Declare nodes as [[node]] tables.")
    tables = data.get("node", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise BakeplanError(f"{path}: `node` must be an array of tables ([[node]])", hint="Declare nodes as [[node]] tables.")
    return tuple(node_from_mapping(t, where=f"{path}: node {i + 1}") for i, t in enumerate(tables))


def _toml_message(path: Path, message: str) -> str:
    """tomllib's `... (at line L, column C)` as `path:L:C: ...`, like every other input error."""
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
    if match is None:
        return f"{path}: {message}"
    return f"{path}:{match.group(2)}:{match.group(3)}: {match.group(1)}"


def declared_nodes(cwd: Path, specs: Sequence[str], nodes_file: str | None) -> tuple[Node, ...]:
    """The declared nodes: `--node` flags when given (they replace the file), else the nodes file.

    Names must be unique: a plan that silently drops a declared node is worse than an error.
    """
    if specs:
        nodes = tuple(parse_node_spec(spec) for spec in specs)
    else:
        path = config_path(cwd, nodes_file)
        nodes = load_config(path, required=nodes_file is not None or bool(os.environ.get("BAKEPLAN_NODES")))
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            raise BakeplanError(f"node {node.name!r} is declared twice", hint="Give every node its own name.")
        seen.add(node.name)
    return nodes


# ------------------------------------------------------------ buildx output


@dataclass(frozen=True, slots=True)
class BuilderNode:
    """One node of a buildx builder as `docker buildx inspect` / `ls` show it."""

    builder: str
    name: str
    driver: str
    endpoint: str
    status: str  # running, inactive, stopped, error, ...
    platforms: tuple[str, ...]  # configured (`*`) first
    native: int  # how many leading platforms are configured (`*`), else 1
    error: str = ""
    builder_nodes: int = 1  # how many nodes the builder holds
    host: str = ""  # the worker's hostname label ('' : not reported)
    driver_opts: tuple[tuple[str, str], ...] = ()  # `Driver Options` (remote: cacert, cert, key, servername), sorted


def parse_inspect(text: str) -> tuple[BuilderNode, ...]:
    """Parse `docker buildx inspect` text: the builder and each node's endpoint, status, platforms.

    buildx prints `Key:<tab>value` lines (tabwriter-aligned); a builder that
    cannot load prints `Error:` before any `Nodes:`; a node that fails prints
    `Error:` instead of `Status:`. Indented lines are labels and GC policy:
    only the worker's hostname label is kept (` org.mobyproject.buildkit.worker.hostname:  vm`).
    """
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if line.startswith((" ", "\t")):
            if blocks and sep and key.strip() == HOSTNAME_LABEL:
                blocks[-1].setdefault("Hostname", value.strip())
            continue
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Nodes":
            blocks.append({})
        elif not blocks:
            header.setdefault(key, value)
        elif key == "Name" and blocks[-1]:
            blocks.append({"Name": value})  # the next node (buildx separates them by a blank line)
        elif key == "Name":
            blocks[-1]["Name"] = value
        else:
            blocks[-1].setdefault(key, value)
    nodes = [b for b in blocks if b.get("Name")]
    if not nodes and header.get("Error"):
        nodes = [{"Name": "", "Error": header["Error"]}]
    return tuple(_builder_node(header, b, len(nodes)) for b in nodes)


def _builder_node(header: Mapping[str, str], block: Mapping[str, str], count: int) -> BuilderNode:
    platforms, native = _parse_platforms(block.get("Platforms", ""))
    error = block.get("Error", "")
    return BuilderNode(
        builder=header.get("Name", ""), name=block.get("Name", ""), driver=header.get("Driver", ""),
        endpoint=block.get("Endpoint", ""), status="error" if error else block.get("Status", ""),
        platforms=platforms, native=native, error=error, builder_nodes=count, host=block.get("Hostname", ""),
        driver_opts=parse_driver_options(block.get("Driver Options", "")),
    )


def _parse_platforms(text: str) -> tuple[tuple[str, ...], int]:
    """`linux/arm/v7*, linux/arm64, ...` -> (platforms, configured first; how many are native).

    Native: the configured (`*`) ones plus the first one the worker reports.
    """
    items = [p.strip() for p in text.split(",") if p.strip()]
    starred = [normalize_platform(p.rstrip("*")) for p in items if p.endswith("*")]
    rest = [normalize_platform(p) for p in items if not p.endswith("*")]
    ordered = tuple(dict.fromkeys([*starred, *rest]))
    # BuildKit reports the worker's own platform first: native too, next to the configured ones.
    native = len(starred) + (1 if starred and rest and rest[0] not in starred else 0)
    return ordered, (max(1, native) if ordered else 0)


_DRIVER_OPTION = re.compile(r'([A-Za-z0-9_.-]+)="((?:[^"\\]|\\.)*)"')


def parse_driver_options(text: str) -> tuple[tuple[str, str], ...]:
    """`servername="h" cacert="/ca.pem"` (inspect's `Driver Options`, Go-quoted, in map order) -> sorted pairs."""
    pairs = []
    for key, quoted in _DRIVER_OPTION.findall(text):
        try:
            value = json.loads(f'"{quoted}"')  # Go's %q escapes, as far as they matter for paths and names
        except ValueError:
            value = quoted
        pairs.append((key, str(value)))
    return tuple(sorted(pairs))


def parse_ls_json(text: str) -> tuple[BuilderNode, ...]:
    """Parse `docker buildx ls --format json` (one JSON object per builder and line).

    This format has no `*` marks: a node's `Platforms` mixes configured and
    reported ones, so the first is taken as its native platform.
    """
    result: list[BuilderNode] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        raw_nodes = [n for n in entry.get("Nodes") or [] if n.get("Name")] or [{"Name": "", "Err": entry.get("Err", "")}]
        for raw in raw_nodes:
            error = str(raw.get("Err") or entry.get("Err") or "")
            platforms = tuple(dict.fromkeys(normalize_platform(platform_text(p)) for p in raw.get("Platforms") or []))
            result.append(BuilderNode(
                builder=str(entry.get("Name", "")), name=str(raw.get("Name", "")), driver=str(entry.get("Driver", "")),
                endpoint=str(raw.get("Endpoint", "")), status="error" if error else str(raw.get("Status", "")),
                platforms=platforms, native=1 if platforms else 0, error=error, builder_nodes=len(raw_nodes),
                host=str((raw.get("Labels") or {}).get(HOSTNAME_LABEL, "")),
                driver_opts=tuple(sorted((str(k), str(v)) for k, v in (raw.get("DriverOpts") or {}).items())),
            ))
    return tuple(result)


def platform_text(value: object) -> str:
    """A platform from buildx or OCI JSON: a string or a platform object (`os`, `architecture`, `variant`)."""
    if isinstance(value, Mapping):
        parts = [str(value.get("os", "")), str(value.get("architecture", ""))]
        if value.get("variant"):
            parts.append(str(value["variant"]))
        return "/".join(parts)
    return str(value)


def nodes_from_buildx(items: Sequence[BuilderNode], machine: Machine) -> tuple[Node, ...]:
    """Scheduling nodes from buildx builders, every candidate kept with why it is left out.

    A single-node builder is one node, addressed with `--builder`. A node in
    a multi-node builder cannot be addressed alone (buildx sends a platform
    to the first node that has it): it is listed, excluded, with the remedy
    (a single-node builder for its endpoint, or a declared node).
    Capacity: see `buildx_capacity`.
    """
    # Only a single-node builder that answers stands in for a multi-node builder's node on its endpoint.
    singles = {i.endpoint: i.builder for i in items
               if i.builder_nodes == 1 and not i.error and i.status != "inactive" and i.endpoint}
    out: list[Node] = []
    for item in items:
        reason = _exclusion(item, singles)
        name = item.builder if item.builder_nodes == 1 else f"{item.builder}/{item.name}"
        node = Node(name=name, builder=item.builder, endpoint=item.endpoint, platforms=item.platforms,
                    native=item.native, status=item.status, driver=item.driver,
                    source="buildx", excluded=reason, shared=reason == _unaddressable(item),
                    driver_opts=item.driver_opts)
        out.append(buildx_capacity(node, item.host, machine))
    return _unique(out)


def buildx_capacity(node: Node, host: str, machine: Machine) -> Node:
    """A buildx node's host, slots and memory: `machine`'s (detected) when it runs there.

    Elsewhere BuildKit reports no cores or memory: the slots are assumed to be
    `machine`'s core count and the memory is unknown (assumed: no limit).
    Either way the node shares its slots with every node on the same host.
    """
    if on_machine(node.endpoint, host, machine):
        return replace(node, host=machine.host, slots=machine.slots, memory=machine.memory,
                       slots_source=DETECTED, memory_source=DETECTED if machine.memory else ASSUMED)
    return replace(node, host=host, slots=machine.slots, memory=None, slots_source=ASSUMED, memory_source=ASSUMED)


def _exclusion(item: BuilderNode, singles: Mapping[str, str]) -> str | None:
    """Why a builder node is not used, or None."""
    if item.error:
        return f"error: {item.error}"
    if item.driver == "remote" and item.status == "inactive":
        return f"remote endpoint {item.endpoint} is not reachable (status inactive)"
    if not item.platforms:
        return f"status {item.status or 'unknown'}, no platforms known (try `docker buildx inspect --bootstrap {item.builder}`)"
    if item.builder_nodes > 1:
        owner = singles.get(item.endpoint)
        if owner:
            return f"in multi-node builder {item.builder}; used through single-node builder {owner}"
        return _unaddressable(item)
    if singles.get(item.endpoint, item.builder) != item.builder:
        return f"same endpoint as builder {singles[item.endpoint]}"
    return None


def _unaddressable(item: BuilderNode) -> str:
    """The reason a member of a multi-node builder with no builder of its own is left out."""
    return (f"in multi-node builder {item.builder}: buildx picks its first node per platform; "
            f"create a single-node builder for {item.endpoint or item.name}")


def discover(
    declared: Sequence[Node],
    *,
    builder: str | None = None,
    _buildx_nodes: Callable[[str | None], Sequence[BuilderNode]] | None = None,
    _machine: Machine | None = None,
) -> tuple[Node, ...]:
    """The candidate nodes: declared ones if any, else buildx's builders, else this machine.

    `_buildx_nodes` lists a builder's nodes (default: `bakeplan.buildx.buildx_nodes`);
    `_machine` is this machine (default: `this_machine()`).

    With an explicit `builder` there is no fallback to this machine: the user
    asked for that builder, and planning elsewhere would hide that it is unusable.
    """
    if declared:
        return _unique(declared)
    machine = _machine or this_machine()
    try:
        items = (_buildx_nodes or _default_buildx_nodes)(builder)
    except ToolError as error:
        items = ()
        reason = error.message
    else:
        reason = "no buildx builder has a usable node"
    nodes = nodes_from_buildx(items, machine)
    # A shared remote node becomes usable through a builder of its own (`run` makes one).
    if usable(nodes) or builder or any(n.shared and n.driver == "remote" for n in nodes):
        return nodes
    # Nothing usable from buildx: plan for this machine so `plan` still answers.
    local = Node(name="local", platforms=(local_platform(),), slots=machine.slots, memory=machine.memory,
                 source="local", status=f"fallback: {reason}", host=machine.host, slots_source=DETECTED,
                 memory_source=DETECTED if machine.memory else ASSUMED)
    return (*nodes, local)


def _default_buildx_nodes(builder: str | None) -> Sequence[BuilderNode]:
    from bakeplan.buildx import buildx_nodes  # the one module that runs `docker buildx`; it imports this one

    return buildx_nodes(builder)


def _unique(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """Nodes with a name already used are excluded (the first wins), in input order."""
    seen: set[str] = set()
    out = []
    for node in nodes:
        if node.name in seen and node.excluded is None:
            node = replace(node, excluded=f"duplicate name {node.name!r}")
        seen.add(node.name)
        out.append(node)
    return tuple(out)


def host_pools(nodes: Sequence[Node]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(pool index per node, slots per pool): nodes naming one host share a pool, others have their own.

    A pool holds the most slots any of its nodes has: one node alone may use
    the whole host, all of them together no more than that.
    """
    index: dict[str, int] = {}
    pools: list[int] = []
    sizes: list[int] = []
    for n, node in enumerate(nodes):
        key = node.host or f"\0{n}"  # no host: a pool of its own
        if key not in index:
            index[key] = len(sizes)
            sizes.append(0)
        pools.append(index[key])
        sizes[index[key]] = max(sizes[index[key]], node.slots)
    return tuple(pools), tuple(sizes)


def with_speeds(nodes: Sequence[Node], speeds: Mapping[str, float]) -> tuple[Node, ...]:
    """The nodes with the speeds learned for them (by node name); the others keep theirs."""
    return tuple(replace(n, speed=speeds[n.name], speed_source=LEARNED) if n.name in speeds else n for n in nodes)


def usable(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """The nodes that take jobs."""
    return tuple(node for node in nodes if node.excluded is None)


def config_path(cwd: Path, explicit: str | None = None) -> Path:
    """The node config file: `--nodes-file`, else `bakeplan.toml` in `cwd`, else $BAKEPLAN_NODES."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BAKEPLAN_NODES")
    return Path(env) if env else cwd / "bakeplan.toml"
