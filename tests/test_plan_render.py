from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from bakeplan.history import History
from bakeplan.nodes import Node
from bakeplan.plan import Plan, build_plan
from bakeplan.render import dot, json_, mermaid, table
from test_plan_support import node, result, target

AMD, ARM = "linux/amd64", "linux/arm64"
SCHEMA = Path(json_.__file__).with_name("plan.schema.json")


def sample() -> Plan:
    bake = result(
        target("base"),
        target("app", [AMD, ARM], {"b": "target:base"}),
        *[target(f"bin-{a}", [f"linux/{a}"], matrix={"goarch": a}, block="bin") for a in ("amd64", "arm64")],
    )
    history = History({"base|native": (20.0,), "app|linux/amd64": (40.0,), "app|linux/arm64": (50.0,)})
    return build_plan(bake, [node("amd", AMD, slots=2), node("both", AMD, ARM, slots=1)], history=history)


def test_json_follows_the_published_schema() -> None:
    data = json.loads(json_.render(sample()))
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))


def test_json_jobs_carry_node_times_matrix_deps_and_argv() -> None:
    data = json.loads(json_.render(sample()))
    app = next(j for j in data["jobs"] if j["id"] == "app@linux/arm64")
    assert {k: app[k] for k in ("target", "platform", "matrix", "deps", "node", "start", "end", "critical")} == {
        "target": "app", "platform": ARM, "matrix": {}, "deps": ["base@native"], "node": "both",
        "start": 20.0, "end": 70.0, "critical": True}
    assert app["argv"][:5] == ["docker", "buildx", "bake", "--builder", "both"]
    assert next(j for j in data["jobs"] if j["id"] == "bin-arm64@linux/arm64")["matrix"] == {"goarch": "arm64"}
    assert data["makespan"] == 130.0 and data["lower_bound"]["value"] <= 130.0


def test_json_is_stable() -> None:
    assert json_.render(sample()) == json_.render(sample())


def test_table_lists_jobs_per_node_with_times_critical_marks_and_summary() -> None:
    text = table.render(sample())
    assert "both  (linux/amd64, linux/arm64; 1 slot)" in text
    assert "app@linux/arm64" in text and "1m10s" in text and "█" in text
    assert "estimated makespan 2m10s; lower bound 2m10s" in text
    assert "critical path (*): base@native -> app@linux/arm64" in text


def test_dot_clusters_jobs_by_node_and_draws_links() -> None:
    text = dot.render(sample())
    assert text.startswith("digraph bakeplan {")
    assert '"base@native" -> "app@linux/arm64";' in text
    assert 'label="both";' in text


def test_mermaid_draws_a_flowchart_with_the_critical_path_styled() -> None:
    text = mermaid.render(sample())
    assert text.startswith("flowchart LR\n")
    assert "  j0 --> j1" in text or "  j0 --> j2" in text
    assert "class " in text and "critical" in text


def test_nodes_table_shows_why_a_node_is_left_out() -> None:
    down = Node("down", platforms=(AMD,), native=1, excluded="status error")
    text = table.render_nodes([node("amd", AMD, slots=2), down])
    assert "down: left out: status error" in text and "linux/amd64*" in text
    assert all(line == line.rstrip() for line in text.splitlines())


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
    assert "  slots: 4  memory: ?  used: yes\n" in text and "down: left out: status error\n" in text
    assert "┏" in table.render_nodes([wide], width=160)
