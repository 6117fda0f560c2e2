"""Helpers shared by the tests (fixtures stay in tests/conftest.py).

- `tools`: where the pinned tools are; `need()` / `missing()` skip without one (fail under CI=true).
- `infra`: real BuildKit daemons, buildx builders, a registry (`python -m tests.support.infra` starts a cluster).
- `clusters`: what the BuildKit fixtures hand to a test (`Cluster`, `NodePair`, `TLSNode`, `Buildx`).
- `fakerun`: a recording runner and a fake composer for the run loop.
- `plans`: hand-made BakeResults and nodes for the plan tests.
- `ci`: reading emitted Jenkinsfiles, buildx's `--print` and images in the test registry.
"""
