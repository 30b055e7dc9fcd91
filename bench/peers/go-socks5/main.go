// Command go-socks5 is the benchmark's upstream-style Go peer: a SOCKS5 server
// built on github.com/armon/go-socks5 (Debian package), which relays with one
// goroutine per direction and io.Copy, the same model as upstream GOST.
//
// Usage: go-socks5 127.0.0.1:PORT   (no authentication, logging discarded)
package main

import (
	"io"
	"log"
	"net"
	"os"
	"time"

	socks5 "github.com/armon/go-socks5"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go-socks5 LISTEN_ADDR")
	}
	srv, err := socks5.New(&socks5.Config{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	// Serve returns on any accept error (EMFILE when out of fds); keep serving,
	// as upstream GOST does, instead of exiting.
	for {
		_ = srv.Serve(l)
		time.Sleep(10 * time.Millisecond)
	}
}
