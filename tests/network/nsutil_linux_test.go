package network

import (
	"os"

	"github.com/vishvananda/netns"
)

func nbHandle(f *os.File) netns.NsHandle { return netns.NsHandle(int(f.Fd())) }
