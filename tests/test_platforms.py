from __future__ import annotations

import pytest

from bakeplan.bake.definition import default_builtins
from bakeplan.nodes import discover
from bakeplan.nodes.machine import Machine
from bakeplan.platforms import (
    PLATFORM_SPEC,
    buildx_local_platform,
    node_local_platform,
    normalize_platform,
    platform_text,
)


@pytest.mark.parametrize(("uname", "buildx", "node"), [
    (("Linux", "x86_64"), "linux/amd64", "linux/amd64"),
    (("Linux", "aarch64"), "linux/arm64/v8", "linux/arm64"),
    (("Linux", "arm64"), "linux/arm64/v8", "linux/arm64"),
    (("Darwin", "arm64"), "darwin/arm64", "darwin/arm64"),
    (("Windows", "AMD64"), "windows/amd64", "windows/amd64"),
    (("Linux", "s390x"), "linux/s390x", "linux/s390x"),
    (("", "x86_64"), "linux/amd64", "linux/amd64"),
])
def test_this_machine_has_a_buildx_form_and_a_node_form(uname: tuple[str, str], buildx: str, node: str) -> None:
    assert buildx_local_platform(_uname=uname) == buildx
    assert node_local_platform(_uname=uname) == node


def test_bake_sees_the_buildx_form_and_the_fallback_node_the_node_form() -> None:
    assert default_builtins()["BAKE_LOCAL_PLATFORM"] == buildx_local_platform()
    (local,) = discover((), _buildx_nodes=lambda builder: (), _machine=Machine("here", 2, None))
    assert local.platforms == (node_local_platform(),)
    assert local.platforms == (normalize_platform(buildx_local_platform()),)


@pytest.mark.parametrize(("text", "normal"), [
    ("linux/amd64", "linux/amd64"),
    ("Linux/X86_64", "linux/amd64"),
    ("linux/x86-64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"),
    ("linux/amd64/v3", "linux/amd64/v3"),
    ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"),
    ("linux/arm", "linux/arm/v7"),
    ("linux/armhf", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"),
    ("linux/i386", "linux/386"),
    (" windows/amd64 ", "windows/amd64"),
])
def test_platforms_normalize_as_containerd_does(text: str, normal: str) -> None:
    assert normalize_platform(text) == normal


def test_oci_platform_objects_read_as_text() -> None:
    assert platform_text({"os": "linux", "architecture": "arm", "variant": "v7"}) == "linux/arm/v7"
    assert platform_text({"os": "linux", "architecture": "amd64"}) == "linux/amd64"
    assert platform_text("linux/s390x") == "linux/s390x"


@pytest.mark.parametrize(("text", "ok"), [
    ("linux/amd64", True), ("linux/arm/v7", True), ("amd64", False), ("linux/arm/v7/x", False), ("linux/$x", False),
])
def test_a_declared_platform_is_os_arch_and_an_optional_variant(text: str, ok: bool) -> None:
    assert bool(PLATFORM_SPEC.match(text)) is ok
