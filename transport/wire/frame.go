package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
)

// Default limits on what a peer may send in one message. Dask itself bounds
// a message only by half the host's memory; these are tighter because a Go
// endpoint usually runs beside other work and its peers are authenticated
// but not necessarily trusted to be sane.
const (
	// DefaultMaxFrames bounds the frame count of one message. Dask writes
	// one frame for frame 0 plus a header and the buffers of every
	// serialized object, so a large task graph can carry many thousands.
	// 1<<20 frames means a prelude of 8 MiB, itself read incrementally.
	DefaultMaxFrames = 1 << 20
	// DefaultMaxFrameSize bounds one frame. Dask shards buffers at
	// distributed.comm.shard (64 MiB by default), but pickled payloads and
	// the msgpack frame are not sharded.
	DefaultMaxFrameSize = 1 << 30
	// DefaultMaxMessageSize bounds the sum of all frames of one message.
	DefaultMaxMessageSize = 2 << 30
	// DefaultMaxDepth bounds the nesting of msgpack containers in frame 0
	// and in serialized-object headers.
	DefaultMaxDepth = 512
)

// Limits bound what ReadFrames and DecodeMsg accept from a peer; together
// they keep the memory a message costs proportional to its size: reading
// allocates as bytes arrive (at most growFactor times them), decoding at
// most DecodeFactor times the msgpack plus a fixed allowance.

// A zero field means the matching Default constant; a negative one is
// invalid and also means the default. Limits is a plain value, safe to copy
// and share.
type Limits struct {
	MaxFrames      int
	MaxFrameSize   int64
	MaxMessageSize int64
	MaxDepth       int
	// DecodeFactor bounds the memory the decoded values of a msgpack frame
	// (frame 0, a serialized-object header) may take, as a multiple of the
	// frame's size, beyond a fixed allowance of 64 KiB; a frame over it is
	// refused before it is decoded. Zero means DefaultDecodeFactor.
	DecodeFactor int
}

// orDefaults returns l with every unset field replaced by its default.
func (l Limits) orDefaults() Limits {
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultMaxFrames
	}
	if l.MaxFrameSize <= 0 {
		l.MaxFrameSize = DefaultMaxFrameSize
	}
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.DecodeFactor <= 0 {
		l.DecodeFactor = DefaultDecodeFactor
	}
	return l
}

// readChunk is the first allocation for any length read off the wire; a
// buffer then grows by growFactor as bytes actually arrive, so a header that
// lies about a length costs at most growFactor times what the peer really
// sent. A factor of 4 keeps the copying of a 64 MiB frame to about a third
// of its size.
const (
	readChunk  = 64 << 10
	growFactor = 4
)

// ReadFrames reads one Dask message from r and returns its frames.
//
// The wire format is a little-endian uint64 L, a uint64 frame count n, n
// uint64 frame lengths, then the frames back to back. Dask up to 2023.10
// writes L as the length of everything after it; later versions may count
// only the prelude and some leading frames and send the rest straight after.
// ReadFrames therefore trusts only the prelude for lengths and accepts any L
// that ends on a frame boundary, which covers both generations.
//
// A clean end of stream before the first byte returns io.EOF; any other
// short read returns an error wrapping io.ErrUnexpectedEOF. Claims beyond
// lim return ErrFrameLimit before anything is allocated for them.
func ReadFrames(r io.Reader, lim Limits) ([][]byte, error) {
	lim = lim.orDefaults()
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("reading message header: %w", err)
	}
	declared := binary.LittleEndian.Uint64(hdr[0:8])
	count := binary.LittleEndian.Uint64(hdr[8:16])
	if count > uint64(lim.MaxFrames) {
		return nil, fmt.Errorf("message claims %d frames, limit %d: %w", count, lim.MaxFrames, ErrFrameLimit)
	}
	lengths, err := readLengths(r, int(count), lim)
	if err != nil {
		return nil, err
	}
	if err := checkDeclared(declared, lengths); err != nil {
		return nil, err
	}
	frames := make([][]byte, len(lengths))
	for i, n := range lengths {
		if frames[i], err = readGrowing(r, n); err != nil {
			return nil, fmt.Errorf("reading frame %d of %d (%d bytes): %w", i, len(lengths), n, err)
		}
	}
	return frames, nil
}

// readLengths reads count frame lengths and checks them against lim.
func readLengths(r io.Reader, count int, lim Limits) ([]int64, error) {
	raw, err := readGrowing(r, int64(count)*8)
	if err != nil {
		return nil, fmt.Errorf("reading %d frame lengths: %w", count, err)
	}
	lengths := make([]int64, count)
	var total int64
	for i := range lengths {
		n := binary.LittleEndian.Uint64(raw[i*8:])
		if n > uint64(lim.MaxFrameSize) {
			return nil, fmt.Errorf("frame %d claims %d bytes, limit %d: %w", i, n, lim.MaxFrameSize, ErrFrameLimit)
		}
		total += int64(n)
		if total > lim.MaxMessageSize {
			return nil, fmt.Errorf("message claims more than %d bytes: %w", lim.MaxMessageSize, ErrFrameLimit)
		}
		lengths[i] = int64(n)
	}
	return lengths, nil
}

// checkDeclared accepts the leading length L when it covers the prelude plus
// a whole number of leading frames (every Dask generation writes that) and
// rejects anything else as a stream out of step.
func checkDeclared(declared uint64, lengths []int64) error {
	prelude := 8 + 8*uint64(len(lengths))
	if declared < prelude {
		return fmt.Errorf("length %d shorter than its %d-byte prelude: %w", declared, prelude, ErrMalformed)
	}
	rest := declared - prelude
	for _, n := range lengths {
		if rest == 0 {
			return nil
		}
		if uint64(n) > rest {
			break
		}
		rest -= uint64(n)
	}
	if rest != 0 {
		return fmt.Errorf("length %d does not end on a frame boundary: %w", declared, ErrMalformed)
	}
	return nil
}

// readGrowing reads exactly n bytes, allocating only as they arrive.
func readGrowing(r io.Reader, n int64) ([]byte, error) {
	if n > math.MaxInt {
		return nil, fmt.Errorf("length %d: %w", n, ErrFrameLimit)
	}
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, int64(cap(buf))*growFactor))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// coalesceBelow is the frame size under which WriteFrames copies a frame
// into a shared buffer rather than handing it to the kernel (or to TLS,
// which would make it a record of its own) separately.
const coalesceBelow = 32 << 10

// WriteFrames writes frames to w as one Dask message with L covering the
// whole message, which every Dask generation reads. Large frames are passed
// to w without copying, as one writev when w is a *net.TCPConn; small ones
// are gathered into the header's buffer. It returns the bytes written.
func WriteFrames(w io.Writer, frames [][]byte) (int64, error) {
	bufs := make(net.Buffers, 0, 2+len(frames)/2)
	head := AppendPrelude(make([]byte, 0, preludeSize(frames)), frames)
	for _, f := range frames {
		if len(f) < coalesceBelow {
			head = append(head, f...)
			continue
		}
		bufs = append(bufs, head, f)
		head = nil
	}
	if len(head) > 0 {
		bufs = append(bufs, head)
	}
	return bufs.WriteTo(w)
}

// preludeSize is the size of the header plus the frames small enough to be
// copied next to it, so that one allocation usually holds a whole message.
func preludeSize(frames [][]byte) int {
	n := 16 + 8*len(frames)
	for _, f := range frames {
		if len(f) < coalesceBelow {
			n += len(f)
		}
	}
	return n
}

// AppendPrelude appends the header of a message made of frames to dst: L
// (the whole message), the frame count and the frame lengths.
func AppendPrelude(dst []byte, frames [][]byte) []byte {
	total := uint64(8 + 8*len(frames))
	for _, f := range frames {
		total += uint64(len(f))
	}
	dst = binary.LittleEndian.AppendUint64(dst, total)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(frames)))
	for _, f := range frames {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(len(f)))
	}
	return dst
}
