package transport

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/daskca/daskca/transport/wire"
)

// Helpers for tests that put hand-made Dask messages on a connection.

// tinyCommLimits are limits small enough that a test header claiming more is
// refused at once.
var tinyCommLimits = wire.Limits{MaxFrames: 4, MaxFrameSize: 1 << 10, MaxMessageSize: 2 << 10, MaxDepth: 8}

// bombBytes is the size of frame 0 of a hostile message in these tests: the
// 8 MiB of a msgpack bomb (a list of empty maps) that would take gigabytes
// decoded.
const bombBytes = 8 << 20

// msgpackOf returns v in msgpack, as frame 0 of a message.
func msgpackOf(t testing.TB, v any) []byte {
	t.Helper()
	frames, err := wire.EncodeMsg(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 1 {
		t.Fatalf("%T encodes to %d frames, want 1", v, len(frames))
	}
	return frames[0]
}

// daskHandshake is the handshake a Go endpoint (DefaultHandshake) sends, in
// the form Dask writes it: compression None, Python 3.11.2, pickle 5.
func daskHandshake() map[string]any {
	return map[string]any{"compression": nil, "python": []any{int64(3), int64(11), int64(2)}, "pickle-protocol": int64(5)}
}

// framesHeader builds a message header: L, the frame count and the frame
// lengths, little-endian, whatever they claim.
func framesHeader(fields ...uint64) []byte {
	var b []byte
	for _, n := range fields {
		b = binary.LittleEndian.AppendUint64(b, n)
	}
	return b
}

// allocatedBy returns the bytes f allocated (the whole process's, so
// callers allow for the odd allocation of another goroutine).
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
