# A multi-stage application image for several platforms, in two variants,
# with registry cache settings that bakeplan replaces by per-platform refs.
#
#   cd matrices/app-image   # contexts are relative to the directory bake runs in
#   bakeplan plan
#   bakeplan run --cache registry:registry.example.com/app/cache

variable "REGISTRY" {
  default = "registry.example.com/acme"
}

variable "TAG" {
  default = "latest"
}

variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386"]
}

function "image" {
  params = [name, variant]
  result = variant == "full" ? "${REGISTRY}/${name}:${TAG}" : "${REGISTRY}/${name}:${TAG}-${variant}"
}

group "default" {
  targets = ["app"]
}

target "app" {
  name = "app-${variant}"
  matrix = {
    variant = ["full", "slim"]
  }
  dockerfile = "Dockerfile"
  target     = variant
  platforms  = PLATFORMS
  tags       = [image("app", variant)]
  labels = {
    "org.opencontainers.image.title"   = "app"
    "org.opencontainers.image.version" = TAG
  }
  cache-from = ["type=registry,ref=${REGISTRY}/app:cache-${variant}"]
  cache-to   = ["type=registry,ref=${REGISTRY}/app:cache-${variant},mode=max"]
}
