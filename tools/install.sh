#!/usr/bin/env bash
# Installs the external tools bakeplan's tests run against, at the versions
# pinned in tools/versions.env, under .tools/ in the project:
#   .tools/bin/buildx, .tools/bin/buildkitd, .tools/bin/buildctl (built with Go)
#   .tools/docker/cli-plugins/docker-buildx (DOCKER_CONFIG=.tools/docker finds it)
#   .tools/buildx-oldest/docker-buildx: the oldest buildx the README claims (built with Go)
#   .tools/bin/actionlint (built with Go) for the generated GitHub workflows
#   .tools/bin/gitlab-ci-local, .tools/bin/npm-groovy-lint (npm packages under
#   .tools/npm, run by the pinned Node from npm's `node` package there)
# plus Debian's runc, busybox-static, docker-registry, jq, openssl, shellcheck, rsync and a Java
# runtime when running as root.
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

# The oldest buildx the README claims the `bakeplan ci` overrides work with, as a
# docker CLI plugin of its own (tests/test_emit_buildx.py checks every leg on it
# and on the pinned one). Its go.mod has exclude directives, so it is built like
# BuildKit, inside the downloaded module.
install_buildx_oldest() {
    local dest="$tools/buildx-oldest" dir
    [ -x "$dest/docker-buildx" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$BUILDX_OLDEST_VERSION" ] && return 0
    command -v go >/dev/null || { echo "install: go not found, cannot build buildx $BUILDX_OLDEST_VERSION" >&2; return 1; }
    echo "install: building buildx $BUILDX_OLDEST_VERSION with Go (a few minutes the first time)" >&2
    dir=$(go mod download -json "github.com/docker/buildx@$BUILDX_OLDEST_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
    [ -n "$dir" ] || return 1
    mkdir -p "$dest" || return 1
    (cd "$dir" && GOFLAGS="-mod=mod -trimpath" go build \
        -ldflags "-X github.com/docker/buildx/version.Version=$BUILDX_OLDEST_VERSION" \
        -o "$dest/docker-buildx" ./cmd/buildx) || return 1
    echo "$BUILDX_OLDEST_VERSION" > "$dest/.version"
}

install_actionlint() {
    stamp_ok actionlint "$ACTIONLINT_VERSION" && return 0
    command -v go >/dev/null || { echo "install: go not found, cannot build actionlint" >&2; return 1; }
    echo "install: building actionlint $ACTIONLINT_VERSION with Go" >&2
    GOBIN="$tools/bin" GOFLAGS=-trimpath go install \
        "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" || return 1
    echo "$ACTIONLINT_VERSION" > "$tools/bin/.actionlint.version"
}

# npm packages under .tools/npm, each started by a wrapper in .tools/bin that
# runs it with the pinned Node (gitlab-ci-local needs a newer one than Debian's).
npm_pins() { echo "node@$NODE_VERSION gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION npm-groovy-lint@$NPM_GROOVY_LINT_VERSION"; }

install_npm_tools() {
    local npm_dir="$tools/npm" pins
    pins=$(npm_pins)
    if [ "$(cat "$npm_dir/.version" 2>/dev/null)" != "$pins" ]; then
        command -v npm >/dev/null || { echo "install: npm not found, cannot install $pins" >&2; return 1; }
        echo "install: npm install $pins" >&2
        rm -rf "$npm_dir" && mkdir -p "$npm_dir" || return 1
        # shellcheck disable=SC2086 # the pins are words
        npm install --prefix "$npm_dir" --no-audit --no-fund --no-save --loglevel=error $pins >/dev/null || return 1
        echo "$pins" > "$npm_dir/.version"
    fi
    npm_wrapper gitlab-ci-local gitlab-ci-local/dist/index.js
    npm_wrapper npm-groovy-lint npm-groovy-lint/lib/index.js
}

npm_wrapper() {
    local modules="$tools/npm/node_modules"
    [ -f "$modules/$2" ] && [ -x "$modules/node/bin/node" ] || return 1
    printf '#!/bin/bash\nexec %q %q "$@"\n' "$modules/node/bin/node" "$modules/$2" > "$tools/bin/$1"
    chmod +x "$tools/bin/$1"
}

install_debian() {
    local missing=()
    command -v runc >/dev/null || missing+=(runc)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    command -v jq >/dev/null || missing+=(jq)  # the generated CI scripts read digests with jq
    command -v shellcheck >/dev/null || missing+=(shellcheck)  # actionlint checks `run:` scripts with it
    command -v rsync >/dev/null || missing+=(rsync)  # gitlab-ci-local copies the project for each job with it
    command -v java >/dev/null || missing+=(default-jre-headless)  # npm-groovy-lint runs CodeNarc on Java
    command -v openssl >/dev/null || missing+=(openssl)  # the TLS tests make their certificates with it
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
install_buildx_oldest || failed+=("buildx $BUILDX_OLDEST_VERSION (the oldest claimed)")
install_debian || failed+=("runc/busybox-static/docker-registry/jq/openssl/shellcheck/rsync/java (Debian)")
install_actionlint || failed+=("actionlint $ACTIONLINT_VERSION")
install_npm_tools || failed+=("$(npm_pins) (npm)")

if [ ${#failed[@]} -gt 0 ]; then
    echo "install: could not install: ${failed[*]}; tests that need them will be skipped" >&2
    [ "${CI:-}" = true ] && exit 1
fi
exit 0
