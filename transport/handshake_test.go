package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"
)

func TestHandshakeParse(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    Handshake
		wantErr bool
	}{
		{"dask 2022.12", map[string]any{"compression": nil, "python": []any{3, 11, 2}, "pickle-protocol": 5},
			Handshake{Python: []int{3, 11, 2}, PickleProtocol: 5}, false},
		{"lz4 and extra keys", map[string]any{"compression": "lz4", "pickle-protocol": 4, "address": "x"},
			Handshake{Compression: "lz4", PickleProtocol: 4}, false},
		{"no compression key", map[string]any{"pickle-protocol": 5}, Handshake{}, true},
		{"no pickle-protocol", map[string]any{"compression": nil}, Handshake{}, true},
		{"pickle-protocol not int", map[string]any{"compression": nil, "pickle-protocol": "5"}, Handshake{}, true},
		{"compression not a string", map[string]any{"compression": 1, "pickle-protocol": 5}, Handshake{}, true},
		{"not a map", []any{"compression"}, Handshake{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMsg([][]byte{mustMarshal(t, tt.in)}, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseHandshake(m)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrHandshake)) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHandshakeWireForm(t *testing.T) {
	frames, err := EncodeMsg(DefaultHandshake.value())
	if err != nil {
		t.Fatal(err)
	}
	// What Python's msgpack.dumps({"compression": None, "pickle-protocol":
	// 5, "python": (3, 11, 2)}, use_bin_type=True) yields, keys sorted.
	want := []byte{0x83,
		0xab, 'c', 'o', 'm', 'p', 'r', 'e', 's', 's', 'i', 'o', 'n', 0xc0,
		0xaf, 'p', 'i', 'c', 'k', 'l', 'e', '-', 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l', 0x05,
		0xa6, 'p', 'y', 't', 'h', 'o', 'n', 0x93, 0x03, 0x0b, 0x02}
	if !bytes.Equal(frames[0], want) {
		t.Fatalf("got  %x\nwant %x", frames[0], want)
	}
}

// rawPeer plays a Dask peer over a bare TCP connection using the framing
// functions directly, so that the order of handshakes can be scripted.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
}

func (p rawPeer) send(v any) {
	p.t.Helper()
	frames, err := EncodeMsg(v)
	if err != nil {
		p.t.Error(err)
		return
	}
	if _, err := WriteFrames(p.conn, frames); err != nil {
		p.t.Error(err)
	}
}

func (p rawPeer) recv() (Msg, error) {
	frames, err := ReadFrames(p.conn, Limits{})
	if err != nil {
		return Msg{}, err
	}
	return DecodeMsg(frames, Limits{})
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
			_, err = ParseHandshake(m)
		}
		p.send(DefaultHandshake.value())
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
	if _, err := ParseHandshake(m); err != nil {
		t.Fatal(err)
	}
	p.send(DefaultHandshake.value())
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
			opts := CommOptions{HandshakeTimeout: 200 * time.Millisecond}
			_, err = Connect(context.Background(), "tcp://"+ln.Addr().String(), nil, opts)
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("err = %v, want ErrHandshake", err)
			}
		})
	}
}
