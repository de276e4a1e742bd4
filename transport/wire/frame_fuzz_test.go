package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to the frame reader under small
// limits: it must never panic, never return more bytes than it was given,
// never allocate more than a small multiple of them (frames grow as bytes
// arrive, after a first chunk of readChunk; each 8-byte frame length costs
// a slice header and a length),
// and whatever it accepts must survive a write and a second read unchanged.
func FuzzReadMessage(f *testing.F) {
	f.Add(message(8+8+3, []uint64{3}, []byte("abc")))
	f.Add(message(8+16, []uint64{1, 2}, []byte("abc")))
	f.Add(message(1<<62, []uint64{1 << 62}, nil))
	f.Add([]byte{})
	lim := Limits{MaxFrames: 64, MaxFrameSize: 1 << 16, MaxMessageSize: 1 << 18}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var frames [][]byte
		var err error
		grew := allocated(func() { frames, err = ReadFrames(bytes.NewReader(raw), lim) })
		if bound := uint64(growFactor*len(raw)+readChunk) + 4<<10; grew > bound {
			grew = allocated(func() { _, _ = ReadFrames(bytes.NewReader(raw), lim) }) // once more, past one-time costs
		}
		if bound := uint64(growFactor*len(raw)+readChunk) + 4<<10; grew > bound {
			t.Fatalf("reading %d bytes allocated %d", len(raw), grew)
		}
		if err != nil {
			if !errors.Is(err, ErrFrameLimit) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		total := 0
		for _, fr := range frames {
			total += len(fr)
		}
		if total > len(raw) {
			t.Fatalf("%d frame bytes from %d input bytes", total, len(raw))
		}
		var buf bytes.Buffer
		if _, err := WriteFrames(&buf, frames); err != nil {
			t.Fatal(err)
		}
		again, err := ReadFrames(&buf, lim)
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		for i := range frames {
			if !bytes.Equal(frames[i], again[i]) {
				t.Fatalf("frame %d changed on round trip", i)
			}
		}
	})
}
