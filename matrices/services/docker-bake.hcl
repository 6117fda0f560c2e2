# Services that share a base image through `target:` contexts: bake builds
# `base` first (per platform) and feeds it to every service as `FROM base`.
#
#   cd matrices/services   # contexts are relative to the directory bake runs in
#   bakeplan plan --format mermaid

variable "TAG" {
  default = "dev"
}

group "default" {
  targets = ["services"]
}

group "services" {
  targets = ["api", "worker", "web"]
}

target "_platforms" {
  platforms = ["linux/amd64", "linux/arm64"]
}

target "base" {
  inherits   = ["_platforms"]
  context    = "base"
  tags       = ["acme/base:${TAG}"]
}

target "api" {
  inherits = ["_platforms"]
  context  = "api"
  contexts = {
    base = "target:base"
  }
  tags = ["acme/api:${TAG}"]
}

target "worker" {
  inherits = ["_platforms"]
  context  = "worker"
  contexts = {
    base = "target:base"
  }
  tags = ["acme/worker:${TAG}"]
}

target "web" {
  inherits = ["_platforms"]
  context  = "web"
  contexts = {
    api = "target:api"
  }
  args = {
    API_URL = "http://api:8080"
  }
  tags = ["acme/web:${TAG}"]
}
