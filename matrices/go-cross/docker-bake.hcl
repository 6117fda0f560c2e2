# Cross-compile a Go CLI for every GOOS x GOARCH pair and export the binaries.
#
#   bakeplan plan -f matrices/go-cross/docker-bake.hcl
#   bakeplan run  -f matrices/go-cross/docker-bake.hcl --only goos=linux
#
# One target per pair (matrix), each building on the node's native platform and
# cross-compiling with GOOS/GOARCH, so every job can go to any node.

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
