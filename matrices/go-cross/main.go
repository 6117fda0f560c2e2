package main

import (
	"fmt"
	"runtime"
)

var version = "dev"

func main() {
	fmt.Printf("hello %s (%s/%s)\n", version, runtime.GOOS, runtime.GOARCH)
}
