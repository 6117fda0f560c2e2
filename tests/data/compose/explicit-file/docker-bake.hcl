target "ignored" {}
