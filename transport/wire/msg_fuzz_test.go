package wire

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
)

// FuzzDecodeMsg decodes arbitrary frame 0 bytes (with the fuzzed bytes
// also offered as later frames, so placeholders have something to point
// at). It must not panic, must allocate no more than the cost walk
// estimated (the estimate the decoding budget rests on), and what it
// accepts must re-encode and decode to the same value.
func FuzzDecodeMsg(f *testing.F) {
	for _, frames := range [][][]byte{
		daskPickled(f),
		{{0x82, 0xa2, 'o', 'p', 0xa8, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y', 0xa5, 'r', 'e', 'p', 'l', 'y', 0xc3}},
		{{0x81, 0x01, 0x02}},
		{{0xdf, 0xff, 0xff, 0xff, 0xff}},
	} {
		f.Add(frames[0], frames[len(frames)-1])
	}
	lim := Limits{MaxDepth: 64}
	f.Fuzz(func(t *testing.T, frame0, extra []byte) {
		frames := [][]byte{frame0, extra, extra, extra}
		var m Msg
		var err error
		grew := allocated(func() { m, err = DecodeMsg(frames, lim) })
		if bound := decodeBound(frame0, extra, lim); grew > bound {
			// Measure again: the first decode of a process pays one-time
			// initialisation, and another goroutine may have allocated.
			grew = allocated(func() { _, _ = DecodeMsg(frames, lim) })
		}
		if bound := decodeBound(frame0, extra, lim); grew > bound {
			t.Fatalf("decoding %d+%d bytes allocated %d, estimated at most %d", len(frame0), len(extra), grew, bound)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, err := EncodeMsg(m.Value)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", m.Value, err)
		}
		back, err := DecodeMsg(out, lim)
		if err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		if !reflect.DeepEqual(normalizeNaN(back.Value), normalizeNaN(m.Value)) {
			t.Fatalf("round trip changed\n%#v\nto\n%#v", m.Value, back.Value)
		}
	})
}

// allocated returns the bytes f allocates (in the whole process, which
// while fuzzing is this goroutine and little else).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decodeBound is the most decoding frame0 with up to three placeholders
// pointing at extra may allocate: the cost walk's estimates of both, plus
// the decoder itself, the *Serialized values and an error message.
func decodeBound(frame0, extra []byte, lim Limits) uint64 {
	const fixed = 4 << 10
	c0, _ := scanCost(frame0, Limits{MaxDepth: lim.MaxDepth, DecodeFactor: 1 << 20}, true)
	c1, _ := scanCost(extra, Limits{MaxDepth: lim.MaxDepth, DecodeFactor: 1 << 20}, false)
	return uint64(c0+3*c1) + fixed
}

// normalizeNaN replaces NaN floats, which never equal themselves, by a
// marker so reflect.DeepEqual can compare decoded values.
func normalizeNaN(v any) any {
	switch x := v.(type) {
	case float64:
		if x != x {
			return "NaN"
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNaN(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNaN(e)
		}
		return out
	case Map:
		out := make(Map, len(x))
		for i, kv := range x {
			out[i] = KV{normalizeNaN(kv.Key), normalizeNaN(kv.Value)}
		}
		return out
	case *Serialized:
		c := *x
		c.Header = normalizeNaN(x.Header).(map[string]any)
		return &c
	}
	return v
}
