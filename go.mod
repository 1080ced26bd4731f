module github.com/pelagos-go/pelagos

go 1.26.8
