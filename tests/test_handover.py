"""Hand-over copies: where a parent's result goes, how its digest is read, when copies are removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.schema import csv_fields
from bakeplan.errors import BakeplanError
from bakeplan.handover import DOCKER_LIST, OCI_INDEX, Handoff, HandoverStore, image_digest

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
AMD64 = {"architecture": "amd64", "os": "linux"}
ATTESTATION = {"architecture": "unknown", "os": "unknown"}


def blob(layout: Path, document: dict[str, Any]) -> str:
    """Store a JSON blob in an OCI layout; its digest."""
    data = json.dumps(document).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def descriptor(media_type: str, digest: str, platform: dict[str, str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": 1}
    if platform is not None:
        entry["platform"] = platform
    return entry


def image(layout: Path, name: str) -> str:
    """A (fake) image manifest blob; its digest."""
    return blob(layout, {"schemaVersion": 2, "mediaType": MANIFEST, "annotations": {"name": name}})


def layout_with_attestation(layout: Path, *, attestation_first: bool = True, index_type: str = OCI_INDEX) -> str:
    """What BuildKit exports for one platform with provenance: index.json -> index -> [attestation, image].

    Returns the image manifest's digest.
    """
    wanted = image(layout, "image")
    entries = [descriptor(MANIFEST, image(layout, "attestation"), ATTESTATION), descriptor(MANIFEST, wanted, AMD64)]
    inner = blob(layout, {"schemaVersion": 2, "mediaType": index_type,
                          "manifests": entries if attestation_first else entries[::-1]})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [descriptor(index_type, inner)]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return wanted


# ---------------------------------------------------------------- --handoff


@pytest.mark.parametrize(("text", "handoff"), [
    ("oci", Handoff("oci", "")),
    ("registry:127.0.0.1:5000/handover", Handoff("registry", "127.0.0.1:5000/handover")),
])
def test_handoff_parses_oci_and_a_registry_repository(text: str, handoff: Handoff) -> None:
    assert Handoff.parse(text) == handoff


@pytest.mark.parametrize("text", ["", "oci:", "oci:/tmp", "registry", "registry:", "registry:r/h@sha256:abc", "s3:bucket"])
def test_a_bad_handoff_says_what_is_accepted(text: str) -> None:
    with pytest.raises(BakeplanError) as caught:
        Handoff.parse(text)
    assert caught.value.message == f"bad --handoff {text!r}"
    assert caught.value.hint == "Use --handoff oci (an OCI layout in the run directory) or --handoff registry:REPO."


# ---------------------------------------------------------------- the digest in a layout


def test_the_digest_of_a_layout_holding_one_image_manifest(tmp_path: Path) -> None:
    wanted = image(tmp_path, "image")
    (tmp_path / "index.json").write_text(json.dumps({"manifests": [descriptor(MANIFEST, wanted)]}))
    assert image_digest(tmp_path) == wanted


@pytest.mark.parametrize("attestation_first", [True, False])
@pytest.mark.parametrize("index_type", [OCI_INDEX, DOCKER_LIST])
def test_inside_an_index_the_digest_is_the_images_never_the_attestations(
    tmp_path: Path, attestation_first: bool, index_type: str,
) -> None:
    wanted = layout_with_attestation(tmp_path, attestation_first=attestation_first, index_type=index_type)
    assert image_digest(tmp_path) == wanted


def only_attestations(layout: Path) -> None:
    inner = blob(layout, {"mediaType": OCI_INDEX, "manifests": [descriptor(MANIFEST, image(layout, "a"), ATTESTATION)]})
    (layout / "index.json").write_text(json.dumps({"manifests": [descriptor(OCI_INDEX, inner)]}))


def missing_blob(layout: Path) -> None:
    (layout / "index.json").write_text(json.dumps({"manifests": [descriptor(OCI_INDEX, "sha256:" + "0" * 64)]}))


@pytest.mark.parametrize("write", [
    lambda layout: None,  # no index.json: the export never finished
    lambda layout: (layout / "index.json").write_text("{"),
    lambda layout: (layout / "index.json").write_text('{"manifests": []}'),
    only_attestations,
    missing_blob,
])
def test_a_layout_without_an_image_is_an_error_that_says_to_run_again(tmp_path: Path, write: Any) -> None:
    write(tmp_path)
    with pytest.raises(BakeplanError, match=f"^no image in the hand-over layout {tmp_path}: ") as caught:
        image_digest(tmp_path)
    assert caught.value.hint == "The export did not finish; run again (--resume)."


# ---------------------------------------------------------------- the store of one run


def test_an_oci_export_is_written_beside_its_final_place_and_moved_there_when_collected(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path / "run")
    assert store.output("base@linux/arm64") == f"type=oci,dest={tmp_path}/run/handover/base_linux_arm64.partial,tar=false"
    store.prepare("base@linux/arm64")
    partial = store.partial("base@linux/arm64")
    assert partial == tmp_path / "run" / "handover" / "base_linux_arm64.partial"
    assert partial.is_dir() and not any(partial.iterdir())  # made here: a folder bake cannot write fails with our remedy
    wanted = layout_with_attestation(partial)
    final = tmp_path / "run" / "handover" / "base_linux_arm64"
    assert store.collect("base@linux/arm64") == f"oci-layout://{final}@{wanted}"
    assert sorted(p.name for p in store.root.iterdir()) == ["base_linux_arm64"]
    assert image_digest(final) == wanted


def test_an_export_into_a_folder_with_a_comma_still_names_that_folder(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path / "a,b")
    assert csv_fields(store.output("app")) == ["type=oci", f"dest={tmp_path}/a,b/handover/app.partial", "tar=false"]


def test_collecting_again_replaces_an_older_copy(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path)
    (store.root / "app").mkdir(parents=True)
    (store.root / "app" / "stale").write_text("old")
    store.partial("app").mkdir()
    wanted = layout_with_attestation(store.partial("app"))
    assert store.collect("app") == f"oci-layout://{store.root / 'app'}@{wanted}"
    assert not (store.root / "app" / "stale").exists()


def test_preparing_drops_a_stale_partial_export(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path)
    store.partial("app").mkdir(parents=True)
    (store.partial("app") / "index.json").write_text("{}")
    store.prepare("app")
    assert store.root.is_dir() and not any(store.partial("app").iterdir())


def test_a_hand_over_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "handover").write_text("a file where the folder should be")
    with pytest.raises(BakeplanError, match=f"^cannot write the hand-over of app in {tmp_path}/handover: ") as caught:
        HandoverStore(tmp_path).prepare("app")
    assert caught.value.hint == "Pick a writable place with --run-dir."


def test_collecting_an_unfinished_export_fails_and_leaves_nothing_in_place(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path)
    store.prepare("app")
    with pytest.raises(BakeplanError, match="no image in the hand-over layout"):
        store.collect("app")
    assert not (store.root / "app").exists()


def test_discarding_partials_keeps_finished_copies_and_cleanup_removes_everything(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path)
    for name in ("done", "half.partial", "other.partial"):
        (store.root / name).mkdir(parents=True)
    store.discard_partial()
    assert sorted(p.name for p in store.root.iterdir()) == ["done"]
    store.cleanup()
    assert not store.root.exists()
    store.discard_partial()  # nothing there: nothing to do
    store.cleanup()


def test_a_registry_hand_over_pushes_by_digest_and_is_read_by_digest(tmp_path: Path) -> None:
    store = HandoverStore(tmp_path, Handoff("registry", "r.io/handover"))
    assert store.output("app@linux/amd64") == (
        "type=image,name=r.io/handover,push-by-digest=true,name-canonical=true,push=true")
    assert store.collect("app@linux/amd64", "sha256:abc") == "docker-image://r.io/handover@sha256:abc"
    with pytest.raises(BakeplanError) as caught:
        store.collect("app@linux/amd64")
    assert caught.value.message == "app@linux/amd64 pushed no digest to r.io/handover"
