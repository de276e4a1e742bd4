package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzFirstRecord sends arbitrary first bytes to what a tls:// listener
// reads before it lets a connection take a handshake slot. It must never
// panic or wait past its deadline; an accepted record is a whole TLS
// handshake record of at most 16 KiB taken from the front of the input, and
// the conn handed on to TLS replays every byte, in order.
func FuzzFirstRecord(f *testing.F) {
	f.Add(mustClientHello(f, mustTestPKI(f).client))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x01, 0x01, 0xaa})
	f.Add([]byte{0x16, 0x03, 0x01, 0xff, 0xff})
	f.Add([]byte{0x80, 0x2e, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		defer server.Close()
		go func() {
			_, _ = client.Write(b)
			_ = client.Close()
		}()
		rec, err := readFirstRecord(server, time.Now().Add(10*time.Second))
		if err != nil {
			if errors.Is(err, ErrNotTLS) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			t.Fatalf("unexpected error: %v", err)
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if b[0] != recordTypeHandshake || b[1] != 3 || n == 0 || n > maxHelloRecord || !bytes.Equal(rec, b[:5+n]) {
			t.Fatalf("accepted %x from %x", rec, b)
		}
		rest, err := io.ReadAll(&replayConn{Conn: server, pending: rec})
		if err != nil || !bytes.Equal(rest, b) {
			t.Fatalf("replayed %x, %v; sent %x", rest, err, b)
		}
	})
}
