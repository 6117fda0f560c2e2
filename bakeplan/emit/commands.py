"""Shell commands shared by the renderers: bake a leg, hand parents over, save digests, merge manifests.

Every leg's `docker buildx bake` is described by one `bakeplan.invocation.Invocation`
(`leg_invocation`) and turned into an argv by `bakeplan.invocation.bake_argv`.
A parent handed over by digest appears in it as `docker-image://REPO@${VAR}`,
the variable read from the parent leg's digest file just before (`handoff_lines`);
`shell_join` keeps that reference expandable and quotes everything else.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence

from bakeplan.emit.model import BakeCall, CIPlan, Handoff, Leg, Merge, Omitted
from bakeplan.invocation import Invocation, bake_argv
from bakeplan.record import replace

BINFMT_IMAGE = "tonistiigi/binfmt"
# From a pushed index, the one image manifest (not the attestation manifests buildx adds).
MANIFEST_FILTER = (
    '[.manifests[]? | select(.annotations["vnd.docker.reference.type"] != "attestation-manifest")]'
    " | if length == 1 then .[0].digest else $d end"
)


def leg_invocation(call: BakeCall, leg: Leg, *, digest: Callable[[Handoff], str], metadata_file: str = "") -> Invocation:
    """The leg's bake invocation; `digest` says how a hand-over's digest appears (a shell reference)."""
    settings = []
    for item in leg.settings:
        mine = (h for h in leg.handoffs if h.target == item.name)
        contexts = tuple((h.context, f"docker-image://{h.repository}@{digest(h)}") for h in mine)
        settings.append(replace(item, contexts=(*item.contexts, *contexts)) if contexts else item)
    return Invocation(names=(leg.target,), files=call.files, settings=tuple(settings), sets=leg.sets,
                      metadata_file=metadata_file if leg.digest else "")


def leg_command(call: BakeCall, leg: Leg, metadata_file: str) -> str:
    """The leg's `docker buildx bake` as one shell line, reading hand-over digests from `handoff_lines` variables."""
    argv = bake_argv(leg_invocation(call, leg, digest=lambda h: f"${{{h.variable}}}", metadata_file=metadata_file))
    return shell_join(argv, [h.variable for h in leg.handoffs])


def shell_join(argv: Iterable[str], variables: Sequence[str] = ()) -> str:
    """`shlex.join`, except that `${VAR}` of the given variables stays expandable (inside double quotes)."""
    if not variables:
        return shlex.join(argv)
    reference = re.compile("|".join(re.escape(f"${{{name}}}") for name in variables))
    words = []
    for arg in argv:
        if reference.search(arg) is None:
            words.append(shlex.quote(arg))
            continue
        literal = reference.split(arg)
        found = reference.findall(arg)
        body = "".join(_double_quoted(part) + ref for part, ref in zip(literal, [*found, ""], strict=True))
        words.append(f'"{body}"')
    return " ".join(words)


def _double_quoted(text: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", text)


def handoff_lines(leg: Leg, directory: str) -> list[str]:
    """Shell lines reading each parent's digest from DIR/PARENT/LEG into its variable (fails when missing)."""
    lines: dict[str, str] = {}
    for handoff in leg.handoffs:
        path = shlex.quote(f"{directory}/{handoff.parent}/{handoff.leg}")
        lines.setdefault(handoff.variable, f"{handoff.variable}=$(cat {path})")
    return list(lines.values())


def binfmt_argv(platform: str) -> list[str]:
    """Install QEMU emulators for a platform the runner cannot run natively."""
    return ["docker", "run", "--privileged", "--rm", BINFMT_IMAGE, "--install", platform]


def save_digest_script(metadata: str, leg: Leg, directory: str) -> str:
    """Shell lines that write a leg's pushed digest to DIR/TARGET/LEG (needs jq).

    A leg read by children on other platforms saves its image manifest's
    digest: the index buildx pushes (with attestations) resolves by platform,
    and the children's platform is not in it.
    """
    where = shlex.quote(f"{directory}/{leg.target}")
    out = shlex.quote(f"{directory}/{leg.target}/{leg.id}")
    lines = [
        f"mkdir -p {where}",
        f"jq -er --arg t {shlex.quote(leg.target)} '.[$t][\"containerimage.digest\"]' {shlex.quote(metadata)} > {out}",
    ]
    if leg.manifest:
        lines += [
            f"digest=$(cat {out})",
            f'docker buildx imagetools inspect --raw "{_double_quoted(leg.repository)}@$digest"'
            f' | jq -er --arg d "$digest" {shlex.quote(MANIFEST_FILTER)} > {out}',
        ]
    return "\n".join(lines) + "\n"


def merge_script(merge: Merge, directory: str) -> str:
    """Shell lines creating the manifest list from the digests under DIR/TARGET."""
    where = f"{directory}/{merge.target}"
    tags = " ".join(f"-t {shlex.quote(tag)}" for tag in merge.tags)
    return (
        f'if [ -d "{where}" ]; then\n'
        "  set --\n"
        f'  for file in "{where}"/*; do set -- "$@" "{_double_quoted(merge.repository)}@$(cat "$file")"; done\n'
        f'  docker buildx imagetools create {tags} "$@"\n'
        "else\n"
        f"  echo {shlex.quote(merge.target + ': no digests, nothing to merge')}\n"
        "fi\n"
    )


def generated_line(command: str = "") -> str:
    """The first header line of a generated file, naming the command that regenerates it."""
    how = f"`{command}`" if command else "bakeplan"
    return f"Generated by {how}; regenerate instead of editing."


def omitted_lines(omitted: tuple[Omitted, ...], *, shown: int = 6) -> list[str]:
    """One human line per reason for leaving jobs out (for comments, summaries and stderr).

    Jobs left out for the same reason (the platforms of a target, matrix
    siblings sharing a context) share a line, so a 200-job matrix reads as one.
    """
    by_reason: dict[str, list[str]] = {}
    for item in omitted:
        by_reason.setdefault(item.reason, []).append(item.job)
    lines = []
    for reason, jobs in by_reason.items():
        names = ", ".join(jobs[:shown]) + (f" and {len(jobs) - shown} more" if len(jobs) > shown else "")
        lines.append(f"left out {names}: {reason}")
    return lines


def rebuild_lines(plan: CIPlan) -> list[str]:
    """What the plan rebuilds inside child legs, and why, one line per reason (for comments and stderr)."""
    by_reason: dict[str, list[str]] = {}
    for name in dict.fromkeys(name for leg in plan.legs for name in leg.rebuilt):
        by_reason.setdefault(_rebuild_reason(plan, name), []).append(name)
    lines = [f"parents rebuilt inside their children's legs ({why}): {', '.join(names)}" for why, names in by_reason.items()]
    if lines and not plan.cached:
        every = ", ".join(name for names in by_reason.values() for name in names)
        lines.append(f"warning: no --cache: parents are rebuilt from scratch in every child leg: {every}")
    return lines


def _rebuild_reason(plan: CIPlan, parent: str) -> str:
    if not plan.registry:
        return "no registry to hand them over by digest: pass --push or --handoff registry:REPO"
    if parent in plan.unpushed:
        return "not pushed, so no repository to hand them over by digest: pass --handoff registry:REPO"
    return "their own legs are left out of this run"
