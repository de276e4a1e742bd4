package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// slowlorisConns is how many stalled dialers the slowloris tests hold
// against one scheduler at once.
const slowlorisConns = 500

// farTimeout is a handshake timeout no event of a test may wait for:
// reaching it means the scheduler did not do its job.
const farTimeout = "10m"

// hostileConns are raw TCP connections to a scheduler that never finish a
// TLS handshake; they are closed when the test ends.
type hostileConns struct {
	conns []net.Conn
}

// open dials addr n times, writing first on each connection (nothing if
// first is empty).
func (h *hostileConns) open(t *testing.T, addr string, n int, first []byte) {
	t.Helper()
	host := strings.TrimPrefix(addr, "tls://")
	for range n {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("hostile dial %d: %v", len(h.conns), err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if len(first) > 0 {
			if _, err := c.Write(first); err != nil {
				t.Fatal(err)
			}
		}
		h.conns = append(h.conns, c)
	}
}

// closedByServer counts the connections the server has closed, looking
// without waiting.
func (h *hostileConns) closedByServer() int {
	n := 0
	var buf [4096]byte
	for _, c := range h.conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		for {
			_, err := c.Read(buf[:])
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				n++
				break
			}
		}
	}
	return n
}

// awaitAllClosed waits until the server has closed every connection,
// failing the test after runWait.
func (h *hostileConns) awaitAllClosed(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, c := range h.conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(runWait))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				mu.Lock()
				open++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if open > 0 {
		t.Fatalf("%d of %d connections still open after %v", open, len(h.conns), runWait)
	}
}

// mustClientHello returns the first TLS record a Go client sends to addr.
func mustClientHello(t *testing.T) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		_ = tls.Client(client, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}).Handshake()
		_ = client.Close()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(server, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(server, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// sockets counts the open sockets of process pid.
func sockets(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds, failing the test after runWait.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(runWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", runWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probeWorkers returns the worker count `daskca probe` reports.
func probeWorkers(t *testing.T, h runHome, addr string) float64 {
	t.Helper()
	code, res, stderr := probeJSON(t, h.home, addr, h.config("alice"))
	if code != 0 {
		t.Fatalf("probe: exit %d: %v %s", code, res, stderr)
	}
	id, _ := res["identity"].(map[string]any)
	n, _ := id["workers"].(float64)
	return n
}

// countLines counts the log lines holding every part.
//
// Refusals beyond the first ten in ten seconds are not logged one by one:
// a summary line ("... and K more refused connections") counts them, with
// the last one's text, and counts K times here.
func countLines(log string, parts ...string) int {
	n := 0
	for line := range strings.Lines(log) {
		if !containsAll(line, parts) {
			continue
		}
		if strings.Contains(line, "more refused connections, not logged") {
			var k int
			if _, err := fmt.Sscan(logValueOf(line, "more"), &k); err == nil {
				n += k
				continue
			}
		}
		n++
	}
	return n
}

// logValueOf returns the value of key=value in a log line, or "".
func logValueOf(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return strings.TrimSpace(v)
}

// TestRunSlowloris holds 500 connections that never finish a TLS handshake
// (silent, or a ClientHello cut short) against `daskca run scheduler`, with a
// handshake timeout no step waits for. A real `daskca run worker` must
// register while every one of them is still held, and none is dropped to
// make room for it.
func TestRunSlowloris(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Slowloris CA")
	sched := startRun(t, h.bin, "scheduler", "run", "scheduler", "--go-native", "--config", h.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--handshake-timeout", farTimeout)
	addr := logValue(t, sched.waitLine(t, "scheduler listening"), "address")
	base := sockets(t, sched.cmd.Process.Pid)
	hello := mustClientHello(t)
	var hostile hostileConns
	hostile.open(t, addr, slowlorisConns/2, nil)
	hostile.open(t, addr, slowlorisConns/4, hello[:5])
	hostile.open(t, addr, slowlorisConns-len(hostile.conns), hello[:len(hello)/2])
	waitUntil(t, "the scheduler to accept every stalled dialer", func() bool {
		return sockets(t, sched.cmd.Process.Pid)-base >= slowlorisConns
	})

	startRunWorker(t, h.bin, addr, h.config("w1"))
	sched.waitLine(t, "worker registered", "name=w1")
	if n := probeWorkers(t, h, addr); n != 1 {
		t.Fatalf("probe counts %v workers, want 1", n)
	}
	if n := hostile.closedByServer(); n != 0 {
		t.Fatalf("%d of %d stalled dialers were dropped", n, slowlorisConns)
	}
	if n := countLines(sched.out.String(), "connection refused"); n != 0 {
		t.Fatalf("the scheduler refused %d connections:\n%s", n, sched.out)
	}
	t.Logf("worker registered and probed with %d stalled dialers held", len(hostile.conns))
}

// TestRunHandshakeTimeout holds 500 stalled dialers of every kind, a whole
// ClientHello followed by silence included, against a scheduler with a
// short --handshake-timeout: the scheduler closes every one of them and
// reports it, and a worker registers meanwhile.
func TestRunHandshakeTimeout(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Handshake Timeout CA")
	sched := startRun(t, h.bin, "scheduler", "run", "scheduler", "--go-native", "--config", h.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--handshake-timeout", "1s", "--max-handshakes", "16")
	addr := logValue(t, sched.waitLine(t, "scheduler listening"), "address")
	base := sockets(t, sched.cmd.Process.Pid)
	hello := mustClientHello(t)
	var hostile hostileConns
	for _, first := range [][]byte{nil, hello[:5], hello[:len(hello)/2], hello} {
		hostile.open(t, addr, slowlorisConns/4, first)
	}
	startRunWorker(t, h.bin, addr, h.config("w1"))
	sched.waitLine(t, "worker registered", "name=w1")
	hostile.awaitAllClosed(t)
	waitUntil(t, "every stalled dialer reported", func() bool {
		return countLines(sched.out.String(), "connection refused", "tls handshake") >= slowlorisConns
	})
	if n := countLines(sched.out.String(), "connection refused", "deadline exceeded"); n < slowlorisConns {
		t.Fatalf("%d of %d refusals name the timeout:\n%s", n, slowlorisConns, sched.out)
	}
	// The worker's stream, its heartbeat comm and our probe's are all the
	// scheduler holds now, beside its listener.
	waitUntil(t, "the scheduler to release the sockets", func() bool { return sockets(t, sched.cmd.Process.Pid)-base <= 3 })
	if n := probeWorkers(t, h, addr); n != 1 {
		t.Fatalf("probe counts %v workers, want 1", n)
	}
}

// TestRunPlaintextToTLSPort sends plaintext of several protocols to a
// scheduler whose handshake timeout no step waits for: each connection is
// closed on its first bytes and logged as not TLS.
func TestRunPlaintextToTLSPort(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Plaintext CA")
	sched := startRun(t, h.bin, "scheduler", "run", "scheduler", "--go-native", "--config", h.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--handshake-timeout", farTimeout)
	addr := logValue(t, sched.waitLine(t, "scheduler listening"), "address")
	frames, err := wire.EncodeMsg(map[string]any{"compression": nil, "python": []any{3, 11, 2}, "pickle-protocol": 5})
	if err != nil {
		t.Fatal(err)
	}
	var dask strings.Builder
	if _, err := wire.WriteFrames(&dask, frames); err != nil {
		t.Fatal(err)
	}
	var hostile hostileConns
	for _, first := range []string{"GET / HTTP/1.1\r\nHost: sched\r\n\r\n", dask.String(), "SSH-2.0-OpenSSH_9.6\r\n", "\x00\x00\x00\x00\x00"} {
		hostile.open(t, addr, 25, []byte(first))
	}
	hostile.awaitAllClosed(t)
	waitUntil(t, "every plaintext dialer logged", func() bool {
		return countLines(sched.out.String(), "connection refused", "does not speak TLS") >= len(hostile.conns)
	})
}

// TestRunMaxConns holds a scheduler's whole --max-conns budget with silent
// dialers: the scheduler holds no more sockets than the cap allows, a probe
// is not served, and once the dialers leave it is.
func TestRunMaxConns(t *testing.T) {
	t.Parallel()
	const limit = 4
	h := newRunHome(t, t.TempDir(), "Max Conns CA")
	sched := startRun(t, h.bin, "scheduler", "run", "scheduler", "--go-native", "--config", h.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--handshake-timeout", farTimeout, "--max-conns", fmt.Sprint(limit))
	addr := logValue(t, sched.waitLine(t, "scheduler listening"), "address")
	base := sockets(t, sched.cmd.Process.Pid)
	var hostile hostileConns
	hostile.open(t, addr, 10*limit, nil)
	waitUntil(t, "the scheduler to fill its budget", func() bool { return sockets(t, sched.cmd.Process.Pid)-base == limit })
	code, _, _ := runCLI(t, h.home, nil, "probe", addr, "--config", h.config("alice"), "--timeout", "2s")
	if code == 0 {
		t.Fatal("a probe was served beyond --max-conns")
	}
	if n := sockets(t, sched.cmd.Process.Pid) - base; n != limit {
		t.Fatalf("the scheduler holds %d connections with --max-conns %d", n, limit)
	}
	for _, c := range hostile.conns {
		_ = c.Close()
	}
	if n := probeWorkers(t, h, addr); n != 0 {
		t.Fatalf("probe counts %v workers, want 0", n)
	}
}

// TestRunIdleTimeout connects to a scheduler with --idle-timeout as a real
// client, completes both handshakes, and falls silent: the scheduler closes
// the comm.
func TestRunIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Idle CA")
	sched := startRun(t, h.bin, "scheduler", "run", "scheduler", "--go-native", "--config", h.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--idle-timeout", "500ms")
	addr := logValue(t, sched.waitLine(t, "scheduler listening"), "address")
	cfg, err := daskconfig.LoadFile(h.config("alice"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, identity.Client, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()
	a, err := daskconfig.ParseAddr(addr, daskconfig.SchemeTLS)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transport.Connect(context.Background(), addr, sec.ClientConfigFor(a), wire.CommOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), runWait)
	defer cancel()
	if _, err := c.Read(ctx); ctx.Err() != nil || !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("read on an idle comm: %v; want the scheduler to close it", err)
	}
}

// TestRunLimitFlagsRefused checks that nonsensical limits are usage errors.
func TestRunLimitFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--max-conns", "0"}, {"--max-conns", "-1"}, {"--max-handshakes", "0"},
		{"--handshake-timeout", "0s"}, {"--handshake-timeout", "-1s"}, {"--idle-timeout", "-1s"},
	} {
		for _, role := range []string{"scheduler", "worker"} {
			t.Run(role+" "+strings.Join(args, " "), func(t *testing.T) {
				full := append([]string{"run", role, "--go-native"}, args...)
				if role == "worker" {
					full = append(full, "tls://127.0.0.1:1")
				}
				code, _, stderr := runCLI(t, t.TempDir(), nil, full...)
				if code != exitUsage || !strings.Contains(stderr, args[0]) {
					t.Fatalf("exit %d, stderr %q; want a usage error naming %s", code, stderr, args[0])
				}
			})
		}
	}
}
