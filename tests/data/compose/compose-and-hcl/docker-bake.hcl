variable "TAG" {
  default = "hcl"
}

target "app" {
  args = {
    SHARED = "hcl"
    FROM_HCL = "2"
  }
  tags = ["example/app:${TAG}"]
  platforms = ["linux/amd64"]
}

target "lint" {
  inherits = ["app"]
  target = "lint"
}
