"""A job's outputs: what a target pushes, where its image goes, how a split target lays out files.

`run` and `ci` both build one platform of a target per job, so both answer the
same questions the same way, here:

- does the target push? (`pushes`: an output `type=registry`, or `type=image`
  with `push=true`, or the user's `--push`);
- under which names? (`image_names`: its tags, else the `name=` of its image
  outputs) and into which repositories (`repositories`, every one of them);
- what does one platform's job export? A pushed multi-platform target pushes
  each platform by digest into every repository (`digest_output`), and a merge
  then writes the tags. A directory export (`local`, or `oci`/`docker` with
  `tar=false`) gets the per-platform folder buildx itself uses for a
  multi-platform export (`DEST/linux_amd64/...`); a tarball (`tar`, `oci`,
  `docker`) gets one file per platform beside the name (`out-linux_amd64.tar`),
  where buildx would write one tarball with a folder per platform. Jobs
  running at once never write one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bakeplan.bake.model import JSONValue, Target
from bakeplan.bake.schema import csv_fields, csv_pair


def output_entries(target: Target | None) -> list[dict[str, str]]:
    """A target's outputs as key/value entries (from the `--print` object or CSV form)."""
    raw = target.fields.get("output") if target is not None else None
    return [parse_entry(item) for item in raw or ()]


def parse_entry(item: JSONValue) -> dict[str, str]:
    """One output (buildx's object form or CSV text) as key/value entries."""
    if isinstance(item, Mapping):
        return {str(k): str(v) for k, v in item.items()}
    entry: dict[str, str] = {}
    for field in csv_fields(str(item)):
        key, _, value = field.partition("=")
        entry[key.strip().lower()] = value.strip()
    return entry


def entry_text(entry: Mapping[str, str]) -> str:
    """An output entry back to bake's CSV form, quoting fields that need it."""
    return ",".join(csv_pair(key, value) for key, value in entry.items())


def is_push(entry: Mapping[str, str]) -> bool:
    """Whether one output entry pushes to a registry."""
    kind = entry.get("type", "")
    return kind == "registry" or (kind == "image" and entry.get("push", "").lower() == "true")


def pushes(target: Target | None, *, push: bool = False) -> bool:
    """Whether building the target pushes: its own outputs, or `--push` for a target with a name to push to."""
    if any(is_push(e) for e in output_entries(target)):
        return True
    return push and bool(image_names(target))


def image_names(target: Target | None) -> list[str]:
    """The names a target's image goes by: its tags, else the `name=` of its image outputs."""
    if target is None:
        return []
    tags = [str(t) for t in (target.fields.get("tags") or ())]
    if tags:
        return tags
    names = [e.get("name", "") for e in output_entries(target) if e.get("type") in {"image", "registry"}]
    return [n.strip() for joined in names for n in joined.split(",") if n.strip()]


def repository(reference: str) -> str:
    """`host:5000/ns/app:tag` -> `host:5000/ns/app` (drops tag and digest)."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def repositories(names: Sequence[str]) -> tuple[str, ...]:
    """The distinct repositories of image references, in order."""
    return tuple(dict.fromkeys(repository(name) for name in names))


def digest_output(repos: Sequence[str]) -> str:
    """An output pushing by digest (no tag) into every repository: what a merge reads."""
    return entry_text({"type": "image", "name": ",".join(repos), "push-by-digest": "true",
                       "name-canonical": "true", "push": "true"})


def platform_suffix(platform: str) -> str:
    """`linux/arm/v7` -> `linux_arm_v7`, as buildx names a platform's folder in a multi-platform export."""
    return platform.replace("/", "_")


def split_outputs(target: Target | None, platform: str | None, *, push: bool) -> tuple[str, ...] | None:
    """One platform's share of a multi-platform target's outputs (None: keep the target's own).

    Pushed images go by digest (the merge tags them); local and tar exports
    go to the platform's own place; other outputs are kept.
    """
    entries = output_entries(target)
    names = image_names(target)
    out: list[str] = []
    pushing = pushes(target, push=push)
    if pushing and names:
        out.append(digest_output(repositories(names)))
    suffix = platform_suffix(platform) if platform else ""
    for entry in entries:
        kind = entry.get("type", "")
        if kind in {"registry", "image"} and pushing:
            continue
        if suffix and entry.get("dest") not in {None, "", "-"}:
            entry = {**entry, "dest": platform_dest(kind, entry, suffix)}
        out.append(entry_text(entry))
    if out == [entry_text(e) for e in entries]:
        return None
    return tuple(out)


def platform_dest(kind: str, entry: Mapping[str, str], suffix: str) -> str:
    """One platform's own destination: a folder inside a directory export, a name beside a tarball."""
    dest = entry["dest"]
    directory = kind == "local" or (kind in {"oci", "docker"} and entry.get("tar", "true").lower() == "false")
    return f"{dest}/{suffix}" if directory else tar_name(dest, suffix)


def tar_name(dest: str, suffix: str) -> str:
    """`out/image.tar` -> `out/image-linux_arm64.tar`."""
    stem, dot, ext = dest.rpartition(".")
    return f"{stem}-{suffix}.{ext}" if dot and "/" not in ext else f"{dest}-{suffix}"


def pushed_outputs(target: Target | None) -> tuple[str, ...]:
    """The target's outputs as `--push` makes them (bake.go setPushOverride): image ones push, else add a push."""
    entries = output_entries(target)
    out = [entry_text({**e, "push": "true"} if e.get("type") == "image" else e) for e in entries]
    if not any(e.get("type") in {"image", "registry"} for e in entries):
        out.append("type=registry")  # named after the tags
    return tuple(out)


def named_exports(outputs: Sequence[str], names: Sequence[str]) -> tuple[str, ...]:
    """Image, oci and docker exports (not the pushes by digest) named after the tags, as buildx would name them."""
    out = []
    for item in outputs:
        entry = parse_entry(item)
        if entry.get("type") in {"image", "oci", "docker"} and entry.get("push-by-digest") != "true":
            item = entry_text({**entry, "name": ",".join(names)})
        out.append(item)
    return tuple(out)


def job_exports(target: Target | None, platform: str | None, *, requested: bool, push: bool,
                extra: Sequence[str] = ()) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(outputs, tags) bakeplan sets on one job's target (None: keep the target's own), for run and ci alike.

    A target nobody asked for (only linked) exports nothing of the user's
    (buildx builds it `cacheonly`); a multi-platform one exports its
    platform's share (`split_outputs`); `push` (`--push`) makes outputs push
    as buildx does. `extra` outputs (a hand-over copy) are added. A job that
    pushes by digest drops the tags (buildx names every image export after
    them, and a tagged name cannot go by digest), naming its other image
    exports after them instead.
    """
    outputs: tuple[str, ...] | None = None
    if not requested:
        outputs = ()
    elif len(target.platforms) > 1 if target is not None else False:
        outputs = split_outputs(target, platform, push=push)
    elif push and pushes(target, push=True) and not pushes(target):
        outputs = pushed_outputs(target)
    if extra:
        kept = outputs if outputs is not None else tuple(entry_text(e) for e in output_entries(target))
        outputs = (*kept, *extra)
    tags: tuple[str, ...] | None = None
    if outputs and any(parse_entry(item).get("push-by-digest") == "true" for item in outputs):
        names = [str(t) for t in (target.fields.get("tags") or ())] if target is not None else []
        if names:
            outputs, tags = named_exports(outputs, names), ()
    return outputs, tags
