package wire

import (
	"net"
	"sync"
)

// batchSize is how many bytes of TLS records recordBatcher gathers before
// it writes them to the connection.
const batchSize = 256 << 10

// batchAbove is the message size from which Comm gathers records: a
// smaller message is a record or two, and copying it gains nothing.
const batchAbove = 64 << 10

// batchBufs holds the buffers of messages being written, so a connection
// keeps none between large messages.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchSize); return &b }}

// BatchWrites wraps the network connection under a TLS connection: pass
// the result to tls.Client or tls.Server, and the *tls.Conn to NewComm,
// which then writes large messages in batchSize pieces instead of one
// system call per 16 KiB record.
func BatchWrites(raw net.Conn) net.Conn { return &recordBatcher{Conn: raw} }

// recordBatcher sits between a tls.Conn and its network connection. A
// tls.Conn writes every record of up to 16 KiB with its own system call;
// while a large message is written (hold), the batcher gathers the records
// and writes them batchSize bytes at a time, which on loopback carries
// about half as much again per second. Outside hold it writes through, so
// handshakes, alerts and small messages go out at once. Records a reader
// makes the tls.Conn write meanwhile (a key update) join the batch and
// leave with it.
type recordBatcher struct {
	net.Conn

	mu   sync.Mutex
	buf  *[]byte // nil: writing through
	werr error   // a failed batch write: every later write fails
}

func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.werr != nil {
		return 0, b.werr
	}
	if b.buf == nil {
		return b.Conn.Write(p)
	}
	n := len(p)
	for len(p) > 0 {
		buf := *b.buf
		if len(buf) == cap(buf) {
			if err := b.flushLocked(); err != nil {
				return n - len(p), err
			}
			buf = *b.buf
		}
		k := copy(buf[len(buf):cap(buf)], p)
		*b.buf = buf[:len(buf)+k]
		p = p[k:]
	}
	return n, nil
}

// hold starts gathering records.
func (b *recordBatcher) hold() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		b.buf = batchBufs.Get().(*[]byte)
		*b.buf = (*b.buf)[:0]
	}
}

// release writes what was gathered and goes back to writing through.
func (b *recordBatcher) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return nil
	}
	err := b.flushLocked()
	batchBufs.Put(b.buf)
	b.buf = nil
	return err
}

func (b *recordBatcher) flushLocked() error {
	buf := *b.buf
	*b.buf = buf[:0]
	if len(buf) == 0 {
		return nil
	}
	if _, err := b.Conn.Write(buf); err != nil {
		b.werr = err
		return err
	}
	return nil
}
