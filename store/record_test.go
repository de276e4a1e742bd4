package store

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"
)

func sampleRecord() Record {
	na := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return Record{
		Serial: "7f3a", Role: "worker", Name: "w-1", Status: Revoked,
		NotBefore: na.Add(-time.Hour), NotAfter: na, DNS: []string{"a.example", ""}, IPs: []string{"10.0.0.1", "::1"},
		URI: "spiffe://x/dask/worker/w-1", FingerprintSHA256: "00ff", KeyType: "ECDSA-P256", Issuer: "abcd",
		DER: []byte{0x30, 0}, CertFile: "c", KeyFile: "k", CAFile: "ca", IssuedAt: na.Add(-time.Hour + 123),
		RevokedAt: na.Add(-time.Minute), RevocationReason: "superseded", Supersedes: "1", SupersededBy: "ff",
	}
}

func TestRecordEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Record
	}{
		{"every field", sampleRecord()},
		{"minimal", Record{Serial: "0", Role: "r", Name: "n", Status: Active}},
		{"far future and past", Record{Serial: "1", Role: "r", Name: "n", Status: Active,
			NotBefore: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeRecord(nil, &tt.r)
			got, err := decodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.r) {
				t.Errorf("decode(encode(r)):\n got %+v\nwant %+v", got, tt.r)
			}
			if again := encodeRecord(nil, &got); !bytes.Equal(again, b) {
				t.Error("re-encoding differs")
			}
		})
	}
}

func TestRecordDecodeRejects(t *testing.T) {
	t.Parallel()
	good := encodeRecord(nil, &Record{Serial: "1", Role: "r", Name: "n", Status: Active})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown format", append([]byte{2}, good[1:]...)},
		{"tags out of order", []byte{1, tagRole, 1, 'r', tagSerial, 1, '1'}},
		{"repeated scalar", []byte{1, tagSerial, 1, '1', tagSerial, 1, '2'}},
		{"unknown tag", append(bytes.Clone(good), 99, 0)},
		{"length past end", append(bytes.Clone(good), tagSupersededBy, 5, 'a')},
		{"non-minimal length", []byte{1, tagSerial, 0x81, 0x00, '1'}},
		{"empty scalar", append(bytes.Clone(good), tagURI, 0)},
		{"missing role", []byte{1, tagSerial, 1, '1', tagName, 1, 'n', tagStatus, 6, 'a', 'c', 't', 'i', 'v', 'e'}},
		{"bad time", append(bytes.Clone(good), tagRevokedAt, 2, 0x02, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestSerialKeysSortNumerically(t *testing.T) {
	t.Parallel()
	var nums []*big.Int
	for _, s := range []string{"0", "1", "f", "10", "ff", "100", "7fffffffffffffffffffffffffffffff", "80000000000000000000000000000000"} {
		n, _ := new(big.Int).SetString(s, 16)
		nums = append(nums, n)
	}
	var keys [][]byte
	for _, n := range nums {
		k, err := serialKey(n.Text(16))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := serialFromKey(k); err != nil || back != n.Text(16) {
			t.Errorf("serialFromKey(serialKey(%s)) = %s, %v", n.Text(16), back, err)
		}
		keys = append(keys, k)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Errorf("keys not in numeric order: %x", keys)
	}
}

func TestNormalizeSerial(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"0x1F", "1f"}, {"01:AF:00", "1af00"}, {"000", "0"}, {" abc ", "abc"}, {"abc", "abc"},
		{"", ""}, {"0x", ""}, {"xyz", ""}, {"-1", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeSerial(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEventEncoding(t *testing.T) {
	t.Parallel()
	e := Event{Seq: 300, Time: time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC), Kind: EventRevoke, Serial: "a",
		Role: "worker", Name: "w", Actor: "ops", Detail: "keyCompromise", PrevHash: string(bytes.Repeat([]byte("ab"), 32))}
	h, err := eventHash(&e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := encodeEvent(nil, &e, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEvent(b)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Errorf("decode = %+v, %v; want %+v", got, err, e)
	}
	e.PrevHash = "zz"
	if _, err := encodeEvent(nil, &e, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad hash encoded: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := sampleRecord()
	f.Add(encodeRecord(nil, &r))
	f.Add(encodeRecord(nil, &Record{Serial: "1", Role: "r", Name: "n", Status: Active}))
	f.Add([]byte{1, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, stOK := statusOf(b)
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if again := encodeRecord(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x but re-encodes to %x", b, again)
		}
		// List skips records by statusOf: it must read what decoding does.
		if !stOK || Status(st) != r.Status {
			t.Fatalf("statusOf(%x) = %q, %v; the record's status is %q", b, st, stOK, r.Status)
		}
	})
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string // statusOf; "" for none
	}{
		{"a record", func() []byte { r := sampleRecord(); return encodeRecord(nil, &r) }(), string(sampleRecord().Status)},
		{"revoked", encodeRecord(nil, &Record{Serial: "1", Role: "r", Name: "n", Status: Revoked}), string(Revoked)},
		{"no status", encodeRecord(nil, &Record{Serial: "1", Role: "r", Name: "n"}), ""},
		{"unknown format", []byte{9, 1, 1, '1'}, ""},
		{"empty", nil, ""},
		{"fields out of order", []byte{recordFormat, 2, 1, 'r', 1, 1, '1', 4, 1, 'a'}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := statusOf(tc.b)
			if string(st) != tc.want || ok != (tc.want != "") {
				t.Errorf("statusOf = %q, %v; want %q", st, ok, tc.want)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e := Event{Seq: 1, Time: time.Unix(1, 0), Kind: "issue", Serial: "a", Hash: string(bytes.Repeat([]byte("0"), 64))}
	b, _ := encodeEvent(nil, &e, true)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEvent(b)
		if err != nil {
			return
		}
		again, err := encodeEvent(nil, &e, true)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %x but re-encodes to %x, %v", b, again, err)
		}
	})
}
