package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// benchSize is the message size the throughput targets are set for.
const benchSize = 64 << 20

func mustPayload(b *testing.B) []byte {
	b.Helper()
	p := make([]byte, benchSize)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkThroughput moves 64 MiB messages one way over loopback:
//
//   - tcp, tls: a Comm writes {"op": "data", "payload": <out-of-band frame>}
//     and the other end reads and decodes it, the layout Dask uses for
//     large buffers;
//   - tls-bin: the payload is a msgpack bin inside frame 0 instead (one
//     more copy when encoding);
//   - bare-tls: a crypto/tls stream writes the same bytes and the reader
//     copies them to io.Discard, the baseline the comm is measured against;
//   - bare-tls-keep: the same, but the reader keeps each message in a new
//     64 MiB buffer as any real receiver must, which shows how much of the
//     gap to bare-tls is the cost of keeping the bytes at all.
func BenchmarkThroughput(b *testing.B) {
	payload := mustPayload(b)
	frameMsg := map[string]any{"op": "data", "payload": &wire.Serialized{
		Kind: wire.KindSerialized, Header: map[string]any{"serializer": "raw"}, Frames: [][]byte{payload}}}
	binMsg := map[string]any{"op": "data", "payload": payload}
	for _, bc := range []struct {
		name   string
		scheme string
		msg    any
	}{
		{"tcp", daskconfig.SchemeTCP, frameMsg},
		{"tls", daskconfig.SchemeTLS, frameMsg},
		{"tls-bin", daskconfig.SchemeTLS, binMsg},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client, server := commPair(b, bc.scheme, ListenOptions{})
			benchComm(b, client, server, bc.msg)
		})
	}
	for _, keep := range []bool{false, true} {
		name := "bare-tls"
		if keep {
			name += "-keep"
		}
		b.Run(name, func(b *testing.B) { benchBareTLS(b, payload, keep) })
	}
}

func benchBareTLS(b *testing.B, payload []byte, keep bool) {
	w, r := tlsPipe(b)
	b.SetBytes(benchSize)
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := w.Write(payload); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		var err error
		if keep {
			_, err = io.ReadFull(r, make([]byte, benchSize))
		} else {
			_, err = io.CopyN(io.Discard, r, benchSize)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchComm(b *testing.B, client, server *wire.Comm, msg any) {
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ResetTimer()
	go func() {
		for range b.N {
			if err := client.Write(ctx, msg); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		m, err := server.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Frames) < 2 && len(m.Frames[0]) < benchSize {
			b.Fatal("payload missing")
		}
	}
}

// tlsPipe returns the two ends of a bare TLS 1.3 connection on loopback.
func tlsPipe(b *testing.B) (client, server *tls.Conn) {
	pki := mustTestPKI(b)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.server)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
		}
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	cfg := pki.client.Clone()
	cfg.ServerName = "127.0.0.1"
	client, err = tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	server = (<-accepted).(*tls.Conn)
	b.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// BenchmarkConnect measures new connections per second: the full Dask
// connect (TCP, mutual TLS 1.3 with P-256 certificates, Dask handshake both
// ways) against a bare mutual-TLS handshake of the same certificates.
func BenchmarkConnect(b *testing.B) {
	pki := mustTestPKI(b)
	b.Run("dask-tls", func(b *testing.B) {
		l := mustServe(b, daskconfig.SchemeTLS, pki.server, &wire.Server{}, ListenOptions{})
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			c, err := Connect(ctx, l.Addr(), pki.client, wire.CommOptions{})
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
	b.Run("dask-tcp", func(b *testing.B) {
		l := mustServe(b, daskconfig.SchemeTCP, nil, &wire.Server{}, ListenOptions{})
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			c, err := Connect(ctx, l.Addr(), nil, wire.CommOptions{})
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
	b.Run("bare-tls", func(b *testing.B) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.server)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { _ = c.(*tls.Conn).Handshake(); _ = c.Close() }()
			}
		}()
		cfg := pki.client.Clone()
		cfg.ServerName = "127.0.0.1"
		b.ResetTimer()
		for range b.N {
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
}
