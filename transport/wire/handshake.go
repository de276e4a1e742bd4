package wire

import (
	"context"
	"fmt"
)

// Handshake is the first message each side of a Dask comm sends: its
// compression setting, its Python version and its highest pickle protocol.
// Dask keeps the smaller pickle protocol of the two and uses compression only
// if both sides name the same algorithm.
type Handshake struct {
	// Compression is the algorithm this side would like ("lz4", "zstd"), or
	// "" for Python's None. A Go endpoint sends "", so no peer ever
	// compresses frames towards it.
	Compression string
	// Python is the interpreter version as [major, minor, micro].
	Python []int
	// PickleProtocol is the highest pickle protocol this side speaks.
	PickleProtocol int
}

// DefaultHandshake is what a Go endpoint claims.
//
// Dask never compares "python" between peers (it only records it), but
// tools print it and a peer's code may branch on it, so Go claims a real
// interpreter every targeted Dask generation supports: 3.11 runs 2022.12
// (which needs 3.8+) up to current releases (3.10+). Pickle protocol 5 is
// Python 3.8+'s highest; Go never unpickles, so it only governs what the
// peer may send in pickled payloads that Go passes through untouched.
var DefaultHandshake = Handshake{Python: []int{3, 11, 2}, PickleProtocol: 5}

// value returns h as the map Dask expects on the wire.
func (h Handshake) value() map[string]any {
	var comp any
	if h.Compression != "" {
		comp = h.Compression
	}
	py := make([]any, len(h.Python))
	for i, n := range h.Python {
		py[i] = int64(n)
	}
	return map[string]any{"compression": comp, "python": py, "pickle-protocol": int64(h.PickleProtocol)}
}

// ParseHandshake checks a received handshake message. "compression" (None
// or a string) and "pickle-protocol" (an integer) are required, as Dask
// requires them; "python" is optional; other keys are ignored.
func ParseHandshake(m Msg) (Handshake, error) {
	d, ok := m.Dict()
	if !ok {
		return Handshake{}, fmt.Errorf("handshake is a %T, not a map: %w", m.Value, ErrHandshake)
	}
	var h Handshake
	comp, ok := d["compression"]
	if !ok {
		return Handshake{}, fmt.Errorf("handshake without compression: %w", ErrHandshake)
	}
	switch c := comp.(type) {
	case nil:
	case string:
		h.Compression = c
	default:
		return Handshake{}, fmt.Errorf("handshake compression is a %T: %w", comp, ErrHandshake)
	}
	pp, ok := d["pickle-protocol"].(int64)
	if !ok || pp < 0 || pp > 1<<16 {
		return Handshake{}, fmt.Errorf("handshake pickle-protocol %v missing or invalid: %w", d["pickle-protocol"], ErrHandshake)
	}
	h.PickleProtocol = int(pp)
	if py, ok := d["python"].([]any); ok {
		for _, p := range py {
			if n, ok := p.(int64); ok {
				h.Python = append(h.Python, int(n))
			}
		}
	}
	return h, nil
}

// handshakeLimits bound the peer's handshake, read before anything else
// and, on tcp://, from anyone: Dask's is one frame of about 50 bytes.
var handshakeLimits = Limits{MaxFrames: 4, MaxFrameSize: 4 << 10, MaxMessageSize: 4 << 10, MaxDepth: 8, DecodeFactor: 1}

// Handshake performs the Dask handshake on a new comm: it writes the
// handshake of the CommOptions at once, then reads the peer's, within ctx.
// It fails with ErrHandshake if the peer's is missing or bad. Both ends
// may do this at the same time without deadlock: a handshake is far smaller
// than any socket buffer, and Dask servers (which write first) and clients
// of every generation (whichever order) fit this pattern.
func (c *Comm) Handshake(ctx context.Context) error {
	if err := c.Write(ctx, c.opts.handshake().value()); err != nil {
		return fmt.Errorf("sending handshake: %w", err)
	}
	m, err := c.read(ctx, handshakeLimits)
	if err != nil {
		return fmt.Errorf("reading handshake: %w: %w", ErrHandshake, err)
	}
	peer, err := ParseHandshake(m)
	if err != nil {
		return err
	}
	c.peer = peer
	return nil
}
