package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// tinyLimits are limits far below anything a hostile header below claims.
var tinyLimits = Limits{MaxFrames: 4, MaxFrameSize: 1 << 10, MaxMessageSize: 2 << 10, MaxDepth: 8}

// allocSlack is what reading or decoding may allocate beyond the bytes a
// message is allowed to hold: the prelude, the frame table, error text.
const allocSlack = 4 << 10

// bytesPerRun returns the bytes f allocates per call, averaged over runs
// calls (runtime.MemStats counts every allocation of the process, so the
// average also absorbs the odd allocation of another goroutine).
func bytesPerRun(runs int, f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// prelude builds a message header: L, the frame count and the lengths, with
// no frame bytes after it.
func prelude(declared, count uint64, lengths ...uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, declared)
	b = binary.LittleEndian.AppendUint64(b, count)
	for _, n := range lengths {
		b = binary.LittleEndian.AppendUint64(b, n)
	}
	return b
}

// TestHostileFrameHeadersWithinLimits feeds ReadFrames headers that claim
// gigabytes under tiny limits: each is refused or runs out of input, and no
// call allocates more than the limits allow, whatever was claimed.
func TestHostileFrameHeadersWithinLimits(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name    string
		raw     []byte
		wantErr error
	}{
		{"2^32 frames", prelude(8+8*(1<<32), 1<<32), ErrFrameLimit},
		{"2^64-1 frames", prelude(1<<63, 1<<64-1), ErrFrameLimit},
		{"one frame of 4 GiB", prelude(16+4*gib, 1, 4*gib), ErrFrameLimit},
		{"one frame of 2^63 bytes", prelude(1<<63, 1, 1<<63), ErrFrameLimit},
		{"one frame of 2^64-1 bytes", prelude(1<<64-1, 1, 1<<64-1), ErrFrameLimit},
		{"four frames of 1 GiB", prelude(40+4*gib, 4, gib, gib, gib, gib), ErrFrameLimit},
		{"frames within, message beyond", prelude(40+4<<10, 4, 1<<10, 1<<10, 1<<10, 1<<10), ErrFrameLimit},
		{"L claims 2^62", prelude(1<<62, 1, 8), ErrMalformed},
		{"largest allowed frame, 3 bytes sent", append(prelude(16+1<<10, 1, 1<<10), "abc"...), io.ErrUnexpectedEOF},
		{"largest allowed frame count, no lengths", prelude(8+32, 4), io.ErrUnexpectedEOF},
	}
	bound := uint64(tinyLimits.MaxMessageSize) + 8*uint64(tinyLimits.MaxFrames) + allocSlack
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			per := bytesPerRun(100, func() { _, err = ReadFrames(bytes.NewReader(tt.raw), tinyLimits) })
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if per > bound {
				t.Fatalf("allocated %d bytes per read, limits allow %d", per, bound)
			}
		})
	}
}

// TestHostileMsgpackClaims decodes frame 0s of a few bytes whose msgpack
// headers claim gigabytes: each is refused as malformed, allocating about
// what arrived, not what was claimed.
func TestHostileMsgpackClaims(t *testing.T) {
	header := func(code byte, n uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{code}, n), rest...)
	}
	hugeSubFrames, err := marshalValue(map[string]any{"num-sub-frames": int64(1 << 62)})
	if err != nil {
		t.Fatal(err)
	}
	placeholder, err := marshalValue(map[string]any{"__Serialized__": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"str32 of 4 GiB", [][]byte{header(0xdb, 1<<32-1, 'a', 'b')}},
		{"bin32 of 4 GiB", [][]byte{header(0xc6, 1<<32-1, 'a', 'b')}},
		{"array32 of 2^32-1", [][]byte{header(0xdd, 1<<32-1, 1, 2, 3)}},
		{"map32 of 2^32-1", [][]byte{header(0xdf, 1<<32-1, 1, 2, 3)}},
		{"ext32 of 4 GiB", [][]byte{header(0xc9, 1<<32-1, 0x01, 'a')}},
		{"timestamp ext32 of 4 GiB", [][]byte{header(0xc9, 1<<32-1, 0xff, 'a')}},
		{"str32 in a map key", [][]byte{append([]byte{0x81}, header(0xdb, 1<<32-1, 'k')...)}},
		{"str32 in an array", [][]byte{append([]byte{0x91}, header(0xdb, 1<<32-1, 'k')...)}},
		{"str32 nested beyond MaxDepth", [][]byte{append(bytes.Repeat([]byte{0x91}, 16), header(0xdb, 1<<32-1)...)}},
		{"serialized header claims 2^62 sub-frames", [][]byte{placeholder, hugeSubFrames}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			per := bytesPerRun(100, func() { _, err = DecodeMsg(tt.frames, tinyLimits) })
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameLimit) {
				t.Fatalf("err = %v, want a malformed message", err)
			}
			if per > allocSlack {
				t.Fatalf("allocated %d bytes per decode of %d bytes", per, len(tt.frames[0]))
			}
		})
	}
}
