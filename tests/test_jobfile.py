"""Per-job JSON bake files: what goes in, how it is escaped, and that real buildx reads back the same targets.

The proof is `test_buildx_reads_every_corpus_target_back_from_a_job_file`: for
every corpus case that buildx accepts, every printed target is written to one
job file and `docker buildx bake --print -f JOB.json NAMES...` must print the
very target objects bakeplan printed; a few single-target files (the target
with the most linked parents, and the first one) must print the target and its
parents exactly as bakeplan's print of `bake TARGET` does. A job file holds
the values of one evaluation, so the comparison needs no timestamp masking.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.jobfile import job_definition, render_definition, write_definition
from bakeplan.bake.model import BakeRequest, BakeResult
from bakeplan.bake.printing import print_document
from bakeplan.bake.resolve import load
from bakeplan.jobs import closure
from bakeplan.record import replace

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file()) if CORPUS.is_dir() else []

LINKED = """
target "root" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "base" {
  contexts = { root = "target:root" }
  platforms = ["linux/amd64", "linux/arm64"]
}
target "app" {
  contexts = { base = "target:base", alpine = "docker-image://alpine" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["me/app"]
}
target "other" {
  tags = ["me/other"]
}
"""

# Literal strings that HCL templates treat specially, or that JSON escapes.
TRICKY = [
    "a${b}", "%{c}", "$${d}", "%%{e}", "$$", "$", "%", "$%{f", "%${g", "x$", "x%", "back\\slash",
    "new\nline", 'q"q', "<&>", "é日", "${", "~}", "${~x~}", "$$$${h}", "{}", "$ {i}", "% {j}",
]


def hcl_string(text: str) -> str:
    """An HCL quoted string that evaluates to `text`."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + quoted.replace("${", "$${").replace("%{", "%%{") + '"'


def hcl_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(hcl_string(item) for item in items) + "]"


def hcl_map(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{hcl_string(key)} = {hcl_string(value)}" for key, value in pairs) + "}"


def tricky_hcl() -> str:
    """Two targets with literal `${`/`%{` (and friends) in every kind of string field and object key."""
    t = TRICKY
    inline = "FROM scratch\n# " + " ".join(t)
    return f"""
target "base" {{
  description = {hcl_string("d " + t[0] + t[1])}
  tags = {hcl_list(t)}
  args = {hcl_map([(f"K{i}{s}", s) for i, s in enumerate(t)])}
  labels = {hcl_map([(f"L{i}{s}", s) for i, s in enumerate(t)])}
  annotations = {hcl_list([f"index:a{i}={s}" for i, s in enumerate(t)])}
  dockerfile = {hcl_string("Dockerfile." + t[0])}
  dockerfile-inline = {hcl_string(inline)}
  target = {hcl_string("stage" + t[2])}
  contexts = {hcl_map([(f"c{i}{s}", "docker-image://img" + s) for i, s in enumerate(t[:5])])}
  cache-from = [{{type = "registry", ref = {hcl_string("r/" + t[0])}, {hcl_string("x" + t[1])} = {hcl_string(t[2])}}}]
  cache-to = [{hcl_string("type=local,dest=out" + t[3])}]
  output = [{hcl_string("type=image,name=n" + t[0])}]
  secret = [{hcl_string("id=s" + t[0] + ",env=E" + t[1])}]
  no-cache-filter = {hcl_list(t[:4])}
  extra-hosts = {hcl_map([(f"h{i}{s}", "1.2.3.4") for i, s in enumerate(t[:4])])}
  policy = [{hcl_string("filename=p" + t[0])}, {{filename = "a,b.rego"}}, "filename=c.rego,filename=d.rego,reset=true,strict=false,log-level=warn", {{}}]
  network = {hcl_string("net" + t[1])}
  attest = [{hcl_string("type=sbom,generator=g" + t[0])}, "type=provenance,disabled=true"]
  resources = {{ memory = "1g", cpu-shares = 512 }}
}}
target "app" {{
  contexts = {{ base = "target:base" }}
  tags = {hcl_list(t[5:])}
}}
"""


def loaded(tmp_path: Path, hcl: str, *names: str) -> BakeResult:
    (tmp_path / "docker-bake.hcl").write_text(hcl)
    return load(BakeRequest(names=names, files=("docker-bake.hcl",), cwd=tmp_path))


# ------------------------------------------------------------------ contents


def test_a_job_file_holds_its_targets_and_every_linked_parent(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app", "other")
    doc = job_definition(result, ["app"])
    assert list(doc) == ["target"]
    assert list(doc["target"]) == ["app", "base", "root"]
    assert doc["target"] == {name: print_document(result)["target"][name] for name in ("app", "base", "root")}


def test_a_target_without_links_stands_alone(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app", "other")
    assert list(job_definition(result, ["other"])["target"]) == ["other"]


def test_targets_are_sorted_and_the_text_is_deterministic(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app", "other")
    doc = job_definition(result, ["other", "app"])
    assert doc == job_definition(result, ["app", "other"])
    assert list(doc["target"]) == ["app", "base", "other", "root"]
    text = render_definition(doc)
    assert text == render_definition(job_definition(result, ["other", "app"]))
    assert text.endswith("}\n")
    assert json.loads(text) == doc


def test_platforms_are_replaced_per_target(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app", "other")
    doc = job_definition(result, ["app"], platforms={"app": ("linux/arm64",), "base": ("linux/arm64",)})
    assert doc["target"]["app"]["platforms"] == ["linux/arm64"]
    assert doc["target"]["base"]["platforms"] == ["linux/arm64"]
    assert doc["target"]["root"]["platforms"] == ["linux/amd64", "linux/arm64"]


def test_an_empty_platform_tuple_drops_the_key(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app")
    assert "platforms" not in job_definition(result, ["app"], platforms={"app": ()})["target"]["app"]


def test_added_platforms_take_their_place_in_struct_order(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "other")
    fields = job_definition(result, ["other"], platforms={"other": ("linux/amd64",)})["target"]["other"]
    assert list(fields) == ["context", "dockerfile", "tags", "platforms"]


def test_a_dropped_link_leaves_its_parent_out_and_the_context_as_is(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app")
    doc = job_definition(result, ["app"], drop_links={"app": {"base"}})
    assert list(doc["target"]) == ["app"]
    assert doc["target"]["app"]["contexts"] == {"alpine": "docker-image://alpine", "base": "target:base"}


def test_dropping_a_link_deeper_down_keeps_the_nearer_parent(tmp_path: Path) -> None:
    result = loaded(tmp_path, LINKED, "app")
    assert list(job_definition(result, ["app"], drop_links={"base": ["root"]})["target"]) == ["app", "base"]


def test_a_parent_also_reached_through_a_kept_link_stays(tmp_path: Path) -> None:
    hcl = LINKED + 'target "both" {\n  contexts = { a = "target:base", b = "target:app" }\n}\n'
    result = loaded(tmp_path, hcl, "both")
    assert list(job_definition(result, ["both"], drop_links={"both": ["a"]})["target"]) == ["app", "base", "both", "root"]


def test_an_unknown_target_is_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="nope"):
        job_definition(loaded(tmp_path, LINKED, "app"), ["nope"])


# ------------------------------------------------------------------ escapes


def test_literal_template_sequences_are_escaped_exactly_once(tmp_path: Path) -> None:
    hcl = """
target "t" {
  tags = ["x:$${tag}", "y:%%{z}", "plain$"]
  args = { "K$${k}" = "v$${v}" }
  contexts = { "c%%{c}" = "docker-image://i$${i}" }
  cache-from = ["type=registry,ref=r/$${x}"]
  dockerfile-inline = "FROM $${img}"
}
"""
    fields = job_definition(loaded(tmp_path, hcl, "t"), ["t"])["target"]["t"]
    assert fields["tags"] == ["x:$${tag}", "y:%%{z}", "plain$"]
    assert fields["args"] == {"K$${k}": "v$${v}"}  # print already escaped the value (Target.MarshalJSON)
    assert fields["contexts"] == {"c%%{c}": "docker-image://i$${i}"}
    assert fields["cache-from"] == [{"ref": "r/$${x}", "type": "registry"}]
    assert fields["dockerfile-inline"] == "FROM $${img}"


def test_policy_entries_take_the_csv_form_buildx_reads(tmp_path: Path) -> None:
    hcl = """
target "t" {
  policy = ["filename=a.rego,filename=b.rego,reset=true,strict=false,log-level=warn", {filename = "a,b$${x}.rego"}, {}]
}
"""
    fields = job_definition(loaded(tmp_path, hcl, "t"), ["t"])["target"]["t"]
    assert fields["policy"] == [
        "filename=a.rego,filename=b.rego,reset=true,strict=false,log-level=warning",
        '"filename=a,b$${x}.rego"',
        {},
    ]


def test_write_definition_writes_the_rendered_text(tmp_path: Path) -> None:
    doc = job_definition(loaded(tmp_path, LINKED, "app"), ["app"])
    path = tmp_path / "jobs" / "app.json"
    write_definition(path, doc)
    assert path.read_text() == render_definition(doc)
    assert [p.name for p in path.parent.iterdir()] == ["app.json"]


# ------------------------------------------------------------------ real buildx


def buildx_print(buildx: Any, path: Path, names: Sequence[str], cwd: Path, env: dict[str, str], *sets: str) -> dict[str, Any]:
    """`docker buildx bake --print -f PATH [--set ...] NAMES...` run in `cwd`, parsed."""
    # Only the case's env: a stray SOURCE_DATE_EPOCH or BUILDX_BAKE_* of the caller's shell would change the print.
    inherited = {k: v for k, v in buildx.env.items() if k != "SOURCE_DATE_EPOCH" and not k.startswith("BUILDX_BAKE_")}
    flags = [arg for value in sets for arg in ("--set", value)]
    proc = subprocess.run(
        buildx.argv("bake", "--print", "-f", str(path), *flags, *names),
        cwd=cwd, env={**inherited, **env}, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed: dict[str, Any] = json.loads(proc.stdout)
    return printed


@pytest.mark.buildx
def test_buildx_reads_back_every_literal_template_sequence(tmp_path: Path, buildx: Any) -> None:
    (tmp_path / "docker-bake.hcl").write_text(tricky_hcl())
    original = buildx_print(buildx, tmp_path / "docker-bake.hcl", ["app", "base"], tmp_path, {})
    assert original["target"]["base"]["tags"] == TRICKY  # the file really holds the literal strings
    result = load(BakeRequest(names=("app", "base"), files=("docker-bake.hcl",), cwd=tmp_path))
    path = tmp_path / "job.json"
    write_definition(path, job_definition(result, ["app", "base"]))
    assert buildx_print(buildx, path, ["app", "base"], tmp_path, {})["target"] == original["target"]


@pytest.mark.buildx
def test_buildx_takes_a_dropped_link_from_set(tmp_path: Path, buildx: Any) -> None:
    result = loaded(tmp_path, LINKED, "app")
    path = tmp_path / "job.json"
    write_definition(path, job_definition(result, ["app"], platforms={"app": ("linux/arm64",)}, drop_links={"app": ["base"]}))
    printed = buildx_print(buildx, path, ["app"], tmp_path, {}, "app.contexts.base=docker-image://me/base:arm64")
    assert list(printed["target"]) == ["app"]
    assert printed["target"]["app"]["contexts"] == {"alpine": "docker-image://alpine", "base": "docker-image://me/base:arm64"}
    assert printed["target"]["app"]["platforms"] == ["linux/arm64"]


def corpus_request(case_dir: Path) -> BakeRequest:
    case = json.loads((case_dir / "CASE.json").read_text())
    return BakeRequest(names=tuple(case["targets"]), files=tuple(case["files"]), env=dict(case["env"]), cwd=case_dir)


def single_target_samples(result: BakeResult) -> list[str]:
    """The first target and the one with the most linked parents (the first such): each gets its own file."""
    names = list(result.targets)
    deepest = max(names, key=lambda name: len(closure(result, [name])))
    return list(dict.fromkeys([names[0], deepest]))


@pytest.mark.buildx
@pytest.mark.parametrize("case", CASES)
def test_buildx_reads_every_corpus_target_back_from_a_job_file(case: str, corpus_dir: Path, buildx: Any, tmp_path: Path) -> None:
    request = corpus_request(corpus_dir / case)
    result = load(request)
    names = list(result.targets)
    path = tmp_path / "all.json"
    write_definition(path, job_definition(result, names))
    printed = buildx_print(buildx, path, names, request.cwd, dict(request.env))
    assert printed["target"] == print_document(result)["target"]

    for name in single_target_samples(result):
        # `bake NAME` alone: parents it pulls in are built cache-only, so compare with that print.
        alone = load(replace(request, names=(name,)))
        doc = job_definition(alone, [name])
        assert sorted(doc["target"]) == sorted(closure(alone, [name]))
        write_definition(path, doc)
        printed = buildx_print(buildx, path, [name], request.cwd, dict(request.env))
        assert printed["target"] == print_document(alone)["target"]
