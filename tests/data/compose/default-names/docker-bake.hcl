target "c" {}
target "a" {
  tags = ["from-hcl"]
}
