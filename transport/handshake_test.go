package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/daskca/daskca/transport/wire"
)

// rawPeer plays a Dask peer over a bare TCP connection using the framing
// functions directly, so that the order of handshakes can be scripted.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
}

func (p rawPeer) send(v any) {
	p.t.Helper()
	frames, err := wire.EncodeMsg(v)
	if err != nil {
		p.t.Error(err)
		return
	}
	if _, err := wire.WriteFrames(p.conn, frames); err != nil {
		p.t.Error(err)
	}
}

func (p rawPeer) recv() (wire.Msg, error) {
	frames, err := wire.ReadFrames(p.conn, wire.Limits{})
	if err != nil {
		return wire.Msg{}, err
	}
	return wire.DecodeMsg(frames, wire.Limits{})
}

// TestHandshakeOldServerWaitsForClient: a server that reads the client's
// handshake before writing its own must not deadlock Connect.
func TestHandshakeOldServerWaitsForClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		p := rawPeer{t, conn}
		m, err := p.recv()
		if err == nil {
			_, err = wire.ParseHandshake(m)
		}
		p.send(daskHandshake())
		_, _ = p.recv() // wait for the client to close
		done <- err
	}()
	c := mustConnect(t, "tcp://"+ln.Addr().String(), nil)
	if got := c.PeerHandshake().PickleProtocol; got != 5 {
		t.Fatalf("peer pickle protocol %d", got)
	}
	_ = c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHandshakeOldClientWaitsForServer: a Dask 2022.12 client reads the
// server's handshake before writing its own; the listener must write first.
func TestHandshakeOldClientWaitsForServer(t *testing.T) {
	l := mustServe(t, "tcp", nil, echoServer(), ListenOptions{})
	conn, err := net.Dial("tcp", l.Addr()[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := rawPeer{t, conn}
	m, err := p.recv()
	if err != nil {
		t.Fatalf("server did not write its handshake first: %v", err)
	}
	if _, err := wire.ParseHandshake(m); err != nil {
		t.Fatal(err)
	}
	p.send(daskHandshake())
	p.send(map[string]any{"op": "identity", "reply": true})
	m, err = p.recv()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := m.Dict(); d["type"] != "Test" {
		t.Fatalf("identity reply %#v", m.Value)
	}
}

func TestHandshakeTimeoutAndBadPeer(t *testing.T) {
	tests := []struct {
		name  string
		serve func(rawPeer)
	}{
		{"silent server", func(p rawPeer) { _, _ = p.recv(); _, _ = p.recv() }},
		{"handshake without pickle-protocol", func(p rawPeer) {
			p.send(map[string]any{"compression": nil})
			_, _ = p.recv()
		}},
		{"garbage", func(p rawPeer) { _, _ = p.conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				tt.serve(rawPeer{t, conn})
			}()
			opts := wire.CommOptions{HandshakeTimeout: 200 * time.Millisecond}
			_, err = Connect(context.Background(), "tcp://"+ln.Addr().String(), nil, opts)
			if !errors.Is(err, wire.ErrHandshake) {
				t.Fatalf("err = %v, want ErrHandshake", err)
			}
		})
	}
}
