// Command pelagos-runc is pelagos's OCI runtime with runc's command line, so
// that containerd, podman, Docker and the OCI validation suite can drive it
// unchanged.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-v") {
		fmt.Printf("pelagos-runc version %s\nspec: 1.3.0\n", version)
		return
	}
	fmt.Fprintln(os.Stderr, "pelagos-runc: no command given")
	os.Exit(1)
}
