"""buildx builders as `docker buildx inspect` and `docker buildx ls --format json` show them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from bakeplan.platforms import normalize_platform, platform_text
from bakeplan.record import record

HOSTNAME_LABEL = "org.mobyproject.buildkit.worker.hostname"  # set by BuildKit's workers (worker/label)


@record
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
