package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestHandshakeParse(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    Handshake
		wantErr bool
	}{
		{"dask 2022.12", map[string]any{"compression": nil, "python": []any{3, 11, 2}, "pickle-protocol": 5},
			Handshake{Python: []int{3, 11, 2}, PickleProtocol: 5}, false},
		{"lz4 and extra keys", map[string]any{"compression": "lz4", "pickle-protocol": 4, "address": "x"},
			Handshake{Compression: "lz4", PickleProtocol: 4}, false},
		{"no compression key", map[string]any{"pickle-protocol": 5}, Handshake{}, true},
		{"no pickle-protocol", map[string]any{"compression": nil}, Handshake{}, true},
		{"pickle-protocol not int", map[string]any{"compression": nil, "pickle-protocol": "5"}, Handshake{}, true},
		{"compression not a string", map[string]any{"compression": 1, "pickle-protocol": 5}, Handshake{}, true},
		{"not a map", []any{"compression"}, Handshake{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMsg([][]byte{mustMarshal(t, tt.in)}, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseHandshake(m)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrHandshake)) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHandshakeWireForm(t *testing.T) {
	frames, err := EncodeMsg(DefaultHandshake.value())
	if err != nil {
		t.Fatal(err)
	}
	// What Python's msgpack.dumps({"compression": None, "pickle-protocol":
	// 5, "python": (3, 11, 2)}, use_bin_type=True) yields, keys sorted.
	want := []byte{0x83,
		0xab, 'c', 'o', 'm', 'p', 'r', 'e', 's', 's', 'i', 'o', 'n', 0xc0,
		0xaf, 'p', 'i', 'c', 'k', 'l', 'e', '-', 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l', 0x05,
		0xa6, 'p', 'y', 't', 'h', 'o', 'n', 0x93, 0x03, 0x0b, 0x02}
	if !bytes.Equal(frames[0], want) {
		t.Fatalf("got  %x\nwant %x", frames[0], want)
	}
}
