package wire

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// FuzzHandshake parses arbitrary handshake messages: never a panic, and
// every failure is an ErrHandshake.
func FuzzHandshake(f *testing.F) {
	for _, v := range []any{
		DefaultHandshake.value(),
		map[string]any{"compression": "lz4", "pickle-protocol": 4},
		map[string]any{"compression": nil},
		[]any{1, 2},
	} {
		b, err := marshalValue(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMsg([][]byte{b}, Limits{MaxDepth: 32})
		if err != nil {
			return
		}
		if _, err := ParseHandshake(m); err != nil && !errors.Is(err, ErrHandshake) {
			t.Fatalf("error without ErrHandshake: %v", err)
		}
	})
}

// FuzzHandshakeWire sends arbitrary bytes as the first thing a server says
// and checks that Connect fails cleanly or succeeds, never hangs past its
// timeout or panics.
func FuzzHandshakeWire(f *testing.F) {
	var buf bytes.Buffer
	frames, _ := EncodeMsg(DefaultHandshake.value())
	_, _ = WriteFrames(&buf, frames)
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() { // drain what the client writes; net.Pipe is unbuffered
			buf := make([]byte, 4096)
			for {
				if _, err := server.Read(buf); err != nil {
					return
				}
			}
		}()
		go func() { _, _ = server.Write(b); _ = server.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c := NewComm(client, CommOptions{Limits: Limits{MaxFrameSize: 1 << 16, MaxMessageSize: 1 << 16}})
		if err := c.Handshake(ctx); err == nil {
			_ = c.Close()
		}
	})
}
