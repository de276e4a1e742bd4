package wire

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// bombSize is the frame 0 of a hostile message in these tests: the 8 MiB
// that took a scheduler from 85 MB to 573 MB before decoding had a budget.
const bombSize = 8 << 20

// bombs are frame 0s of bombSize bytes made of the cheapest msgpack
// elements that decode to the most memory.
func bombs() []struct {
	name  string
	frame []byte
} {
	arr32 := func(n int, elem []byte) []byte {
		b := []byte{0xdd, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		return append(b, bytes.Repeat(elem, n)...)
	}
	n := (bombSize - 5)
	return []struct {
		name  string
		frame []byte
	}{
		{"list of empty maps", arr32(n, []byte{0x80})},
		{"list of empty lists", arr32(n, []byte{0x90})},
		{"list of empty strings", arr32(n, []byte{0xa0})},
		{"list of empty bins", arr32(n/2, []byte{0xc4, 0x00})},
		{"list of one-entry maps", arr32(n/3, []byte{0x81, 0xa0, 0xc0})},
		{"list of int-keyed maps", arr32(n/3, []byte{0x81, 0x01, 0xc0})},
		{"list of 300s", arr32(n/3, []byte{0xcd, 0x01, 0x2c})},
		{"list of floats", arr32(n/9, []byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 1})},
		{"list of fixext timestamps", arr32(n/6, []byte{0xd6, 0xff, 0, 0, 0, 1})},
		{"map of empty lists", append([]byte{0xdf, byte(n / 2 >> 24), byte(n / 2 >> 16), byte(n / 2 >> 8), byte(n / 2)}, bytes.Repeat([]byte{0x90, 0x90}, n/2)...)},
	}
}

// TestDecodeBombBounded decodes hostile 8 MiB frame 0s: each is refused
// before decoding (ErrFrameLimit, saying why) or decoded within the budget,
// and no decode allocates more than DefaultDecodeFactor times its input.
func TestDecodeBombBounded(t *testing.T) {
	for _, tt := range bombs() {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = DecodeMsg([][]byte{tt.frame}, Limits{})
			runtime.ReadMemStats(&after)
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes in, %d bytes allocated (%.1fx), err=%v", len(tt.frame), grew, float64(grew)/float64(len(tt.frame)), err)
			if err != nil && !errors.Is(err, ErrFrameLimit) {
				t.Fatalf("err = %v, want nil or ErrFrameLimit", err)
			}
			if limit := uint64(DefaultDecodeFactor*len(tt.frame) + decodeAllowance); grew > limit {
				t.Fatalf("allocated %d bytes decoding %d, budget %d", grew, len(tt.frame), limit)
			}
		})
	}
}

// TestDecodeHeaderUsedOnce points many placeholders at one header frame:
// decoding it once per placeholder would multiply its decoded size by
// their number, so only the first may use it.
func TestDecodeHeaderUsedOnce(t *testing.T) {
	header := mustMarshal(t, map[string]any{"num-sub-frames": int64(0), "serializer": "pickle"})
	ph := map[string]any{"__Serialized__": int64(1)}
	tests := []struct {
		name    string
		frame0  any
		wantErr error
	}{
		{"one placeholder", []any{ph}, nil},
		{"two placeholders, one header", []any{ph, ph}, ErrMalformed},
		{"a thousand placeholders, one header", func() []any {
			out := make([]any, 1000)
			for i := range out {
				out[i] = ph
			}
			return out
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMsg([][]byte{mustMarshal(t, tt.frame0), header}, Limits{})
			if !errors.Is(err, tt.wantErr) || (err != nil && !strings.Contains(err.Error(), "used by another placeholder")) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestDecodeManyPlaceholders decodes a frame 0 that is a list of a
// thousand placeholders, each with its header, as Dask sends a batch of
// pickled results: far within the budget, since a placeholder becomes a
// *Serialized without a map built for it.
func TestDecodeManyPlaceholders(t *testing.T) {
	const n = 1000
	list := make([]any, n)
	for i := range list {
		list[i] = &Serialized{Kind: KindPickled, Header: map[string]any{"pickled-obj": []byte("x")}}
	}
	frames, err := EncodeMsg(list)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMsg(frames, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Value.([]any); len(got) != n || string(got[n-1].(*Serialized).Pickle()) != "x" {
		t.Fatalf("decoded %v", m.Value)
	}
}
