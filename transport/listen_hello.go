package transport

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// TLS record layer constants (RFC 8446 section 5.1).
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 0x16
	// maxHelloRecord is the largest plaintext record; a ClientHello, the
	// first record of every TLS client, fits in one.
	maxHelloRecord = 1 << 14
)

// readFirstRecord reads the first TLS record a dialer sends, by deadline,
// and checks that it can be the start of a TLS handshake. The listener
// reads it before the connection may take a handshake slot, so a dialer
// that sends nothing or only part of a ClientHello holds a connection slot
// until the handshake timeout, never one of the few slots that bound
// handshake computation; and bytes that are not TLS (plaintext sent to a
// TLS port) are refused on arrival with ErrNotTLS.
func readFirstRecord(conn net.Conn, deadline time.Time) ([]byte, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	var hdr [recordHeaderLen]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, fmt.Errorf("tls handshake: reading the first record: %w", err)
	}
	if err := checkFirstRecord(hdr); err != nil {
		return nil, err
	}
	rec := make([]byte, recordHeaderLen+int(binary.BigEndian.Uint16(hdr[3:5])))
	copy(rec, hdr[:])
	if _, err := io.ReadFull(conn, rec[recordHeaderLen:]); err != nil {
		return nil, fmt.Errorf("tls handshake: reading the first record: %w", err)
	}
	return rec, nil
}

// checkFirstRecord refuses a record header that no TLS client sends first:
// another content type, a major version other than 3 (SSLv2 and every
// plaintext protocol), or a length of zero or beyond a plaintext record.
func checkFirstRecord(hdr [recordHeaderLen]byte) error {
	n := binary.BigEndian.Uint16(hdr[3:5])
	if hdr[0] != recordTypeHandshake || hdr[1] != 3 || n == 0 || n > maxHelloRecord {
		return fmt.Errorf("tls handshake: first bytes %q are not a TLS handshake record "+
			"(plaintext or another protocol sent to a TLS port): %w", hdr[:], ErrNotTLS)
	}
	return nil
}

// replayConn is a net.Conn that returns bytes already read from it before
// reading on.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
