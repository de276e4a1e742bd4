package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// commPair returns a connected client and server comm of the given scheme;
// the server comm is the one the listener handed to its handler.
func commPair(t testing.TB, scheme string, opts ListenOptions) (client, server *wire.Comm) {
	t.Helper()
	var srvTLS, cliTLS *tls.Config
	if scheme == daskconfig.SchemeTLS {
		pki := mustTestPKI(t)
		srvTLS, cliTLS = pki.server, pki.client
	}
	got := make(chan *wire.Comm, 1)
	release := make(chan struct{})
	l, err := Listen(context.Background(), scheme+"://127.0.0.1:0", srvTLS, func(c *wire.Comm) {
		got <- c
		<-release
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	t.Cleanup(func() { close(release) }) // runs first: lets the handler return
	client = mustConnect(t, l.Addr(), cliTLS)
	return client, <-got
}

func TestCommRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, scheme := range []string{daskconfig.SchemeTCP, daskconfig.SchemeTLS} {
		t.Run(scheme, func(t *testing.T) {
			client, server := commPair(t, scheme, ListenOptions{})
			ctx := context.Background()
			msgs := []any{
				map[string]any{"op": "put", "data": payload, "n": int64(7)},
				[]any{"a", nil, true},
				"OK",
				map[string]any{"x": &wire.Serialized{Kind: wire.KindPickled,
					Header: map[string]any{"pickled-obj": []byte("p")}, Frames: [][]byte{payload}}},
			}
			for i, want := range msgs {
				go func() {
					if err := client.Write(ctx, want); err != nil {
						t.Error(err)
					}
				}()
				m, err := server.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				back, err := wire.EncodeMsg(m.Value)
				if err != nil {
					t.Fatal(err)
				}
				orig, _ := wire.EncodeMsg(want)
				if len(back) != len(orig) || !bytes.Equal(back[0], orig[0]) {
					t.Fatalf("message %d changed in transit: %#v", i, m.Value)
				}
			}
		})
	}
}

func TestCommAddressesAndTLSState(t *testing.T) {
	for _, scheme := range []string{daskconfig.SchemeTCP, daskconfig.SchemeTLS} {
		t.Run(scheme, func(t *testing.T) {
			client, server := commPair(t, scheme, ListenOptions{})
			if client.RemoteAddr() != server.LocalAddr() || client.LocalAddr() != server.RemoteAddr() {
				t.Fatalf("client %s -> %s, server %s -> %s",
					client.LocalAddr(), client.RemoteAddr(), server.LocalAddr(), server.RemoteAddr())
			}
			if !strings.HasPrefix(client.RemoteAddr(), scheme+"://127.0.0.1:") {
				t.Fatalf("remote address %q", client.RemoteAddr())
			}
			st := client.TLSState()
			if (st != nil) != (scheme == daskconfig.SchemeTLS) {
				t.Fatalf("TLSState = %v for %s", st, scheme)
			}
			if st != nil && (!st.HandshakeComplete || len(st.PeerCertificates) == 0) {
				t.Fatalf("incomplete TLS state %+v", st)
			}
			if st := server.TLSState(); st != nil && len(st.PeerCertificates) == 0 {
				t.Fatal("server saw no client certificate")
			}
		})
	}
}

func TestCommContextCancel(t *testing.T) {
	client, _ := commPair(t, daskconfig.SchemeTCP, ListenOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := client.Read(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !client.Closed() {
		t.Fatal("comm still open after an interrupted read")
	}
	if _, err := client.Read(context.Background()); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("read after failure: %v, want ErrClosed", err)
	}
}

func TestCommContextDeadline(t *testing.T) {
	client, _ := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestCommIdleTimeout(t *testing.T) {
	opts := ListenOptions{Comm: wire.CommOptions{IdleTimeout: 50 * time.Millisecond}}
	client, server := commPair(t, daskconfig.SchemeTCP, opts)
	if _, err := server.Read(context.Background()); !errors.Is(err, wire.ErrIdleTimeout) {
		t.Fatalf("err = %v, want ErrIdleTimeout", err)
	}
	// The idle server closed its end; the client sees the comm end.
	if _, err := client.Read(context.Background()); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("client read: %v, want ErrClosed", err)
	}
}

func TestCommCloseUnblocksRead(t *testing.T) {
	client, _ := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := client.Read(context.Background())
		errc <- err
	}()
	_ = client.Close()
	if err := <-errc; !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := client.Write(context.Background(), "late"); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCommConcurrentWriters(t *testing.T) {
	client, server := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := client.Write(context.Background(), []any{int64(w), int64(i), bytes.Repeat([]byte{1}, 40000)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range writers * each {
		m, err := server.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := m.Value.([]any); !ok || len(l) != 3 {
			t.Fatalf("interleaved message: %#v", m.Value)
		}
	}
	wg.Wait()
}

func TestConnectBadAddresses(t *testing.T) {
	pki := mustTestPKI(t)
	tests := []struct {
		name    string
		addr    string
		tlsCfg  *tls.Config
		wantErr error
	}{
		{"tls without config", "tls://127.0.0.1:1", nil, ErrTLSRequired},
		{"no port", "tcp://127.0.0.1", nil, daskconfig.ErrBadAddress},
		{"unknown scheme", "ucx://127.0.0.1:1", pki.client, daskconfig.ErrBadAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tt.addr, tt.tlsCfg, wire.CommOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := Listen(context.Background(), "tls://127.0.0.1:0", nil, func(*wire.Comm) {}, ListenOptions{}); !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("Listen tls without config: %v", err)
	}
}

func TestConnectTLSRejected(t *testing.T) {
	pki := mustTestPKI(t)
	other := mustTestPKI(t) // a client from another CA
	var reported sync.WaitGroup
	reported.Add(1)
	var once sync.Once
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{OnError: func(err error) {
		once.Do(reported.Done)
	}})
	c, err := Connect(context.Background(), l.Addr(), other.client, wire.CommOptions{})
	if err == nil {
		_ = c.Close()
		t.Fatal("connected with a certificate from another CA")
	}
	reported.Wait() // the listener told OnError about the failed handshake
}

// TestListenSilentDialersDoNotStarve fills the only handshake slot with a
// dialer that never speaks; a real client still gets through once the slot's
// handshake timeout frees it, and the listener reports the silent one.
func TestListenSilentDialersDoNotStarve(t *testing.T) {
	pki := mustTestPKI(t)
	errs := make(chan error, 4)
	l := mustServe(t, daskconfig.SchemeTLS, pki.server, echoServer(), ListenOptions{
		MaxHandshakes: 1,
		Comm:          wire.CommOptions{HandshakeTimeout: 100 * time.Millisecond},
		OnError:       func(err error) { errs <- err },
	})
	silent, err := net.Dial("tcp", strings.TrimPrefix(l.Addr(), "tls://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := mustConnect(t, l.Addr(), pki.client)
	if _, err := wire.Call(context.Background(), c, "identity", nil); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !strings.Contains(err.Error(), "tls handshake") {
		t.Fatalf("reported %v", err)
	}
}

func TestListenCloseEndsHandlers(t *testing.T) {
	entered := make(chan struct{})
	l, err := Listen(context.Background(), "tcp://127.0.0.1:0", nil, func(c *wire.Comm) {
		close(entered)
		_, _ = c.Read(context.Background()) // blocks until Close reaches the comm
	}, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustConnect(t, l.Addr(), nil)
	<-entered
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(context.Background()); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("client read after listener close: %v", err)
	}
	if _, err := Connect(context.Background(), l.Addr(), nil, wire.CommOptions{HandshakeTimeout: time.Second}); err == nil {
		t.Fatal("connected to a closed listener")
	}
}

func TestListenContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Listen(ctx, "tcp://127.0.0.1:0", nil, func(*wire.Comm) {}, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = l.Close() // waits for the shutdown the cancel started
	if _, err := Connect(context.Background(), l.Addr(), nil, wire.CommOptions{HandshakeTimeout: time.Second}); err == nil {
		t.Fatal("connected after the listen context ended")
	}
}

func TestCommWriteCancelled(t *testing.T) {
	client, _ := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// 64 MiB cannot fit in socket buffers, and the peer never reads: only
	// the cancellation can end this write.
	err := client.Write(ctx, map[string]any{"data": make([]byte, 64<<20)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !client.Closed() {
		t.Fatal("comm still open after an interrupted write")
	}
}

func TestConnectCancelledDuringHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // a server that reads the client's handshake and says nothing
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if _, err := wire.ReadFrames(c, wire.Limits{}); err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Connect(ctx, "tcp://"+ln.Addr().String(), nil, wire.CommOptions{HandshakeTimeout: time.Hour})
		errc <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !errors.Is(err, wire.ErrHandshake) {
		t.Fatalf("err = %v, want a cancelled handshake", err)
	}
}

// TestCommLargeMessagesBothWays: over TLS, both ends write messages around
// and above the batching threshold at the same time, and every byte
// arrives.
func TestCommLargeMessagesBothWays(t *testing.T) {
	client, server := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	// 64 KiB is where the comm starts batching TLS records, 256 KiB a batch.
	sizes := []int{1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 256<<10 + 3, 3*256<<10 + 5, 5 << 20}
	payload := func(n, seed int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + seed)
		}
		return p
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for side, c := range []*wire.Comm{client, server} {
		wg.Go(func() {
			for i, n := range sizes {
				msg := &wire.Serialized{Kind: wire.KindSerialized, Header: map[string]any{"i": int64(i)}, Frames: [][]byte{payload(n, side)}}
				if err := c.Write(ctx, map[string]any{"op": "data", "payload": msg}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for side, c := range []*wire.Comm{server, client} {
		for i, n := range sizes {
			m, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			frames, err := wire.EncodeMsg(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if last := frames[len(frames)-1]; !bytes.Equal(last, payload(n, side)) {
				t.Fatalf("side %d message %d: %d bytes arrived, not the %d sent", side, i, len(last), n)
			}
		}
	}
	wg.Wait()
}
