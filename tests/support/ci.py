"""Reading what the CI emitters produce and what it builds: Groovy literals, buildx's --print, registry images."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import infra

LITERAL = re.compile(r"'''((?:[^\\]|\\.)*?)'''|'((?:[^'\\]|\\.)*)'", re.DOTALL)


def strings(text: str) -> list[str]:
    """Every Groovy single- or triple-quoted literal, unescaped."""
    found = [triple or single for triple, single in LITERAL.findall(text)]
    return [re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s, flags=re.DOTALL) for s in found]


def printed(buildx: Any, cwd: Path, argv: list[str]) -> dict[str, Any]:
    """Run `docker buildx bake ... --print` and return its JSON."""
    done = subprocess.run([*argv[:3], "--print", *argv[3:]], cwd=cwd, env=buildx.env, capture_output=True,
                          text=True, check=False, executable=buildx.docker)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert isinstance(document, dict)
    return document


def files_of(registry: infra.Registry, repository: str, reference: str, arch: str) -> dict[str, str]:
    """The files of one platform's image, read through the registry's HTTP API."""
    accept = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.docker.distribution.manifest.v2+json"])

    def get(kind: str, ref: str) -> bytes:
        request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/{kind}/{ref}", headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())

    index = json.loads(get("manifests", reference))
    digest = next(m["digest"] for m in index["manifests"] if m.get("platform", {}).get("architecture") == arch)
    files = {}
    for layer in json.loads(get("manifests", digest))["layers"]:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(get("blobs", layer["digest"])))) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    files[member.name] = extracted.read().decode()
    return files
