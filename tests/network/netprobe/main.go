// Command netprobe is the network tests' and benchmark's tool inside
// containers (and on the test's "hosts"): small servers and clients whose
// answers say who answered and who was seen, and a TCP throughput pair.
//
//	netprobe serve PROTO PORT      answer each TCP connection or UDP
//	                               datagram with "NAME PEER\n" (NAME is
//	                               $NAME or the hostname; PEER the
//	                               client's address as seen here)
//	netprobe ask PROTO ADDR:PORT   print the answer of such a server
//	                               (exit 1 after 3 s without one)
//	netprobe sink PORT             accept TCP connections, discard input
//	netprobe send ADDR:PORT BYTES  send BYTES over TCP, print bytes/s
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: netprobe serve|ask|sink|send ...")
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2], os.Args[3])
	case "ask":
		err = ask(os.Args[2], os.Args[3])
	case "sink":
		err = sink(os.Args[2])
	case "send":
		n, _ := strconv.ParseInt(os.Args[3], 10, 64)
		err = send(os.Args[2], n)
	default:
		err = fmt.Errorf("unknown mode %s", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "netprobe:", msg)
	os.Exit(1)
}

func name() string {
	if n := os.Getenv("NAME"); n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}

func serve(proto, port string) error {
	if proto == "udp" {
		pc, err := net.ListenPacket("udp", ":"+port)
		if err != nil {
			return err
		}
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return err
			}
			pc.WriteTo([]byte(name()+" "+from.String()+"\n"), from)
		}
	}
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		fmt.Fprintf(c, "%s %s\n", name(), c.RemoteAddr())
		c.Close()
	}
}

func ask(proto, addr string) error {
	c, err := net.DialTimeout(proto, addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if proto == "udp" {
		if _, err := c.Write([]byte("?")); err != nil {
			return err
		}
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	os.Stdout.Write(buf[:n])
	return nil
}

func sink(port string) error {
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

func send(addr string, n int64) error {
	var c net.Conn
	var err error
	for i := 0; i < 50; i++ { // the sink may still be starting
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	var sent int64
	for sent < n {
		k, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
		if err != nil {
			return err
		}
		sent += int64(k)
	}
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	fmt.Printf("%.0f\n", float64(sent)/time.Since(start).Seconds())
	return nil
}
