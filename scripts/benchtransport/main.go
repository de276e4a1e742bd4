// Command benchtransport is the Go half of scripts/bench-transport: it
// measures daskca's transport on loopback with the certificates of a Dask
// YAML configuration (a daskca-issued scheduler and worker), and a bare
// crypto/tls stream with the same certificates as the baseline.
//
//	benchtransport -sched sched.yaml -worker worker.yaml [-n 32] [-seconds 3] [-trials 3]
//
// It prints one "name value unit" line per figure:
//
//	throughput_ours_tls     n messages of 64 MiB through a Comm over tls://
//	throughput_ours_tcp     the same over tcp://
//	throughput_bare_tls     the same bytes through a tls.Conn, read with io.CopyN
//	throughput_bare_tls_buf the same, read into one reused 64 MiB buffer
//	throughput_bare_tls_batched
//	                        throughput_bare_tls with the dialer's records gathered
//	                        into 256 KiB writes, as the transport writes them
//	handshakes_ours         Connect: TCP + mutual TLS + Dask handshake, then close
//	                        (sessions resumed, as a dialer does after its first connection)
//	handshakes_ours_full    the same with no session kept: every handshake full
//	handshakes_bare         TCP + mutual TLS handshake + one byte from the server
//
// Throughputs are the median of the trials, in bytes per second; handshake
// rates are sequential connections per second over the given seconds. In
// both handshake figures the dialer waits for a byte the server sends after
// it has verified the dialer's certificate, so both count the whole mutual
// handshake (under TLS 1.3 the dialer finishes before the server verifies).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// msgSize is the message size the throughput targets are set for.
const msgSize = 64 << 20

type options struct {
	sched, worker string
	n             int
	seconds       float64
	trials        int
	only          string
	cpuprofile    string
}

func main() {
	var o options
	flag.StringVar(&o.sched, "sched", "", "Dask YAML of the listening scheduler")
	flag.StringVar(&o.worker, "worker", "", "Dask YAML of the dialing worker")
	flag.IntVar(&o.n, "n", 32, "64 MiB messages per throughput trial")
	flag.Float64Var(&o.seconds, "seconds", 3, "seconds per handshake measurement")
	flag.IntVar(&o.trials, "trials", 3, "throughput trials (the median is printed)")
	flag.StringVar(&o.only, "only", "", "run only the figures whose name contains this")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtransport:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchtransport:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(o options) error {
	server, err := security(o.sched, identity.Scheduler)
	if err != nil {
		return err
	}
	client, err := security(o.worker, identity.Worker)
	if err != nil {
		return err
	}
	payload := make([]byte, msgSize)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	tput := map[string]func() (float64, error){
		"throughput_ours_tls":     func() (float64, error) { return oursThroughput(server, client, "tls", payload, o.n) },
		"throughput_ours_tcp":     func() (float64, error) { return oursThroughput(nil, nil, "tcp", payload, o.n) },
		"throughput_bare_tls":     func() (float64, error) { return bareThroughput(server, client, payload, o.n, false, false) },
		"throughput_bare_tls_buf": func() (float64, error) { return bareThroughput(server, client, payload, o.n, true, false) },
		"throughput_bare_tls_batched": func() (float64, error) {
			return bareThroughput(server, client, payload, o.n, false, true)
		},
	}
	order := []string{"throughput_ours_tls", "throughput_bare_tls", "throughput_bare_tls_buf", "throughput_bare_tls_batched", "throughput_ours_tcp"}
	medians, err := interleaved(o, order, tput)
	if err != nil {
		return err
	}
	for _, name := range order {
		if v, ok := medians[name]; ok {
			fmt.Printf("%s %.0f bytes/s\n", name, v)
		}
	}
	if !strings.Contains("handshakes", o.only) {
		return nil
	}
	ours, stopOurs, err := oursDialer(server, client, true)
	if err != nil {
		return err
	}
	defer stopOurs()
	full, stopFull, err := oursDialer(server, client, false)
	if err != nil {
		return err
	}
	defer stopFull()
	bare, stopBare, err := bareDialer(server, client)
	if err != nil {
		return err
	}
	defer stopBare()
	rates, err := alternate(o.seconds, max(o.trials, 1), ours, full, bare)
	if err != nil {
		return err
	}
	fmt.Printf("handshakes_ours %.0f conn/s\nhandshakes_ours_full %.0f conn/s\nhandshakes_bare %.0f conn/s\n", rates[0], rates[1], rates[2])
	return nil
}

func security(file string, role identity.Role) (*transport.Security, error) {
	cfg, err := daskconfig.LoadConfig(daskconfig.LoadOptions{Dirs: []string{}, Files: []string{file}})
	if err != nil {
		return nil, err
	}
	return transport.NewSecurity(cfg, role, transport.SecurityOptions{})
}

// interleaved runs the throughput figures in turns, trial after trial, so
// that load from other processes touches all of them alike, and returns the
// median of each.
func interleaved(o options, order []string, fs map[string]func() (float64, error)) (map[string]float64, error) {
	runs := map[string][]float64{}
	for range max(o.trials, 1) {
		for _, name := range order {
			if !strings.Contains(name, o.only) {
				continue
			}
			v, err := fs[name]()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			runs[name] = append(runs[name], v)
		}
	}
	out := map[string]float64{}
	for name, vs := range runs {
		slices.Sort(vs)
		out[name] = vs[len(vs)/2]
	}
	return out, nil
}

// oursThroughput sends n messages {"op": "data", "payload": <64 MiB
// out-of-band frame>} through a Comm, the layout Dask uses for large
// buffers; the receiver decodes each and answers "done" after the last.
func oursThroughput(server, client *transport.Security, scheme string, payload []byte, n int) (float64, error) {
	var srvCfg, cliCfg *tls.Config
	if server != nil {
		srvCfg, cliCfg = server.ServerConfig(), client.ClientConfig(identity.Scheduler)
	}
	ctx := context.Background()
	ln, err := transport.Listen(ctx, scheme+"://127.0.0.1:0", srvCfg, func(c *wire.Comm) {
		for range n {
			if _, err := c.Read(ctx); err != nil {
				return
			}
		}
		_ = c.Write(ctx, "done")
	}, transport.ListenOptions{})
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	c, err := transport.Connect(ctx, ln.Addr(), cliCfg, wire.CommOptions{})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg := map[string]any{"op": "data", "payload": &wire.Serialized{
		Kind: wire.KindSerialized, Header: map[string]any{"serializer": "raw"}, Frames: [][]byte{payload}}}
	start := time.Now()
	for range n {
		if err := c.Write(ctx, msg); err != nil {
			return 0, err
		}
	}
	if m, err := c.Read(ctx); err != nil || m.Value != "done" {
		return 0, fmt.Errorf("no done message: %v %v", m.Value, err)
	}
	return float64(n*len(payload)) / time.Since(start).Seconds(), nil
}

// bareTLS returns plain tls.Configs holding the same certificates and CA:
// fixed material, no per-handshake role checks.
func bareTLS(server, client *transport.Security) (srv, cli *tls.Config, err error) {
	cfg := server.Config()
	pool, err := caPool(cfg.TLS.CAFile)
	if err != nil {
		return nil, nil, err
	}
	sf, cf := cfg.TLS.Scheduler, client.Config().TLS.Worker
	sc, err := tls.LoadX509KeyPair(sf.Cert, sf.Key)
	if err != nil {
		return nil, nil, err
	}
	cc, err := tls.LoadX509KeyPair(cf.Cert, cf.Key)
	if err != nil {
		return nil, nil, err
	}
	srv = &tls.Config{Certificates: []tls.Certificate{sc}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12, SessionTicketsDisabled: true}
	cli = &tls.Config{Certificates: []tls.Certificate{cc}, RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return srv, cli, nil
}

// bareThroughput writes the same bytes through a tls.Conn; the reader
// copies them to io.Discard or, with keep, reads each message into one
// reused 64 MiB buffer (a receiver that keeps what it receives, at the
// least cost: no allocation), and answers one byte after the last.
// gatherConn gathers what a tls.Conn writes while on, as the transport's
// record batching does, until Flush.
type gatherConn struct {
	net.Conn
	w  *bufio.Writer
	on bool
}

func (g *gatherConn) Write(p []byte) (int, error) {
	if !g.on {
		return g.Conn.Write(p)
	}
	return g.w.Write(p)
}

// bareThroughput sends n payloads through a bare tls.Conn to a receiver
// that reads them into io.Discard or, with keep, into one reused buffer.
// With batched, the sender's records are gathered into 256 KiB writes per
// payload, the way the transport writes large messages.
func bareThroughput(server, client *transport.Security, payload []byte, n int, keep, batched bool) (float64, error) {
	srv, cli, err := bareTLS(server, client)
	if err != nil {
		return 0, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if err := drain(c, n, len(payload), keep); err == nil {
			_, _ = c.Write([]byte{1})
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	g := &gatherConn{Conn: raw, w: bufio.NewWriterSize(raw, 256<<10)}
	c := tls.Client(g, cli)
	defer c.Close()
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		g.on = batched
		if _, err := c.Write(payload); err != nil {
			return 0, err
		}
		g.on = false
		if err := g.w.Flush(); err != nil {
			return 0, err
		}
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, err
	}
	return float64(n*len(payload)) / time.Since(start).Seconds(), nil
}

// oursDialer returns one Connect (TCP, mutual TLS with role checks, Dask
// handshake both ways) to a Listener whose handler returns at once; with
// resume false the dialer keeps no sessions, so every handshake is a full
// one.
func oursDialer(server, client *transport.Security, resume bool) (func() error, func(), error) {
	ctx := context.Background()
	ln, err := transport.Listen(ctx, "tls://127.0.0.1:0", server.ServerConfig(), func(*wire.Comm) {}, transport.ListenOptions{})
	if err != nil {
		return nil, nil, err
	}
	cfg := client.ClientConfig(identity.Scheduler)
	if !resume {
		cfg.ClientSessionCache = nil
	}
	return func() error {
		c, err := transport.Connect(ctx, ln.Addr(), cfg, wire.CommOptions{})
		if err != nil {
			return err
		}
		return c.Close()
	}, func() { _ = ln.Close() }, nil
}

// bareDialer returns one TCP + mutual TLS handshake, ended by one byte the
// server writes after its handshake (and so after verifying the client
// certificate).
func bareDialer(server, client *transport.Security) (func() error, func(), error) {
	srv, cli, err := bareTLS(server, client)
	if err != nil {
		return nil, nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		return nil, nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = c.Write([]byte{1})
				}
			}()
		}
	}()
	return func() error {
		c, err := tls.Dial("tcp", ln.Addr().String(), cli)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	}, func() { _ = ln.Close() }, nil
}

// alternate runs each dial function sequentially for seconds in total,
// in rounds that take turns, and returns each one's calls per second.
func alternate(seconds float64, rounds int, dials ...func() error) ([]float64, error) {
	slice := time.Duration(seconds * float64(time.Second) / float64(rounds))
	counts := make([]int, len(dials))
	spent := make([]time.Duration, len(dials))
	for range rounds {
		for i, dial := range dials {
			start := time.Now()
			for time.Since(start) < slice {
				if err := dial(); err != nil && !errors.Is(err, net.ErrClosed) {
					return nil, err
				}
				counts[i]++
			}
			spent[i] += time.Since(start)
		}
	}
	rates := make([]float64, len(dials))
	for i := range dials {
		rates[i] = float64(counts[i]) / spent[i].Seconds()
	}
	return rates, nil
}

func caPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return pool, nil
}

// drain reads n messages of size bytes from r.
func drain(r io.Reader, n, size int, keep bool) error {
	if !keep {
		_, err := io.CopyN(io.Discard, r, int64(n*size))
		return err
	}
	buf := make([]byte, size)
	for range n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
	}
	return nil
}
