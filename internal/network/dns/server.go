// Package dns is the embedded DNS server of a user-defined network: the
// pelagos-dns process, one per network, listening on the network's
// gateway addresses (UDP and TCP port 53) in the host's network
// namespace. It answers A and AAAA queries for the names in a records
// file that package network rewrites as containers come and go, and
// forwards every other query to the host's resolvers (which, being in
// the host's namespace, it reaches even at 127.0.0.53), or to a
// container's own --dns servers. It exits by itself once the records
// file lists nobody.
//
// It must stay small (it runs as long as a network has containers) and
// must not import the engine or the runtime.
package dns

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fdReady is where the starting command waits for "ok" (or "error MSG").
const fdReady = 3

// forwardTimeout bounds one upstream's answer.
const forwardTimeout = 2 * time.Second

// Options are the server's arguments.
type Options struct {
	Records    string   // the records file
	PidFile    string   // removed when the server exits because idle
	Lock       string   // the network state lock, held while deciding to exit
	Listen     []string // addresses to serve on
	Port       int      // 53 unless told (tests)
	ResolvConf string   // the host's resolver configuration
}

func parseArgs(args []string) (Options, error) {
	o := Options{Port: 53, ResolvConf: "/etc/resolv.conf"}
	if v := os.Getenv("PELAGOS_RESOLV_CONF"); v != "" {
		o.ResolvConf = v
	}
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			return o, fmt.Errorf("%s needs a value", args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "--records":
			o.Records = v
		case "--pidfile":
			o.PidFile = v
		case "--lock":
			o.Lock = v
		case "--listen":
			o.Listen = strings.Split(v, ",")
		case "--port":
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, fmt.Errorf("bad --port %q", v)
			}
			o.Port = n
		case "--resolv-conf":
			o.ResolvConf = v
		default:
			return o, fmt.Errorf("unknown argument %s", args[i])
		}
		i++
	}
	if o.Records == "" || len(o.Listen) == 0 {
		return o, errors.New("usage: pelagos-dns --records FILE --listen ADDR[,ADDR] [--pidfile FILE --lock FILE] [--port N] [--resolv-conf FILE]")
	}
	return o, nil
}

// Main runs the server; it returns the process exit status.
func Main(args []string) int {
	ready := os.NewFile(fdReady, "ready")
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pelagos-dns:", err)
		report(ready, "error "+err.Error())
		return 2
	}
	s := &Server{opts: o}
	if err := s.Listen(); err != nil {
		report(ready, "error "+err.Error())
		return 1
	}
	report(ready, "ok")
	if ready != nil {
		ready.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s.Serve(ctx)
	return 0
}

func report(f *os.File, msg string) {
	if f != nil {
		_, _ = f.WriteString(msg + "\n")
	}
}

// Server serves one network's names.
type Server struct {
	opts  Options
	udp   []net.PacketConn
	tcp   []net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex // guards the fields below
	recs  table
	stamp fileStamp
	hosts []string // the host's resolvers, "ip:53"
	rstmp fileStamp
}

// table is the records: name -> addresses, client -> its upstreams.
type table struct {
	names     map[string][]netip.Addr
	upstreams map[netip.Addr][]string
}

// Listen binds the UDP and TCP sockets.
func (s *Server) Listen() error {
	for _, a := range s.opts.Listen {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("bad listen address %q", a)
		}
		addr := netip.AddrPortFrom(ip, uint16(s.opts.Port)).String()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		s.udp = append(s.udp, u)
		t, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		s.tcp = append(s.tcp, t)
	}
	s.reload()
	return nil
}

// Serve answers queries until ctx ends or the network has no container.
func (s *Server) Serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	for _, u := range s.udp {
		s.wg.Add(1)
		go s.serveUDP(ctx, u)
	}
	for _, t := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(ctx, t)
	}
	s.watchIdle(ctx)
	cancel()
	for _, u := range s.udp {
		u.Close()
	}
	for _, t := range s.tcp {
		t.Close()
	}
	s.wg.Wait()
}

// watchIdle returns when ctx ends, or when the records file has listed
// nobody for two checks in a row and, under the state lock (so that no
// command is adding a name meanwhile), still does.
func (s *Server) watchIdle(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if s.reload(); s.empty() {
			idle++
		} else {
			idle = 0
		}
		if idle >= 2 && s.exitIfStillEmpty() {
			return
		}
	}
}

func (s *Server) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs.names) == 0
}

func (s *Server) exitIfStillEmpty() bool {
	if s.opts.Lock == "" {
		return true
	}
	f, err := os.OpenFile(s.opts.Lock, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return false
	}
	if s.reload(); !s.empty() {
		return false
	}
	// The pid file is removed only if it names us: a command may have
	// started a successor after deciding we were gone.
	if b, err := os.ReadFile(s.opts.PidFile); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 && f[0] == strconv.Itoa(os.Getpid()) {
			os.Remove(s.opts.PidFile)
		}
	}
	return true
}

func (s *Server) serveUDP(ctx context.Context, u net.PacketConn) {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		n, from, err := u.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		query := append([]byte(nil), buf[:n]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if resp := s.handle(ctx, query, clientAddr(from), "udp"); resp != nil {
				_, _ = u.WriteTo(resp, from)
			}
		}()
	}
}

func (s *Server) serveTCP(ctx context.Context, l net.Listener) {
	defer s.wg.Done()
	for ctx.Err() == nil {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			for {
				query, err := readTCPMsg(r)
				if err != nil {
					return
				}
				resp := s.handle(ctx, query, clientAddr(c.RemoteAddr()), "tcp")
				if resp == nil || writeTCPMsg(c, resp) != nil {
					return
				}
			}
		}()
	}
}

func clientAddr(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func readTCPMsg(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeTCPMsg(w io.Writer, b []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	return err
}

// handle answers one query: from the records, or by forwarding it.
func (s *Server) handle(ctx context.Context, query []byte, client netip.Addr, proto string) []byte {
	q, ok := parseQuery(query)
	if !ok {
		return nil
	}
	s.reload()
	s.mu.Lock()
	addrs, known := s.recs.names[q.name]
	ups := s.recs.upstreams[client]
	if len(ups) == 0 {
		ups = s.hosts
	}
	s.mu.Unlock()
	if known && q.qclass == classIN {
		return answer(query, q, addrs)
	}
	if resp := forward(ctx, query, ups, proto); resp != nil {
		return resp
	}
	return servfail(query, q)
}

// forward asks each upstream in turn and relays the first answer.
func forward(ctx context.Context, query []byte, upstreams []string, proto string) []byte {
	for _, up := range upstreams {
		ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
		resp, err := exchange(ctx, query, up, proto)
		cancel()
		if err == nil {
			return resp
		}
	}
	return nil
}

func exchange(ctx context.Context, query []byte, server, proto string) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, proto, server)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if proto == "tcp" {
		if err := writeTCPMsg(c, query); err != nil {
			return nil, err
		}
		return readTCPMsg(c)
	}
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if n >= 2 && bytes.Equal(buf[:2], query[:2]) {
			return buf[:n], nil
		}
	}
}

// fileStamp tells whether a file changed since it was last read.
type fileStamp struct {
	mtime time.Time
	size  int64
	ino   uint64
}

func stampOf(path string) (fileStamp, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileStamp{}, false
	}
	return fileStamp{time.Unix(st.Mtim.Unix()), st.Size, st.Ino}, true
}

// reload rereads the records and the host's resolvers if they changed
// (a stat each: cheap enough to do for every query, so that a container
// that just started is found at once).
func (s *Server) reload() {
	st, ok := stampOf(s.opts.Records)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.recs, s.stamp = table{}, fileStamp{}
	} else if st != s.stamp {
		if b, err := os.ReadFile(s.opts.Records); err == nil {
			s.recs, s.stamp = parseRecords(b), st
		}
	}
	if rst, ok := stampOf(s.opts.ResolvConf); ok && rst != s.rstmp {
		if b, err := os.ReadFile(s.opts.ResolvConf); err == nil {
			s.hosts, s.rstmp = nameservers(b), rst
		}
	}
}

// parseRecords reads "ADDR NAME..." and "upstream CLIENT SERVER..." lines.
func parseRecords(b []byte) table {
	t := table{names: map[string][]netip.Addr{}, upstreams: map[netip.Addr][]string{}}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if f[0] == "upstream" {
			if c, err := netip.ParseAddr(f[1]); err == nil {
				for _, u := range f[2:] {
					if a, err := netip.ParseAddr(u); err == nil {
						t.upstreams[c] = append(t.upstreams[c], netip.AddrPortFrom(a, 53).String())
					}
				}
			}
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			t.names[n] = append(t.names[n], a)
		}
	}
	return t
}

// nameservers lists resolv.conf's servers as "ip:53".
func nameservers(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out
}
