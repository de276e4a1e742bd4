package wire

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
)

// countConn counts the writes that reach a real loopback connection.
type countConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestRecordBatcher: outside hold every write goes through at once; while
// held, writes are gathered into batchSize pieces and the rest leaves at
// release; the bytes arrive in order.
func TestRecordBatcher(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(c)
		got <- buf.Bytes()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countConn{Conn: raw}
	b := &recordBatcher{Conn: cc}
	var want bytes.Buffer
	write := func(n int, fill byte) {
		p := bytes.Repeat([]byte{fill}, n)
		want.Write(p)
		if k, err := b.Write(p); err != nil || k != n {
			t.Fatalf("Write(%d) = %d, %v", n, k, err)
		}
	}
	write(100, 'a') // through
	b.hold()
	for i := range 40 { // 40 records of 16 KiB: 640 KiB
		write(16<<10, byte('b'+i%20))
	}
	if err := b.release(); err != nil {
		t.Fatal(err)
	}
	write(7, 'z') // through again
	_ = b.Close()
	if data := <-got; !bytes.Equal(data, want.Bytes()) {
		t.Fatalf("received %d bytes, not the %d written in order", len(data), want.Len())
	}
	wantWrites := []int{100, batchSize, batchSize, 640<<10 - 2*batchSize, 7}
	if fmt.Sprint(cc.writes) != fmt.Sprint(wantWrites) {
		t.Errorf("writes reaching the connection: %v, want %v", cc.writes, wantWrites)
	}
}

// TestNewCommScheme: NewComm takes the scheme from the connection and finds
// the batcher under a *tls.Conn made over BatchWrites, and only there.
func TestNewCommScheme(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	tests := []struct {
		name      string
		conn      net.Conn
		scheme    string
		batched   bool
		localAddr string
	}{
		{"plain", a, "tcp", false, "tcp://pipe"},
		{"tls over BatchWrites", tls.Client(BatchWrites(a), &tls.Config{}), "tls", true, "tls://pipe"},
		{"tls without batching", tls.Client(a, &tls.Config{}), "tls", false, "tls://pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewComm(tt.conn, CommOptions{})
			if c.scheme != tt.scheme || (c.batch != nil) != tt.batched || c.LocalAddr() != tt.localAddr {
				t.Errorf("scheme %q, batched %v, local %s; want %q, %v, %s", c.scheme, c.batch != nil, c.LocalAddr(), tt.scheme, tt.batched, tt.localAddr)
			}
		})
	}
}
