package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// mustMarshal encodes v with plain msgpack/v5, standing in for Python.
func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := marshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMsgDecodeTypes(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"small int", 5, int64(5)},
		{"negative", -300, int64(-300)},
		{"uint64 above int64", uint64(1 << 63), uint64(1 << 63)},
		{"uint32", uint32(1 << 31), int64(1 << 31)},
		{"float32", float32(1.5), float64(1.5)},
		{"str", "héllo", "héllo"},
		{"bin", []byte{0, 1, 2}, []byte{0, 1, 2}},
		{"list", []any{1, "a", nil}, []any{int64(1), "a", nil}},
		{"string keys", map[string]any{"a": 1}, map[string]any{"a": int64(1)}},
		{"int keys", map[int]string{1: "x"}, Map{{int64(1), "x"}}},
		{"mixed keys", Map{{"a", 1}, {[]byte("k"), 2}, {[]any{"t", 1}, 3}},
			Map{{"a", int64(1)}, {[]byte("k"), int64(2)}, {[]any{"t", int64(1)}, int64(3)}}},
		{"nested", map[string]any{"m": map[string]any{"l": []any{true}}},
			map[string]any{"m": map[string]any{"l": []any{true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMsg([][]byte{mustMarshal(t, tt.in)}, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Value, tt.want) {
				t.Fatalf("got %#v, want %#v", m.Value, tt.want)
			}
		})
	}
}

func TestMsgMapGet(t *testing.T) {
	m := Map{{[]byte("b"), 1}, {int64(7), "seven"}, {"s", true}}
	if v, ok := m.Get(int64(7)); !ok || v != "seven" {
		t.Fatalf("Get(7) = %v, %v", v, ok)
	}
	if _, ok := m.Get("missing"); ok {
		t.Fatal("found a missing key")
	}
	if _, ok := m.Get([]byte("b")); ok {
		t.Fatal("byte-slice keys are not comparable and must not match")
	}
}

// daskPickled lays out what Dask writes for {"op": "x", "data":
// ToPickle(obj)}: frame 0 with a placeholder, a header with the pickle
// bytes, then the out-of-band buffer.
func daskPickled(t testing.TB) [][]byte {
	return [][]byte{
		mustMarshal(t, map[string]any{"op": "x", "data": map[string]any{"__Pickled__": 1}}),
		mustMarshal(t, map[string]any{"pickled-obj": []byte("\x80\x05pickle"), "num-sub-frames": 1}),
		[]byte("buffer"),
	}
}

func TestMsgSerializedPlaceholders(t *testing.T) {
	frames := daskPickled(t)
	frames = append(frames,
		mustMarshal(t, map[string]any{"serializer": "dask", "num-sub-frames": 2, "compression": []any{nil, nil}}),
		[]byte("one"), []byte("two"))
	frames[0] = mustMarshal(t, map[string]any{
		"op": "x", "data": map[string]any{"__Pickled__": 1},
		"more": []any{map[string]any{"__Serialized__": 3}},
	})
	m, err := DecodeMsg(frames, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := m.Dict()
	p, ok := d["data"].(*Serialized)
	if !ok || p.Kind != KindPickled || string(p.Pickle()) != "\x80\x05pickle" || len(p.Frames) != 1 || string(p.Frames[0]) != "buffer" {
		t.Fatalf("data = %#v", d["data"])
	}
	s, ok := d["more"].([]any)[0].(*Serialized)
	if !ok || s.Kind != KindSerialized || s.Header["serializer"] != "dask" || len(s.Frames) != 2 {
		t.Fatalf("more[0] = %#v", d["more"])
	}

	// Writing the message back reproduces Dask's layout, so a Python peer
	// receives its objects untouched.
	out, err := EncodeMsg(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeMsg(out, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Value, m.Value) {
		t.Fatalf("round trip changed the message:\n%#v\n%#v", back.Value, m.Value)
	}
	if len(out) != len(frames) {
		t.Fatalf("%d frames out, %d in", len(out), len(frames))
	}
}

func TestMsgDecodeMalformed(t *testing.T) {
	good := daskPickled(t)
	tests := []struct {
		name    string
		frames  [][]byte
		wantErr error
	}{
		{"no frames", nil, ErrMalformed},
		{"empty frame 0", [][]byte{{}}, ErrMalformed},
		{"truncated map", [][]byte{{0x82, 0xa1, 'a'}}, ErrMalformed},
		{"trailing bytes", [][]byte{{0xc0, 0xc0}}, ErrMalformed},
		{"map32 claims 2^32-1 entries", [][]byte{{0xdf, 0xff, 0xff, 0xff, 0xff}}, ErrMalformed},
		{"array32 claims 2^32-1", [][]byte{{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}}, ErrMalformed},
		{"bin32 claims 2^32-1", [][]byte{{0xc6, 0xff, 0xff, 0xff, 0xff, 0x00}}, ErrMalformed},
		{"str32 claims 2^32-1", [][]byte{{0xdb, 0xff, 0xff, 0xff, 0xff, 0x00}}, ErrMalformed},
		{"unknown ext", [][]byte{{0xd4, 0x05, 0x00}}, ErrMalformed},
		{"reserved code", [][]byte{{0xc1}}, ErrMalformed},
		{"placeholder past the frames", [][]byte{mustMarshal(t, map[string]any{"__Pickled__": 9})}, ErrMalformed},
		{"placeholder offset not int", [][]byte{mustMarshal(t, map[string]any{"__Serialized__": "x"})}, ErrMalformed},
		{"header not a map", [][]byte{good[0], mustMarshal(t, []any{1}), good[2]}, ErrMalformed},
		{"header without num-sub-frames", [][]byte{good[0], mustMarshal(t, map[string]any{}), good[2]}, ErrMalformed},
		{"too many sub-frames", [][]byte{good[0], mustMarshal(t, map[string]any{"num-sub-frames": 2}), good[2]}, ErrMalformed},
		{"negative sub-frames", [][]byte{good[0], mustMarshal(t, map[string]any{"num-sub-frames": -1}), good[2]}, ErrMalformed},
		{"deep nesting", [][]byte{append(bytes.Repeat([]byte{0x91}, DefaultMaxDepth+2), 0xc0)}, ErrFrameLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMsg(tt.frames, Limits{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestMsgZeroOffsetIsNotAPlaceholder(t *testing.T) {
	// Dask only resolves positive offsets; {"__Serialized__": 0} is data.
	in := map[string]any{"__Serialized__": int64(0)}
	m, err := DecodeMsg([][]byte{mustMarshal(t, in)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Value, in) {
		t.Fatalf("got %#v", m.Value)
	}
}

func TestMsgEncode(t *testing.T) {
	t.Run("bytes as bin and strings as str", func(t *testing.T) {
		frames, err := EncodeMsg(map[string]any{"b": []byte("x"), "s": "x"})
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0x82, 0xa1, 'b', 0xc4, 0x01, 'x', 0xa1, 's', 0xa1, 'x'}
		if !bytes.Equal(frames[0], want) {
			t.Fatalf("got %x, want %x", frames[0], want)
		}
	})
	t.Run("serialized outside a walked container", func(t *testing.T) {
		type wrapper struct{ S *Serialized }
		_, err := EncodeMsg(wrapper{&Serialized{Kind: KindPickled}})
		if err == nil {
			t.Fatal("encoded a serialized object without its frames")
		}
	})
	t.Run("unknown serialized kind", func(t *testing.T) {
		_, err := EncodeMsg([]any{&Serialized{Kind: "__Other__"}})
		if err == nil {
			t.Fatal("encoded an unknown kind")
		}
	})
	t.Run("map order kept", func(t *testing.T) {
		frames, err := EncodeMsg(Map{{int64(2), "b"}, {int64(1), "a"}})
		if err != nil {
			t.Fatal(err)
		}
		var back map[int]string
		if err := msgpack.Unmarshal(frames[0], &back); err != nil || back[2] != "b" || frames[0][1] != 0x02 {
			t.Fatalf("got %x (%v)", frames[0], err)
		}
	})
}
