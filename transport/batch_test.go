package transport

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/daskca/daskca/transport/daskconfig"
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

// TestCommLargeMessagesBothWays: over TLS, both ends write messages around
// and above the batching threshold at the same time, and every byte
// arrives.
func TestCommLargeMessagesBothWays(t *testing.T) {
	client, server := commPair(t, daskconfig.SchemeTLS, ListenOptions{})
	sizes := []int{1, batchAbove - 1, batchAbove, batchAbove + 1, batchSize + 3, 3*batchSize + 5, 5 << 20}
	payload := func(n, seed int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + seed)
		}
		return p
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for side, c := range []*Comm{client, server} {
		wg.Go(func() {
			for i, n := range sizes {
				msg := &Serialized{Kind: KindSerialized, Header: map[string]any{"i": int64(i)}, Frames: [][]byte{payload(n, side)}}
				if err := c.Write(ctx, map[string]any{"op": "data", "payload": msg}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for side, c := range []*Comm{server, client} {
		for i, n := range sizes {
			m, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			frames, err := EncodeMsg(m.Value)
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
