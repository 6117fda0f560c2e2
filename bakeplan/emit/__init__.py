"""CI renderers: GitHub Actions, GitLab CI, Jenkins. Data first, text last.

    bake result -> source.jobs_from_result  (plan-stage jobs + what CI needs)
                -> legs.build_plan          (runners, --set overrides, layers, chunks, merges)
                -> since.select_changed     (optional: --since REV)
                -> github / gitlab / jenkins (text)

`build.ci_plan` runs the whole chain for `bakeplan ci`; `check` keeps the
checked-in plans under `matrices/` fresh (`make check-matrices`); `yamldoc`
styles PyYAML's safe dumper for CI files.

Linked targets (`target:` contexts) are not co-scheduled here as `bakeplan
plan` does for one host: a CI plan gives every target x platform its own
leg, ordered in layers. With a registry (`--push`, `--handoff`) a child's leg
reads its parents by digest from the registry; otherwise it rebuilds them
from the parents' per-leg caches, and says so (see `legs` and `model`).
"""
