from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from bakeplan.history import History
from bakeplan.nodes import Node
from bakeplan.plan import Plan, build_plan
from bakeplan.render import dot, json_, mermaid, table
from tests.support.plans import node, result, target

AMD, ARM = "linux/amd64", "linux/arm64"
SCHEMA = Path(json_.__file__).with_name("plan.schema.json")
GOLDEN = Path(__file__).resolve().parent / "golden" / "plan"
UPDATE = os.environ.get("BAKEPLAN_UPDATE_GOLDEN") == "1"


def sample() -> Plan:
    """app on both platforms reads an amd64 base and a platform-less conf; bin for each platform.

    conf builds for the builder's default platform (amd64). app@linux/arm64
    runs on the arm node: it reads base and conf from the amd node by digest
    (two hand-overs).
    """
    bake = result(
        target("base", [AMD]),
        target("conf"),
        target("app", [AMD, ARM], {"b": "target:base", "c": "target:conf"}),
        *[target(f"bin-{a}", [f"linux/{a}"], matrix={"goarch": a}, block="bin") for a in ("amd64", "arm64")],
    )
    history = History({"base|linux/amd64": (20.0,), "conf|native": (5.0,),
                       "app|linux/amd64": (40.0,), "app|linux/arm64": (50.0,)})
    return build_plan(bake, [node("amd", AMD, slots=2), node("arm", ARM, slots=1)], history=history)


def test_json_follows_the_published_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(json_.render(sample()))
    jsonschema.validate(data, schema)
    assert data["version"] == json_.SCHEMA_VERSION == 3
    assert data["handovers"] and "rebuilds" not in data


def test_the_schema_requires_each_jobs_reason_and_checks_hand_overs() -> None:
    schema = json.loads(SCHEMA.read_text())
    data = json.loads(json_.render(sample()))
    with pytest.raises(jsonschema.ValidationError, match="'reason' is a required property"):
        jsonschema.validate({**data, "jobs": [{k: v for k, v in data["jobs"][0].items() if k != "reason"}]}, schema)
    with pytest.raises(jsonschema.ValidationError, match="'dest' is a required property"):
        jsonschema.validate({**data, "handovers": [{k: v for k, v in data["handovers"][0].items() if k != "dest"}]}, schema)


def test_json_jobs_carry_node_times_placement_matrix_deps_and_argv() -> None:
    data = json.loads(json_.render(sample()))
    app = next(j for j in data["jobs"] if j["id"] == "app@linux/arm64")
    assert {k: app[k] for k in ("target", "platform", "matrix", "deps", "node", "start", "end", "placement", "critical")} == {
        "target": "app", "platform": ARM, "matrix": {}, "deps": ["base@linux/amd64", "conf@linux/amd64"], "node": "arm",
        "start": 60.0, "end": 114.0, "placement": "exact", "critical": True}  # 4s hand-overs side by side, 50s app
    # base and conf are read by digest.
    assert app["argv"] == ["docker", "buildx", "bake", "--builder", "arm", "-f", "docker-bake.hcl",
                           "--set", "app.platform=linux/arm64",
                           "--set", "app.contexts.b=oci-layout://<hand-over of base@linux/amd64>@<digest>",
                           "--set", "app.contexts.c=oci-layout://<hand-over of conf@linux/amd64>@<digest>", "app"]
    assert (app["default_platform"], app["runs_on"]) == (False, [ARM])
    assert app["reason"].endswith("needs linux/arm64: natively on arm")
    conf = next(j for j in data["jobs"] if j["id"] == "conf@linux/amd64")
    assert (conf["platform"], conf["default_platform"], conf["built_platform"], conf["node"]) == (AMD, True, AMD, "amd")
    assert conf["reason"].startswith("no platforms: the builder's default linux/amd64, set explicitly; ")
    assert next(j for j in data["jobs"] if j["id"] == "bin-arm64@linux/arm64")["matrix"] == {"goarch": "arm64"}
    assert data["makespan"] == 114.0 and data["lower_bound"]["value"] == 110.0  # arm: bin-arm64 60s + app 50s


def test_json_lists_each_hand_over_and_no_longer_has_units() -> None:
    data = json.loads(json_.render(sample()))
    assert data["handovers"] == [
        {"child": "app@linux/arm64", "parent": "base@linux/amd64", "source": "amd", "dest": "arm", "seconds": 4.0},
        {"child": "app@linux/arm64", "parent": "conf@linux/amd64", "source": "amd", "dest": "arm", "seconds": 4.0}]
    assert "units" not in data and all("unit" not in job for job in data["jobs"])


def test_json_the_exporting_parents_write_their_hand_over_copy_and_others_do_not() -> None:
    data = json.loads(json_.render(sample()))
    argv = {j["id"]: j["argv"] for j in data["jobs"]}
    assert argv["base@linux/amd64"][-3:] == ["--set", "base.output=type=oci,dest=<hand-over dir>,tar=false", "base"]
    assert argv["conf@linux/amd64"] == ["docker", "buildx", "bake", "--builder", "amd", "-f", "docker-bake.hcl",
                                        "--set", "conf.platform=linux/amd64",
                                        "--set", "conf.output=type=oci,dest=<hand-over dir>,tar=false", "conf"]
    assert argv["bin-amd64@linux/amd64"][-3:] == ["--set", "bin-amd64.platform=linux/amd64", "bin-amd64"]


def test_json_is_stable() -> None:
    assert json_.render(sample()) == json_.render(sample())


def test_table_lists_jobs_per_node_with_times_critical_marks_hand_overs_and_summary() -> None:
    text = table.render(sample())
    assert "arm  (linux/arm64; 1 slot)" in text
    assert "app@linux/arm64" in text and "1m54s" in text and "█" in text
    assert "│   │ conf@linux/amd64      │ linux/amd64 │ 21s   │ 27s   │" in text
    assert ("\n  app@linux/arm64 reads base@linux/amd64 from amd (~4s)"
            "\n  app@linux/arm64 reads conf@linux/amd64 from amd (~4s)\n") in text
    assert "\nwhere jobs may go:\n" in text
    assert "\n  conf@linux/amd64:\n    no platforms: the builder's default linux/amd64, set explicitly; " in text
    assert "6 jobs, 2 hand-overs on 2 nodes" in text
    assert "estimated makespan 1m54s; lower bound 1m50s" in text
    assert "critical path (*): base@linux/amd64 -> app@linux/arm64" in text


def test_table_shows_hand_overs_under_the_node_that_reads_them() -> None:
    text = table.render(sample())
    arm = text.index("arm  (linux/arm64")
    assert text.index("reads base@linux/amd64 from amd") > arm
    assert text.index("reads conf@linux/amd64 from amd") > arm
    assert "reads" not in text[:arm]


def test_without_hand_overs_the_table_has_no_reads_lines() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    text = table.render(build_plan(bake, [node("amd", AMD), node("arm", ARM)]))
    assert " reads " not in text and "4 jobs, 0 hand-overs on 2 nodes" in text


def test_dot_clusters_jobs_by_node_and_draws_links_and_hand_overs() -> None:
    text = dot.render(sample())
    assert text.startswith("digraph bakeplan {")
    assert 'label="arm";' in text and 'label="amd";' in text
    assert '  "base@linux/amd64" -> "app@linux/amd64";\n' in text and '  "conf@linux/amd64" -> "app@linux/amd64";\n' in text
    assert '  "base@linux/amd64" -> "app@linux/arm64" [style=dashed, color=blue, label="hand-over 4s"];\n' in text
    assert '  "conf@linux/amd64" -> "app@linux/arm64" [style=dashed, color=blue, label="hand-over 4s"];\n' in text


def test_mermaid_draws_a_flowchart_with_hand_overs_dotted_and_the_critical_path_styled() -> None:
    text = mermaid.render(sample())  # j0 base, j1 conf, j2 app@linux/amd64, j3 app@linux/arm64
    assert text.startswith("flowchart LR\n")
    assert '  subgraph n1["arm"]\n' in text
    assert "  j0 --> j2\n  j1 --> j2\n" in text
    assert '  j0 -.->|"hand-over 4s"| j3\n  j1 -.->|"hand-over 4s"| j3\n' in text
    assert "  class j0,j3 critical\n" in text


@pytest.mark.parametrize("name", ["sample.txt", "sample.json", "sample.dot", "sample.mmd"])
def test_golden_renderings(name: str) -> None:
    renderers = {".txt": table.render, ".json": json_.render, ".dot": dot.render, ".mmd": mermaid.render}
    text = renderers[Path(name).suffix](sample())
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"regenerate with BAKEPLAN_UPDATE_GOLDEN=1 if intended: {golden}"


def test_nodes_table_shows_why_a_node_is_left_out() -> None:
    down = Node("down", platforms=(AMD,), native=1, excluded="status error")
    text = table.render_nodes([node("amd", AMD, slots=2), down])
    assert "down: left out: status error" in text and "linux/amd64*" in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_nodes_table_says_which_nodes_went_down_in_the_last_run() -> None:
    nodes = [node("k1", AMD, slots=1), node("k2", AMD, slots=1)]
    text = table.render_nodes(nodes, last_run=(".bakeplan/runs/r1", {"k1": "daemon gone; back after a health probe"}))
    assert "k1: went down in the last run (.bakeplan/runs/r1): daemon gone; back after a health probe" in text
    assert "k2: went down" not in text
    assert "went down" not in table.render_nodes(nodes, last_run=(".bakeplan/runs/r1", {}))


def test_durations_read_well() -> None:
    assert [table.duration(s) for s in (5, 12.5, 75, 3700)] == ["5s", "12.5s", "1m15s", "1h01m40s"]


def wide_sample() -> Plan:
    names = [f"service-authentication-gateway-{v}-{a}" for v in ("alpine", "debian") for a in ("amd64", "arm64")]
    bake = result(*[target(n, [f"linux/{n.rsplit('-', 1)[1]}"]) for n in names])
    return build_plan(bake, [node("amd", AMD, slots=2), node("arm", ARM, slots=2)])


def test_table_never_cuts_job_ids_and_fits_the_width() -> None:
    for width in (200, 120, 80, 60):
        text = table.render(wide_sample(), width=width)
        tables = text.split("\nestimated makespan")[0].splitlines()[:-1]
        assert max(len(line) for line in tables) <= width, width
        assert "…" not in text
        if width >= 100:  # narrower: ids fold onto two lines, whole
            assert "service-authentication-gateway-debian-arm64@linux/arm64" in text


def test_table_keeps_the_timeline_when_there_is_room_and_drops_it_when_narrow() -> None:
    assert "timeline" in table.render(wide_sample(), width=140)
    assert "timeline" not in table.render(wide_sample(), width=80)


def test_table_lines_have_no_trailing_spaces() -> None:
    assert all(line == line.rstrip() for line in table.render(sample()).splitlines())


def test_nodes_too_wide_for_the_terminal_are_listed_not_squeezed() -> None:
    wide = Node("amd-builder-1", "amd-builder-one", "tcp://10.0.0.12:1234", ("linux/amd64", "linux/386", "linux/amd64/v2"),
                native=3, slots=4, status="running")
    text = table.render_nodes([wide, Node("down", excluded="status error")], width=80)
    assert "┏" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "amd-builder-1 (declared)\n  builder: amd-builder-one\n  endpoint: tcp://10.0.0.12:1234\n" in text
    assert "  slots: 4 (declared)  memory: ? (assumed)  speed: 1.00 (assumed)  used: yes\n" in text
    assert "down: left out: status error\n" in text
    assert "┏" in table.render_nodes([wide], width=200)  # host, slots, memory, speed and their sources take room


def indirect() -> Plan:
    """g (amd64) and p (no platform: amd64, reads g) on amd; c (arm64, reads p) on arm reads p by digest."""
    bake = result(target("g", [AMD]), target("p", contexts={"g": "target:g"}), target("c", [ARM], {"p": "target:p"}))
    history = History({"g|linux/amd64": (20.0,), "p|native": (10.0,), "c|linux/arm64": (30.0,)})
    return build_plan(bake, [node("amd", AMD, slots=2), node("arm", ARM)], history=history)


def test_a_child_reads_its_platformless_parent_by_digest_in_the_table_and_json() -> None:
    plan = indirect()
    text = table.render(plan)
    assert "\n  c@linux/arm64 reads p@linux/amd64 from amd (~4s)\n" in text
    assert "3 jobs, 1 hand-over on 2 nodes" in text
    assert "estimated makespan 1m05s" in text  # c: after g (20s) and p (10s + 1s export), 4s hand-over of p, 30s
    data = json.loads(json_.render(plan))
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert [(h["child"], h["parent"], h["seconds"]) for h in data["handovers"]] == [("c@linux/arm64", "p@linux/amd64", 4.0)]


def test_dot_and_mermaid_draw_a_hand_over_from_a_grandparent() -> None:
    bake = result(target("g", [AMD]), target("p", [ARM], {"g": "target:g"}), target("c", [ARM], {"p": "target:p"}))
    plan = build_plan(bake, [node("amd", AMD, slots=2), node("arm", ARM)])  # j0 g, j1 p, j2 c: c re-solves p, reads g
    assert '"g@linux/amd64" -> "c@linux/arm64"' in dot.render(plan)
    assert '  j0 -.->|"hand-over 0s"| j2\n' in mermaid.render(plan)
