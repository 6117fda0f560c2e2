# Cross-compile a Go CLI for every GOOS x GOARCH pair and export the binaries.
#
#   cd matrices/go-cross   # contexts are relative to the directory bake runs in
#   bakeplan plan
#   bakeplan run --only goos=linux
#
# One target per pair (matrix), no `platforms`: each job builds the builder's
# default platform, and the Dockerfile's RUN steps all run on $BUILDPLATFORM
# (cross-compiling with GOOS/GOARCH), so every job can go to any node.

variable "GO_VERSION" {
  default = "1.23"
}

variable "VERSION" {
  default = "v0.0.0-dev"
}

variable "CGO_ENABLED" {
  type    = number
  default = 0
}

group "default" {
  targets = ["binaries"]
}

target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    GO_VERSION  = GO_VERSION
    VERSION     = VERSION
    CGO_ENABLED = CGO_ENABLED
  }
}

target "binaries" {
  name     = "bin-${goos}-${replace(goarch, "/", "")}"
  inherits = ["_common"]
  matrix = {
    goos   = ["linux", "darwin", "windows", "freebsd"]
    goarch = ["amd64", "arm64", "arm/v7", "riscv64"]
  }
  target = "binary"
  args = {
    GOOS   = goos
    GOARCH = split("/", goarch)[0]
    GOARM  = length(split("/", goarch)) > 1 ? trimprefix(split("/", goarch)[1], "v") : ""
    EXT    = goos == "windows" ? ".exe" : ""
  }
  output = ["type=local,dest=dist/${goos}_${replace(goarch, "/", "_")}"]
}
