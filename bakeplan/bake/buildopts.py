"""The checks of buildx's build options that `--print` still runs (bake.go `toBuildOpt`).

`--print` builds no image, yet buildx converts every resolved target to build
options before printing: the context path is cleaned (Go's path.Clean), and
platforms, shm-size, ulimits, annotations, secret sources, ssh sources and
output destinations are checked, with buildx's (and BuildKit's) messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from bakeplan import observed
from bakeplan.bake import schema
from bakeplan.bake.schema import TargetFields
from bakeplan.bake.units import SizeError, ram_in_bytes
from bakeplan.errors import BakeplanError


def go_clean(path: str) -> str:
    """Go's path.Clean."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


_GIT_URL = re.compile(r"^(git://|git@[^:]+:|ssh://|github\.com/|gitlab\.com/|bitbucket\.org/)|\.git(#.*)?$")


def is_remote_url(path: str) -> bool:
    """buildx's urlutil.IsRemoteURL (HTTP(S) URLs and git references)."""
    return path.startswith(("http://", "https://")) or bool(_GIT_URL.search(path))


def build_checks(target: TargetFields, env: Mapping[str, str], cwd: Path) -> None:
    """The parts of buildx's toBuildOpt that `--print` shows or fails on."""
    context = target.get("context", ".")
    if context == "-":
        raise BakeplanError("context from stdin not allowed in bake")
    if target.get("dockerfile") == "-":
        raise BakeplanError("dockerfile from stdin not allowed in bake")
    if not context.startswith("cwd://") and not is_remote_url(context):
        context = go_clean(context)
    if context.startswith("cwd://"):
        context = go_clean(context[len("cwd://") :])
    target["context"] = context
    _check_platforms(target.get("platforms") or [])
    _check_shm_size(target.get("shm-size"))
    _check_resources(target.get("resources"))
    _check_ulimits(target.get("ulimits") or [])
    _check_annotations(target.get("annotations") or [])
    _check_secrets(target.get("secret") or [], env, cwd)
    ssh = list(target.get("ssh") or [])
    if not ssh and is_git_ssh(context):
        ssh = [schema.SSH("default")]
    _check_ssh(ssh, env, cwd)
    if "output" in target:
        target["output"] = _check_outputs(target["output"], cwd)


_PLATFORM_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_PLATFORM_OS = re.compile(r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$")
_KNOWN_OS = frozenset(
    "aix android darwin macos dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos".split()
)
_KNOWN_ARCH = frozenset(
    "386 i386 amd64 x86_64 x86-64 amd64p32 arm armhf armel armbe arm64 aarch64 arm64be ppc64 ppc64le loong64 mips mipsle "
    "mips64 mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)
_PLATFORM_HINT = 'Platforms look like "linux/amd64" or "linux/arm/v7".'


def _check_platforms(platforms: Sequence[str]) -> None:
    """containerd's platforms.Parse, as buildx's platformutil.Parse calls it (commas split)."""
    for text in platforms:
        for spec in text.split(","):
            if spec.lower() != "local":
                _check_platform(spec)


def _check_platform(spec: str) -> None:
    parts = spec.split("/")
    if not _PLATFORM_OS.match(parts[0]):
        raise BakeplanError(
            f'"{parts[0]}" is an invalid OS component of "{spec}": OSAndVersion specifier component must match '
            f'"{_PLATFORM_OS.pattern}": invalid argument',
            hint=_PLATFORM_HINT,
        )
    for part in parts[1:]:
        if not _PLATFORM_PART.match(part):
            raise BakeplanError(
                f'"{part}" is an invalid component of "{spec}": platform specifier component must match '
                f'"^[A-Za-z0-9_.-]+$": invalid argument',
                hint=_PLATFORM_HINT,
            )
    if len(parts) == 1 and parts[0].lower() not in _KNOWN_OS and parts[0].lower() not in _KNOWN_ARCH:
        raise BakeplanError(f'"{spec}": unknown operating system or architecture: invalid argument', hint=_PLATFORM_HINT)
    if len(parts) > 3:
        raise BakeplanError(f'"{spec}": cannot parse platform specifier: invalid argument', hint=_PLATFORM_HINT)


def _check_shm_size(value: str | None) -> None:
    """docker's MemBytes (units.RAMInBytes) syntax."""
    if value is None:
        return
    try:
        ram_in_bytes(value)
    except SizeError:
        raise BakeplanError(f"invalid value {value} for membytes key shm-size", hint='Use a size like "2g" or "512m".') from None


def _check_resources(resources: schema.Resources | None) -> None:
    """buildx's resources conversion: memory and memory-swap (which may be -1, unlimited) are docker sizes."""
    for key, value in resources.values if resources is not None else ():
        if key in ("memory", "memory-swap") and isinstance(value, str) and not (key == "memory-swap" and value == "-1"):
            try:
                ram_in_bytes(value.strip())
            except SizeError as error:
                raise BakeplanError(f'invalid value "{value}" for resource {key}: {error}', hint='Use a size like "2g" or "512m".') from None


_ULIMITS = frozenset("core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack".split())


def _check_ulimits(values: Sequence[str]) -> None:
    """docker's units.ParseUlimit: NAME=SOFT[:HARD]."""
    for text in values:
        name, sep, limits = text.partition("=")
        if not sep:
            raise BakeplanError(f"invalid ulimit argument: {text}")
        if name not in _ULIMITS:
            raise BakeplanError(f"invalid ulimit type: {name}")
        soft_text, colon, hard_text = limits.partition(":")
        numbers: list[int] = []
        for part in (hard_text, soft_text) if colon else (soft_text,):  # go-units parses the hard limit first
            if not re.fullmatch(r"[+-]?\d+", part):
                raise BakeplanError(f'strconv.ParseInt: parsing "{part}": invalid syntax')
            numbers.insert(0, int(part))
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise BakeplanError(f"ulimit soft limit must be less than or equal to hard limit: {numbers[0]} > {numbers[1]}")


_ANNOTATION_TYPE = r"^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$"  # compiled (and cached by `re`) on first use: rarely needed
_ANNOTATION_KINDS = frozenset({"", "index", "index-descriptor", "manifest", "manifest-descriptor"})


def _check_annotations(values: Sequence[str]) -> None:
    """buildflags.ParseAnnotations: `[type[,type...]:]key=value`, types with optional [platform]."""
    for text in values:
        if text == "":
            continue
        key, sep, _ = text.partition("=")
        if not sep:
            raise BakeplanError(f'invalid annotation "{text}", expected key=value')
        kinds, colon, _name = key.partition(":")
        if not colon:
            continue
        for item in kinds.split(","):
            match = re.match(_ANNOTATION_TYPE, item)
            if match is None:
                raise BakeplanError(f'invalid annotation type "{item}", expected type and optional platform in square brackets')
            if match.group(1) not in _ANNOTATION_KINDS:
                raise BakeplanError(f'unknown annotation type "{match.group(1)}"')
            if match.group(2):
                _check_platform(match.group(2))


def _check_secrets(secrets: Sequence[schema.Secret], env: Mapping[str, str], cwd: Path) -> None:
    """buildkit's secretsprovider.NewStore: a secret without env reads a file that must exist."""
    for secret in secrets:
        if not secret.id:
            raise BakeplanError("secret missing ID")
        path = secret.src
        if not secret.env and not path:
            path = "" if secret.id in env else secret.id
        if path:
            observed.probe(cwd / path)  # the check below fails once the file is gone: a replay must look again
        if path and not (cwd / path).exists():
            raise BakeplanError(
                f"failed to stat {path}: stat {path}: no such file or directory",
                hint=f"buildx checks secret sources even for --print; create {path} or set the environment variable {secret.id}.",
            )


def is_git_ssh(url: str) -> bool:
    """buildflags.IsGitSSH: a git URL reached over ssh."""
    return url.startswith(("ssh://", "git@")) or bool(re.match(r"^[A-Za-z0-9_.-]+@[^:/]+:", url))


def _check_ssh(keys: Sequence[schema.SSH], env: Mapping[str, str], cwd: Path) -> None:
    """buildkit's NewSSHAgentProvider: the agent socket or key files must exist."""
    seen: set[str] = set()
    for key in keys:
        paths = [p for p in key.paths if p] or [env.get("SSH_AUTH_SOCK", "")]
        described = f"{{{key.id} [{' '.join(key.paths)}] false}}"
        if paths == [""]:
            raise BakeplanError(
                f"failed to convert agent config {described}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set",
                hint="buildx connects ssh sources even for --print; start an ssh agent or give key paths.",
            )
        for path in paths:
            full = cwd / path
            observed.probe(full)
            if not full.exists():
                raise BakeplanError(
                    f'failed to convert agent config {described}: failed to convert agent config for ID: "{ident_of(key)}": '
                    f"stat {path}: no such file or directory"
                )
            if full.is_file() and b"PRIVATE KEY" not in full.read_bytes()[:65536]:
                raise BakeplanError(
                    f'failed to convert agent config {described}: failed to convert agent config for ID: "{ident_of(key)}": '
                    f"failed to parse {path}: ssh: no key found"
                )
        ident = key.id or "default"
        if ident in seen:
            raise BakeplanError(f"invalid duplicate ID {ident}")
        seen.add(ident)


def ident_of(key: schema.SSH) -> str:
    """An ssh source's ID (buildkit's default when empty)."""
    return key.id or "default"


def _check_outputs(outputs: Sequence[schema.ExportEntry], cwd: Path) -> list[schema.ExportEntry]:
    """buildx's CreateExports: destinations checked; tar/oci without dest go to stdout (`-`)."""
    result: list[schema.ExportEntry] = []
    stdout_used = False
    for entry in outputs:
        attrs = dict(entry.attrs)
        kind, dest = entry.type, entry.dest
        supports_dir = kind == "local"
        supports_file = kind == "tar"
        if kind in ("oci", "docker"):
            tar = attrs.get("tar", "true")
            as_tar = tar not in ("0", "f", "F", "FALSE", "false", "False")
            supports_file, supports_dir = as_tar, not as_tar
        if supports_dir:
            if dest == "":
                raise BakeplanError(f"dest is required for {kind} exporter")
            if dest == "-":
                raise BakeplanError(f"dest cannot be stdout for {kind} exporter")
            observed.probe(cwd / dest)
            if (cwd / dest).is_file():
                raise BakeplanError(f"destination directory {dest} is a file")
        if supports_file:
            if dest == "" and kind != "docker":
                dest = "-"
                entry = schema.ExportEntry(entry.type, entry.attrs, dest)
            if dest == "-":
                if stdout_used:
                    raise BakeplanError("multiple outputs configured to write to stdout")
                stdout_used = True
            elif dest:
                observed.probe(cwd / dest)
                if (cwd / dest).is_dir():
                    raise BakeplanError(f"destination file {dest} is a directory")
        result.append(entry)
    return result
