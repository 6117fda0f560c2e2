"""Finding and reading bake files the way buildx does (bake.ReadLocalFiles).

Without `-f`, buildx looks in the working directory for compose files and
then `docker-bake.json`, `docker-bake.hcl`, `docker-bake.override.json`,
`docker-bake.override.hcl`, skipping missing ones; `BUILDX_BAKE_FILE` (split on
`BUILDX_BAKE_FILE_SEPARATOR`, default `:`) replaces that lookup. With `-f`,
every file must exist.

As buildx's ParseFiles: `*.yml` / `*.yaml` files are compose files, `*.json` /
`*.hcl` are bake files, and any other name is a compose file when it loads as
one (bakeplan.bake.compose), a bake file otherwise. Compose targets come first;
HCL/JSON blocks of the same name merge into them.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan import observed
from bakeplan.bake.model import BakeRequest
from bakeplan.errors import BakeplanError
from bakeplan.fsutil import sha256, user_cache_dir, write_atomic
from bakeplan.record import record

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
BAKE_NAMES = ("docker-bake.json", "docker-bake.hcl", "docker-bake.override.json", "docker-bake.override.hcl")


@record
class BakeFile:
    """One bake file: the name diagnostics use (as given), its path, and its bytes."""

    name: str
    path: Path
    data: bytes


def is_compose_name(name: str) -> bool:
    """buildx treats *.yml / *.yaml as compose files."""
    return name.lower().endswith((".yml", ".yaml"))


def requested_names(request: BakeRequest) -> tuple[list[str], bool]:
    """The file names to read and whether they come from the default lookup."""
    if request.files:
        return list(request.files), False
    from_env = request.env.get("BUILDX_BAKE_FILE")
    if from_env:
        separator = request.env.get("BUILDX_BAKE_FILE_SEPARATOR") or ":"
        names = [part.strip() for part in from_env.split(separator) if part.strip()]
        return names, False
    return [*COMPOSE_NAMES, *BAKE_NAMES], True


def find_files(request: BakeRequest, *, _stdin: bytes | None = None) -> list[BakeFile]:
    """The bake files of a request, in load order; missing explicit files are errors."""
    names, default = requested_names(request)
    found: list[BakeFile] = []
    for name in names:
        if name == "-":
            data = _stdin if _stdin is not None else sys.stdin.buffer.read()
            found.append(BakeFile("-", Path("-"), data))
            continue
        path = request.cwd / name
        if default:
            observed.probe(path)  # a default name that appears later changes the result
        if not path.is_file():
            if default:
                continue
            if path.is_dir():
                raise BakeplanError(f"read {name}: is a directory", hint="Pass a bake file, not a directory, with -f.")
            if not path.exists():
                raise BakeplanError(f"open {name}: no such file or directory", hint="Check the -f paths (relative to the working directory).")
        data = path.read_bytes()  # also /dev/null and other non-regular files, as buildx opens them
        if data:  # buildx skips a file it reads no bytes from (bake.ReadLocalFiles)
            found.append(BakeFile(name, path, data))
    if not found:
        raise BakeplanError(
            "couldn't find a bake definition",
            hint=f"Run in a directory with one of {', '.join(BAKE_NAMES)}, or pass -f FILE.",
        )
    return found


def variable_overrides(vars_: Sequence[str]) -> dict[str, str]:
    """buildx's parseBakeVars: `--var NAME=VALUE`, later wins."""
    out: dict[str, str] = {}
    for item in vars_:
        if item == "":
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise BakeplanError(f'invalid variable "{item}", expected key=value')
        if key == "":
            raise BakeplanError(f'invalid variable "{item}", key is empty')
        out[key] = value
    return out


def lookup_env(request: BakeRequest) -> Mapping[str, str]:
    """The environment bake variables read (empty when BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP is true)."""
    flag = request.env.get("BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP", "")
    if flag in ("1", "t", "T", "TRUE", "true", "True"):
        return {}
    return request.env


# ---------------------------------------------------------------- parse cache
#
# Parsing is the slow step for big files (python-hcl2's grammar in pure
# Python); the syntax tree of an unchanged file is reused from the user's cache
# directory. Entries are keyed by a hash of the file's bytes, its name (the tree
# carries locations), and the parser's own source, written atomically (temp
# file + rename, so concurrent runs never see half an entry), and a corrupt or
# unreadable entry is simply parsed again.

CACHE_FORMAT = "1"


def cache_dir(env: Mapping[str, str]) -> Path | None:
    """The parse cache: `parse/` in bakeplan's cache folder (`fsutil.user_cache_dir`); None under BAKEPLAN_NO_CACHE."""
    if env.get("BAKEPLAN_NO_CACHE"):
        return None
    base = user_cache_dir(env)
    return None if base is None else base / "parse"


@functools.lru_cache(maxsize=1)  # once per process: the parser that runs is the one imported
def _parser_fingerprint() -> str:
    """Changes whenever the parser's modules change, so a new bakeplan never reads old trees."""
    from bakeplan.hcl import syntax

    digest = sha256(CACHE_FORMAT.encode())
    folder = Path(syntax.__file__).parent
    native = sorted(f"native/{name}" for name in os.listdir(folder / "native") if name.endswith(".py"))
    for name in ["ast.py", "syntax.py", "template.py", "json.py", *native]:
        try:
            stat = (folder / name).stat()
        except OSError:
            continue
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    digest.update(sys.version.encode())
    digest.update(_library_stamp().encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)  # asked by both fingerprints, for every file
def _library_stamp() -> str:
    """python-hcl2's grammar file (size and mtime), found without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("hcl2")
    if spec is None or spec.origin is None:
        return "no-hcl2"
    try:
        stat = (Path(spec.origin).parent / "hcl2.lark").stat()
    except OSError:
        return "no-grammar"
    return f"hcl2:{stat.st_size}:{stat.st_mtime_ns}"


def _parse_uncached(file: BakeFile) -> Any:
    from bakeplan.bake.definition import parse_source

    return parse_source(file.name, file.data)


def parse_body(file: BakeFile, env: Mapping[str, str], *, store: bool = True) -> Any:
    """The syntax tree (`bakeplan.hcl.ast.Body`) of one bake file, through the parse cache.

    `store=False` reads the cache but does not write it: pickling a big tree
    costs a quarter of a parse, not worth it when the evaluation cache will
    serve the next run anyway.
    """
    import pickle

    folder = cache_dir(env)
    if folder is None:
        return _parse_uncached(file)
    key = sha256(f"{_parser_fingerprint()}\0{file.name}\0".encode() + file.data).hexdigest()
    entry = folder / key[:2] / f"{key}.pickle"
    try:
        return pickle.loads(entry.read_bytes())
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: parse again
        pass
    body = _parse_uncached(file)
    if store:
        _store(entry, pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL))
    return body


def _store(entry: Path, payload: bytes) -> None:
    """Write a cache entry atomically; a read-only or full disk only costs the cache."""
    try:
        write_atomic(entry, payload)
    except OSError:
        pass


# ------------------------------------------------------------- evaluation


def compose_env(request: BakeRequest) -> dict[str, str]:
    """What compose interpolation reads: the environment, `.env`, then --var."""
    from bakeplan.bake import composeload

    return composeload.compose_env(lookup_env(request), variable_overrides(request.vars), request.cwd)


def split_compose(found: Sequence[BakeFile], request: BakeRequest) -> tuple[list[BakeFile], list[BakeFile]]:
    """(compose files, HCL/JSON files), each in load order, as buildx's validateComposeFile sorts them.

    Only a name that is neither *.hcl nor *.json loads the compose reader (a bake-only project never does).
    """
    composed: list[BakeFile] = []
    bake: list[BakeFile] = []
    env: dict[str, str] | None = None
    for file in found:
        if is_compose_name(file.name):
            composed.append(file)
        elif not file.name.endswith((".json", ".hcl")) and file.data:
            from bakeplan.bake import compose

            env = compose_env(request) if env is None else env
            is_compose = compose.validates(compose.ComposeFile(file.name, file.data), env, request.cwd)
            (composed if is_compose else bake).append(file)
        else:
            bake.append(file)
    return composed, bake


def read_definition(found: Sequence[BakeFile], request: BakeRequest, *, store_parse: bool = True) -> Any:
    """Parse (through the cache) and evaluate the HCL/JSON files: `bakeplan.bake.definition.Definition`."""
    _, bake = split_compose(found, request)
    return _evaluate(bake, request, store_parse)


def _evaluate(bake: Sequence[BakeFile], request: BakeRequest, store_parse: bool) -> Any:
    from bakeplan.bake.definition import read_definition as evaluate

    bodies = [parse_body(file, request.env, store=store_parse) for file in bake]
    return evaluate(bodies, env=lookup_env(request), vars=variable_overrides(request.vars))


def read_blocks(found: Sequence[BakeFile], request: BakeRequest, *, store_parse: bool = True) -> Sequence[Any]:
    """The target and group blocks: the compose files' first, then the evaluated HCL/JSON blocks in source order."""
    composed, bake = split_compose(found, request)
    blocks: list[Any] = []
    if composed:
        from bakeplan.bake import compose

        files = [compose.ComposeFile(file.name, file.data) for file in composed]
        blocks = compose.to_blocks(compose.read_compose(files, compose_env(request), request.cwd))
    if bake or not composed:
        blocks.extend(_evaluate(bake, request, store_parse).blocks)
    return blocks


def read_variables(found: Sequence[BakeFile], request: BakeRequest) -> list[dict[str, Any]]:
    """`--list variables` entries (buildx's hclparser.Variable), sorted by name."""
    out: list[dict[str, Any]] = []
    for var in sorted(read_definition(found, request).variables, key=lambda v: v.name):
        item: dict[str, Any] = {"name": var.name}
        if var.description:
            item["description"] = var.description
        if var.type:
            item["type"] = var.type
        if var.display is not None:
            item["value"] = var.display
        out.append(item)
    return out


# ---------------------------------------------------------- evaluation cache
#
# A repeat run over unchanged files skips parsing and evaluation altogether:
# the decoded definition is stored under a key that covers everything the
# evaluation reads: bakeplan's own code, the files (names and bytes), --var,
# this machine's platform, and every environment variable whose name appears
# in the files (a superset of the variables and globals env can override).
# Files calling functions that are not pure (timestamp, uuidv4, bcrypt) are
# never cached.

IMPURE_CALLS = (b"timestamp(", b"uuidv4", b"bcrypt")  # their results change from run to run
_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN_BLANKS = bytes(byte if byte in _TOKEN_BYTES else 0x20 for byte in range(256))


def _code_fingerprint(root: str = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))) -> str:
    """Changes whenever any module of bakeplan's reading stages (under the package folder `root`) changes."""
    digest = sha256(CACHE_FORMAT.encode() + sys.version.encode() + _library_stamp().encode())
    files = [item for folder in ("hcl", "bake") for item in _python_files(os.path.join(root, folder))]
    # The cached objects are records (bakeplan.record) holding Locations (bakeplan.errors): how they pickle counts too.
    files += [(path, os.stat(path)) for path in (os.path.join(root, "record.py"), os.path.join(root, "errors.py"))]
    for path, stat in files:
        digest.update(f"{os.path.relpath(path, root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def _python_files(folder: str) -> list[tuple[str, os.stat_result]]:
    """The `*.py` files under `folder` (subpackages too) with their stat, by path; os.scandir is ~5x faster than Path.rglob."""
    found: list[tuple[str, os.stat_result]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                found.extend(_python_files(entry.path))
            elif entry.name.endswith(".py"):
                found.append((entry.path, entry.stat()))
    return sorted(found, key=lambda item: item[0])


def evaluation_key(found: Sequence[BakeFile], request: BakeRequest) -> str | None:
    """The cache key of the evaluated definition, or None when it must not be cached."""
    import json

    from bakeplan.platforms import uname

    if any(marker in file.data for file in found for marker in IMPURE_CALLS):
        return None
    if any(not file.name.endswith((".hcl", ".json")) for file in found):
        return None  # compose files read `.env` and any variable: parsed every time (a few ms)
    env = lookup_env(request)
    tokens: set[bytes] = set()
    for file in found:
        # The runs of [A-Za-z0-9_-] (what re.findall(rb"[A-Za-z0-9_-]+") finds),
        # several times faster on a big file: every other byte becomes a blank.
        tokens.update(file.data.translate(_TOKEN_BLANKS).split())
    seen = [(name, value) for name, value in sorted(env.items()) if name.removesuffix("_JSON").encode() in tokens]
    extra = {k: request.env.get(k) for k in ("HOME", "BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP")}
    digest = sha256(_code_fingerprint().encode(), more=sum(len(file.data) for file in found))
    meta = {"vars": list(request.vars), "env": seen, "extra": extra, "machine": list(uname())}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    for file in found:
        digest.update(f"\0{file.name}\0{len(file.data)}\0".encode())
        digest.update(file.data)
    return digest.hexdigest()


def cached_evaluation(found: Sequence[BakeFile], request: BakeRequest, build: Any) -> Any:
    """`build(store_parse)` (the decoded definition), from the cache when the inputs are unchanged.

    `store_parse` tells the build whether the parse cache is worth writing:
    only when this evaluation itself cannot be cached.
    """
    import pickle

    folder = cache_dir(request.env)
    key = evaluation_key(found, request) if folder is not None else None
    if folder is None or key is None:
        return build(True)
    entry = folder.parent / "eval" / key[:2] / f"{key}.pickle"
    try:
        return pickle.loads(entry.read_bytes())
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: evaluate again
        pass
    value = build(False)
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return value
    _store(entry, payload)
    return value
