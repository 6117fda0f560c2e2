"""Declared nodes: `--node` flags and `[[node]]` tables in `bakeplan.toml` (or $BAKEPLAN_NODES, `--nodes-file`)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from bakeplan.bake.units import SizeError, ram_in_bytes
from bakeplan.errors import BakeplanError, UsageError
from bakeplan.nodes.model import ASSUMED, DECLARED, Node
from bakeplan.platforms import PLATFORM_SPEC, normalize_platform


def parse_size(text: str, where: str = "") -> int:
    """`8g`, `512m`, `2GiB`, `1024` (bytes) -> bytes: docker's memory sizes (binary multiples), as `resources.memory`."""
    try:
        return ram_in_bytes(text.strip())
    except SizeError as error:
        prefix = f"{where}: " if where else ""
        raise BakeplanError(f"{prefix}bad memory size {text!r}: {error}", hint="Use a number with k, m, g or t, e.g. memory=8g.") from None


def parse_node_spec(text: str) -> Node:
    """Parse a `--node` flag: `name=N,builder=B,platforms=P1+P2,slots=2,memory=8g,endpoint=E,host=H`.

    Anything wrong with it is a usage error (exit 2), as a malformed value of any other option.
    """
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"bad --node {text!r}: {part!r} is not KEY=VALUE", hint="For example --node name=arm,builder=arm,platforms=linux/arm64,slots=2.")
        fields[key.strip()] = value.strip()
    try:
        return node_from_mapping(fields, where=f"bad --node {text!r}")
    except UsageError:
        raise
    except BakeplanError as error:
        raise UsageError(error.message, hint=error.hint) from None


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
        if not isinstance(item, str) or (item.strip() and not PLATFORM_SPEC.match(item.strip())):
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
    size = value if isinstance(value, int) else parse_size(value, where)
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


def config_path(cwd: Path, explicit: str | None = None) -> Path:
    """The node config file: `--nodes-file`, else `bakeplan.toml` in `cwd`, else $BAKEPLAN_NODES."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BAKEPLAN_NODES")
    return Path(env) if env else cwd / "bakeplan.toml"
