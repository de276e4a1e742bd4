package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// hostileWait bounds every wait of the hostile-peer tests. It is reached
// only when a test is failing: everything awaited here happens in
// milliseconds, and the listeners' own handshake timeouts are set far above
// it where the test must tell a rejection from a timeout.
const hostileWait = waitBound

// hostileHandshakeTimeout is a handshake timeout no event of a test may
// wait for: reaching it means the listener did not do its job.
const hostileHandshakeTimeout = 10 * time.Minute

// errCounter collects what a listener reports through OnError.
type errCounter struct {
	mu   sync.Mutex
	errs []error
}

func (c *errCounter) add(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *errCounter) count(match func(error) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, err := range c.errs {
		if match == nil || match(err) {
			n++
		}
	}
	return n
}

// mustClientHello returns the first TLS record a Go client sends: a real
// ClientHello, as a hostile dialer would replay it.
func mustClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	cfg = cfg.Clone()
	cfg.ServerName = "127.0.0.1"
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		_ = tls.Client(client, cfg).Handshake()
		_ = client.Close()
	}()
	var hdr [5]byte
	if _, err := io.ReadFull(server, hdr[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(server, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr[:], body...)
}

// hostileDial opens a raw TCP connection to a listener and writes first to
// it (nothing when first is empty).
func hostileDial(t testing.TB, addr string, first []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimPrefix(addr, "tls://"), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if len(first) > 0 {
		if _, err := c.Write(first); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// awaitServerClose reads c until the server closes it, discarding what the
// server sends, and fails the test if that takes longer than hostileWait.
func awaitServerClose(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(hostileWait))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept %s open for %v", c.LocalAddr(), hostileWait)
	}
}

// hostileOpeners are the dialers that never finish a handshake: silent,
// a record header alone, a ClientHello cut short, and a whole ClientHello
// after which the dialer falls silent.
func hostileOpeners(hello []byte) map[string][]byte {
	return map[string][]byte{
		"silent":                    nil,
		"record header":             hello[:5],
		"partial ClientHello":       hello[:len(hello)/2],
		"ClientHello, then nothing": hello,
	}
}

// TestHostileDialersDoNotHoldHandshakeSlots fills a listener with far more
// stalled dialers than it has handshake slots, with a handshake timeout no
// test waits for; a real client must still get through at once, with no
// stalled dialer dropped to make room.
func TestHostileDialersDoNotHoldHandshakeSlots(t *testing.T) {
	pki := mustTestPKI(t)
	var errs errCounter
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{
		MaxHandshakes: 2,
		Comm:          wire.CommOptions{HandshakeTimeout: hostileHandshakeTimeout},
		OnError:       errs.add,
	})
	hello := mustClientHello(t, pki.client)
	held := 0
	for name, first := range hostileOpeners(hello) {
		if name == "ClientHello, then nothing" {
			continue // these do take slots: they cost the server a handshake
		}
		for range 20 {
			hostileDial(t, l.Addr(), first)
			held++
		}
	}
	c, err := Connect(context.Background(), l.Addr(), pki.client, wire.CommOptions{HandshakeTimeout: hostileWait})
	if err != nil {
		t.Fatalf("real client behind %d stalled dialers: %v", held, err)
	}
	defer c.Close()
	if _, err := wire.Call(context.Background(), c, "identity", nil); err != nil {
		t.Fatal(err)
	}
	if n := errs.count(nil); n != 0 {
		t.Fatalf("%d of %d stalled dialers were dropped before their timeout: %v", n, held, errs.errs)
	}
}

// TestHostileHandshakeTimeout holds many stalled dialers of every kind and
// checks that the listener closes each one after the handshake timeout and
// reports it.
func TestHostileHandshakeTimeout(t *testing.T) {
	pki := mustTestPKI(t)
	var errs errCounter
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{
		MaxHandshakes: 4,
		Comm:          wire.CommOptions{HandshakeTimeout: 200 * time.Millisecond},
		OnError:       errs.add,
	})
	hello := mustClientHello(t, pki.client)
	var conns []net.Conn
	for _, first := range hostileOpeners(hello) {
		for range 25 {
			conns = append(conns, hostileDial(t, l.Addr(), first))
		}
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { awaitServerClose(t, c) })
	}
	wg.Wait()
	waitFor(t, "every stalled dialer reported", func() bool { return errs.count(nil) == len(conns) })
	timedOut := errs.count(func(err error) bool { return errors.Is(err, context.DeadlineExceeded) })
	if timedOut != len(conns) {
		t.Fatalf("%d of %d closed dialers reported as timed out: %v", timedOut, len(conns), errs.errs)
	}
}

// TestHostilePlaintextToTLSPort sends what is not TLS to a TLS listener
// whose handshake timeout no test waits for: each connection must be
// closed on its first bytes and reported as not TLS.
func TestHostilePlaintextToTLSPort(t *testing.T) {
	pki := mustTestPKI(t)
	var errs errCounter
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{
		Comm:    wire.CommOptions{HandshakeTimeout: hostileHandshakeTimeout},
		OnError: errs.add,
	})
	daskHello, err := wire.EncodeMsg(daskHandshake())
	if err != nil {
		t.Fatal(err)
	}
	var daskBytes strings.Builder
	if _, err := wire.WriteFrames(&daskBytes, daskHello); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		first string
	}{
		{"http request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"dask handshake over tcp", daskBytes.String()},
		{"ssh banner", "SSH-2.0-OpenSSH_9.6\r\n"},
		{"sslv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10"},
		{"alert record", "\x15\x03\x03\x00\x02\x02\x28"},
		{"handshake record of 64 KiB", "\x16\x03\x01\xff\xff"},
		{"empty handshake record", "\x16\x03\x01\x00\x00"},
		{"record version 2", "\x16\x02\x00\x00\x10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := errs.count(nil)
			for range 10 {
				awaitServerClose(t, hostileDial(t, l.Addr(), []byte(tt.first)))
			}
			waitFor(t, "the refusals reported", func() bool { return errs.count(nil) >= before+10 })
		})
	}
	if n := errs.count(func(err error) bool { return errors.Is(err, ErrNotTLS) }); n != 10*len(tests) {
		t.Fatalf("%d of %d refusals say the peer does not speak TLS: %v", n, 10*len(tests), errs.errs)
	}
}

// TestHostileIdleTimeout checks that an established comm whose peer falls
// silent, or stops in the middle of a message, is closed by the listener
// after its idle timeout.
func TestHostileIdleTimeout(t *testing.T) {
	pki := mustTestPKI(t)
	var ended atomic.Int32
	srv := echoServer()
	l, err := Listen(context.Background(), "tls://127.0.0.1:0", pki.server, func(c *wire.Comm) {
		srv.ServeComm(context.Background(), c)
		ended.Add(1)
	}, ListenOptions{Comm: wire.CommOptions{IdleTimeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent := mustConnect(t, l.Addr(), pki.client)
	if _, err := wire.Call(context.Background(), silent, "identity", nil); err != nil {
		t.Fatal(err)
	}
	partial, tc := mustConnectTLS(t, l.Addr(), pki.client)
	if _, err := tc.Write(wire.AppendPrelude(nil, [][]byte{make([]byte, 100)})[:12]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wire.Comm{silent, partial} {
		ctx, cancel := context.WithTimeout(context.Background(), hostileWait)
		_, err := c.Read(ctx)
		expired := ctx.Err() != nil
		cancel()
		if expired || !errors.Is(err, wire.ErrClosed) {
			t.Fatalf("read on an idle comm: %v; want the server to close it", err)
		}
	}
	waitFor(t, "both handlers ended", func() bool { return ended.Load() == 2 })
}

// TestHostileMaxConns holds the listener's whole connection budget with
// silent dialers: a real client is not accepted until one of them leaves.
func TestHostileMaxConns(t *testing.T) {
	pki := mustTestPKI(t)
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{
		MaxConns: 3,
		Comm:     wire.CommOptions{HandshakeTimeout: hostileHandshakeTimeout},
	})
	var silent []net.Conn
	for range 3 {
		silent = append(silent, hostileDial(t, l.Addr(), nil))
	}
	// The kernel completes the TCP handshake; the listener, at its cap,
	// never accepts the connection, so the TLS handshake cannot finish.
	if c, err := Connect(context.Background(), l.Addr(), pki.client, wire.CommOptions{HandshakeTimeout: 300 * time.Millisecond}); err == nil {
		_ = c.Close()
		t.Fatal("a fourth connection was served with MaxConns 3")
	}
	_ = silent[0].Close()
	c, err := Connect(context.Background(), l.Addr(), pki.client, wire.CommOptions{HandshakeTimeout: hostileWait})
	if err != nil {
		t.Fatalf("once a slot freed: %v", err)
	}
	defer c.Close()
	if _, err := wire.Call(context.Background(), c, "identity", nil); err != nil {
		t.Fatal(err)
	}
}

// TestHandshakeReadWithinItsLimits sends a listener, in place of the Dask
// handshake, a message within the comm's limits but far beyond any
// handshake: it is refused from its header, before its bytes are read.
func TestHandshakeReadWithinItsLimits(t *testing.T) {
	errc := make(chan error, 1)
	l, err := Listen(context.Background(), "tcp://127.0.0.1:0", nil, func(*wire.Comm) {}, ListenOptions{OnError: func(err error) { errc <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(l.Addr(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(framesHeader(16+1<<20, 1, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, wire.ErrHandshake) || !errors.Is(err, wire.ErrFrameLimit) {
		t.Fatalf("listener error = %v, want a handshake over its limits", err)
	}
}

// TestHostileHeaderOnAComm sends, after a proper Dask handshake over TLS,
// a header that claims a 512 MiB frame (within the default limits) to a
// listener configured with tiny limits: the listener refuses it, closes the
// comm, and the whole process allocates a small fraction of the claim.
func TestHostileHeaderOnAComm(t *testing.T) {
	pki := mustTestPKI(t)
	errc := make(chan error, 1)
	l, err := Listen(context.Background(), "tls://127.0.0.1:0", pki.server, func(c *wire.Comm) {
		_, err := c.Read(context.Background())
		errc <- err
	}, ListenOptions{Comm: wire.CommOptions{Limits: tinyCommLimits}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, tc := mustConnectTLS(t, l.Addr(), pki.client)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := tc.Write(framesHeader(16+512<<20, 1, 512<<20)); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	runtime.ReadMemStats(&after)
	if !errors.Is(err, wire.ErrFrameLimit) {
		t.Fatalf("listener read: %v, want ErrFrameLimit", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a header claiming 512 MiB under limits of %d", grew, tinyCommLimits.MaxMessageSize)
	}
	if _, err := c.Read(context.Background()); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("client read after the refusal: %v, want the comm closed", err)
	}
}
