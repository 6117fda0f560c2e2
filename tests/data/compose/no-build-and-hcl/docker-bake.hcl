group "default" {
  targets = ["app"]
}

target "app" {
  context = "."
}
