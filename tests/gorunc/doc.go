// Package gorunc holds tests that drive the runtime under test through
// containerd's go-runc client, exactly as containerd's shims do: create
// with piped IO or a console socket, start, state, exec with a process
// spec, ps, list, kill, wait, delete. By default the runtime is
// pelagos-runc built from this tree; PELAGOS_TEST_RUNTIME=/usr/sbin/runc
// proves the tests against runc.
package gorunc
