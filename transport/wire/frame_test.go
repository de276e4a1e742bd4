package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// mustReadHex reads a testdata/wire file of hex bytes; '#' starts a comment.
func mustReadHex(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "wire", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var digits strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// message builds raw wire bytes with an explicit L and frame lengths.
func message(declared uint64, lengths []uint64, body []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, declared)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(lengths)))
	for _, n := range lengths {
		b = binary.LittleEndian.AppendUint64(b, n)
	}
	return append(b, body...)
}

func TestFrameGoldenIdentityRequest(t *testing.T) {
	golden := mustReadHex(t, "identity-request-2022.12.hex")
	frames, err := EncodeMsg(map[string]any{"op": "identity", "reply": true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := WriteFrames(&buf, frames)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), golden) || n != int64(len(golden)) {
		t.Fatalf("wrote (%d bytes)\n%x\nwant\n%x", n, buf.Bytes(), golden)
	}
	got, err := ReadFrames(bytes.NewReader(golden), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMsg(got, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Op() != "identity" || m.Value.(map[string]any)["reply"] != true {
		t.Fatalf("decoded %#v", m.Value)
	}
}

func TestFrameBothLengthGenerations(t *testing.T) {
	body := []byte("abcdefghij")
	lengths := []uint64{3, 0, 7}
	prelude := uint64(8 + 8*len(lengths))
	tests := []struct {
		name     string
		declared uint64
		wantErr  error
	}{
		{"whole message (2022.12)", prelude + 10, nil},
		{"prelude only (2023.11+)", prelude, nil},
		{"prelude and first frame", prelude + 3, nil},
		{"prelude and empty second frame", prelude + 3 + 0, nil},
		{"mid-frame", prelude + 5, ErrMalformed},
		{"shorter than prelude", prelude - 1, ErrMalformed},
		{"beyond the frames", prelude + 11, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := message(tt.declared, lengths, body)
			frames, err := ReadFrames(bytes.NewReader(raw), Limits{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := [][]byte{[]byte("abc"), {}, []byte("defghij")}
			for i := range want {
				if !bytes.Equal(frames[i], want[i]) {
					t.Fatalf("frame %d = %q, want %q", i, frames[i], want[i])
				}
			}
		})
	}
}

func TestFrameRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0xa5}, 3*coalesceBelow+1)
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"none", nil},
		{"one empty", [][]byte{{}}},
		{"small", [][]byte{[]byte("x"), []byte("yz")}},
		{"large between small", [][]byte{[]byte("head"), big, []byte("tail"), big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := WriteFrames(&buf, tt.frames); err != nil {
				t.Fatal(err)
			}
			if got := binary.LittleEndian.Uint64(buf.Bytes()); got != uint64(buf.Len()-8) {
				t.Fatalf("L = %d, want the whole message %d", got, buf.Len()-8)
			}
			got, err := ReadFrames(&buf, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.frames) {
				t.Fatalf("%d frames, want %d", len(got), len(tt.frames))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.frames[i]) {
					t.Fatalf("frame %d differs", i)
				}
			}
			if _, err := ReadFrames(&buf, Limits{}); err != io.EOF {
				t.Fatalf("after the message: %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameLimits(t *testing.T) {
	lim := Limits{MaxFrames: 4, MaxFrameSize: 100, MaxMessageSize: 150}
	hugeCount := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1<<60), 1<<60)
	tests := []struct {
		name    string
		raw     []byte
		wantErr error
	}{
		{"too many frames", message(8+8*5, []uint64{0, 0, 0, 0, 0}, nil), ErrFrameLimit},
		{"frame too large", message(8+8+101, []uint64{101}, nil), ErrFrameLimit},
		{"message too large", message(8+16+200, []uint64{100, 100}, nil), ErrFrameLimit},
		{"count claims 2^60", hugeCount, ErrFrameLimit},
		{"truncated header", []byte{1, 2, 3}, io.ErrUnexpectedEOF},
		{"truncated lengths", message(8+16, []uint64{1, 1}, nil)[:20], io.ErrUnexpectedEOF},
		{"truncated frame", message(8+8+10, []uint64{10}, []byte("abc")), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrames(bytes.NewReader(tt.raw), lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestFrameHugeClaimsDoNotAllocate feeds headers that claim enormous sizes
// but carry a few bytes, and checks that reading them allocates about what
// arrived, not what was claimed.
func TestFrameHugeClaimsDoNotAllocate(t *testing.T) {
	lim := Limits{MaxFrames: 1 << 30, MaxFrameSize: 1 << 62, MaxMessageSize: 1 << 62}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"frame of 2^60 bytes", message(8+8+1<<60, []uint64{1 << 60}, []byte("only this"))},
		{"2^28 frames", binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1<<40), 1<<28)},
		{"frame of 2^40 after a real one", message(8+16+4+1<<40, []uint64{4, 1 << 40}, bytes.Repeat([]byte("z"), 5000))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadFrames(bytes.NewReader(tt.raw), lim)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want unexpected EOF", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
				t.Fatalf("allocated %d bytes for a %d-byte input", grew, len(tt.raw))
			}
		})
	}
}

func TestFrameDefaultLimitsRejectClaims(t *testing.T) {
	raw := message(8+8+DefaultMaxFrameSize+1, []uint64{DefaultMaxFrameSize + 1}, nil)
	if _, err := ReadFrames(bytes.NewReader(raw), Limits{}); !errors.Is(err, ErrFrameLimit) {
		t.Fatalf("err = %v, want ErrFrameLimit", err)
	}
}
