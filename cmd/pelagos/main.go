// Command pelagos is the docker-like user CLI: it needs no daemon.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
