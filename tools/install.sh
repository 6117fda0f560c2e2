#!/usr/bin/env bash
# Installs the external tools bakeplan's tests run against, at the versions
# pinned in tools/versions.env, under .tools/ in the project:
#   .tools/bin/buildx, .tools/bin/buildkitd, .tools/bin/buildctl (built with Go)
#   .tools/docker/cli-plugins/docker-buildx (DOCKER_CONFIG=.tools/docker finds it)
# plus Debian's runc, busybox-static and docker-registry when running as root.
# Idempotent: a tool already built at the pinned version is kept.
# A tool that cannot be installed is reported; the tests that need it skip
# with a reason naming it (CI=true makes any failure here fatal).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$here/tools/versions.env"
tools="$here/.tools"
mkdir -p "$tools/bin" "$tools/docker/cli-plugins"
failed=()

stamp_ok() { [ -x "$tools/bin/$1" ] && [ "$(cat "$tools/bin/.$1.version" 2>/dev/null)" = "$2" ]; }

install_buildx() {
    stamp_ok buildx "$BUILDX_VERSION" && return 0
    command -v go >/dev/null || { echo "install: go not found, cannot build buildx" >&2; return 1; }
    echo "install: building buildx $BUILDX_VERSION with Go (a few minutes the first time)" >&2
    GOBIN="$tools/bin" GOFLAGS=-trimpath go install \
        -ldflags "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" \
        "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION" || return 1
    echo "$BUILDX_VERSION" > "$tools/bin/.buildx.version"
}

install_buildkit() {
    stamp_ok buildkitd "$BUILDKIT_VERSION" && stamp_ok buildctl "$BUILDKIT_VERSION" && return 0
    command -v go >/dev/null || { echo "install: go not found, cannot build buildkitd" >&2; return 1; }
    echo "install: building buildkitd and buildctl $BUILDKIT_VERSION with Go (a few minutes the first time)" >&2
    # BuildKit's go.mod has exclude directives, which `go install pkg@version`
    # refuses; build inside the downloaded module instead (same source, same pin).
    local dir
    dir=$(go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
    [ -n "$dir" ] || return 1
    (cd "$dir" && GOFLAGS="-mod=mod -trimpath" go build \
        -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
        -o "$tools/bin/" ./cmd/buildkitd ./cmd/buildctl) || return 1
    echo "$BUILDKIT_VERSION" > "$tools/bin/.buildkitd.version"
    echo "$BUILDKIT_VERSION" > "$tools/bin/.buildctl.version"
}

install_debian() {
    local missing=()
    command -v runc >/dev/null || missing+=(runc)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    command -v jq >/dev/null || missing+=(jq)  # the generated CI scripts read digests with jq
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "install: need root and apt-get for: ${missing[*]}" >&2
        return 1
    fi
    echo "install: apt-get install ${missing[*]}" >&2
    { apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

install_buildx || failed+=("buildx $BUILDX_VERSION")
ln -sf "$tools/bin/buildx" "$tools/docker/cli-plugins/docker-buildx"
install_buildkit || failed+=("buildkitd $BUILDKIT_VERSION")
install_debian || failed+=("runc/busybox-static/docker-registry/jq (Debian)")

if [ ${#failed[@]} -gt 0 ]; then
    echo "install: could not install: ${failed[*]}; tests that need them will be skipped" >&2
    [ "${CI:-}" = true ] && exit 1
fi
exit 0
