"""Platforms: normalisation, this machine's platform, and how a node builds a platform.

One home for what `os/arch[/variant]` text means:

- `normalize_platform`: containerd's normalizer (`platforms.Normalize`):
  `x86_64` -> `amd64`, `aarch64` -> `arm64`, `arm64/v8` -> `arm64`, `arm` -> `arm/v7`.
  Jobs, nodes, caches and CI runners compare platforms in this form.
- This machine's platform in its two forms, named apart:
  `buildx_local_platform` is what buildx prints (`BAKE_LOCAL_PLATFORM`:
  containerd's `platforms.Format(platforms.DefaultSpec())`, `linux/arm64/v8`
  on an arm64 Linux machine); `node_local_platform` is the node form
  (`linux/arm64`), normalised like every node's platforms.
- Compatibility (`platform_rank`): a node builds its native platforms
  exactly; compatible platforms run natively without emulation (arm/v7 and
  arm/v6 on arm64, arm/v6 on arm/v7, 386 on amd64, amd64/v2..v4 on amd64 when
  listed); anything else only where the node lists the platform (emulation).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Protocol

EXACT, COMPATIBLE, EMULATED = 0, 1, 2
RANK_NAMES = {EXACT: "exact", COMPATIBLE: "compatible", EMULATED: "emulated"}

# Architecture names containerd normalises (platforms/database.go normalizeArch), also uname's.
ARCH_ALIASES: Mapping[str, str] = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}

# `os/arch[/variant]`, as nodes and CI runners are declared.
PLATFORM_SPEC = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$")


def normalize_platform(platform: str) -> str:
    """Canonical `os/arch[/variant]` as containerd's normalizer: arm64/v8 -> arm64, x86_64 -> amd64."""
    parts = platform.strip().lower().split("/")
    parts[1:2] = [ARCH_ALIASES.get(parts[1], parts[1])] if len(parts) > 1 else []
    if len(parts) == 3 and (parts[1], parts[2]) in {("arm64", "v8"), ("amd64", "v1")}:
        parts = parts[:2]
    if len(parts) == 2 and parts[1] == "arm":
        parts.append("v7")
    return "/".join(parts)


def platform_text(value: object) -> str:
    """A platform from buildx or OCI JSON: a string or a platform object (`os`, `architecture`, `variant`)."""
    if isinstance(value, Mapping):
        parts = [str(value.get("os", "")), str(value.get("architecture", ""))]
        if value.get("variant"):
            parts.append(str(value["variant"]))
        return "/".join(parts)
    return str(value)


# ------------------------------------------------------------ this machine


def uname() -> tuple[str, str]:
    """(platform.system(), platform.machine()) of this machine; from `os.uname` where there is one (importing `platform` costs ~3 ms)."""
    if hasattr(os, "uname"):
        names = os.uname()
        return names.sysname, names.machine
    import platform

    return platform.system(), platform.machine()


def buildx_local_platform(*, _uname: tuple[str, str] | None = None) -> str:
    """containerd's platforms.Format(platforms.DefaultSpec()) for this machine: buildx's `BAKE_LOCAL_PLATFORM`.

    Go's DefaultSpec gives arm64 the variant v8 (cpuinfo), except on darwin.
    `_uname` is (system, machine) as Python's `platform` module names them (default: this machine's).
    """
    system, machine = _uname or uname()
    arch = ARCH_ALIASES.get(machine.lower(), machine.lower())
    system = system.lower() or "linux"
    if arch == "arm64" and system != "darwin":
        return f"{system}/arm64/v8"
    return f"{system}/{arch}"


def node_local_platform(*, _uname: tuple[str, str] | None = None) -> str:
    """This machine's platform in the node form (`linux/amd64`, `linux/arm64`): buildx's form, normalised."""
    return normalize_platform(buildx_local_platform(_uname=_uname))


# ------------------------------------------------------------ compatibility


class Builds(Protocol):
    """What `platform_rank` reads of a node: its platforms, native ones first."""

    @property
    def platforms(self) -> tuple[str, ...]: ...

    @property
    def native_platforms(self) -> tuple[str, ...]: ...


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


def platform_rank(node: Builds, platform: str | None) -> int | None:
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
