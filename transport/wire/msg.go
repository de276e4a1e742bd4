package wire

import (
	"fmt"
	"sort"
)

// Msg is one message received from a Dask peer.
//
// Value is frame 0 decoded from msgpack into plain Go values:
//
//   - nil, bool, int64 (uint64 only above math.MaxInt64), float64, string;
//   - []byte for msgpack bin (Python bytes), aliasing the received frame;
//   - []any for arrays (Python lists and tuples);
//   - map[string]any for maps whose keys are all strings, and Map for any
//     other map (Dask keys may be bytes, ints or tuples);
//   - *Serialized for each object Dask serialized out of band.
//
// Frames are the raw frames as received, Frames[0] being the msgpack. The
// receiver owns a Msg; nothing else refers to its memory.
type Msg struct {
	Value  any
	Frames [][]byte
}

// Dict returns Value as a map with string keys, or false if it is not one.
func (m Msg) Dict() (map[string]any, bool) {
	d, ok := m.Value.(map[string]any)
	return d, ok
}

// Op returns the "op" of a request message, or "" if it has none.
func (m Msg) Op() string {
	d, _ := m.Dict()
	op, _ := d["op"].(string)
	return op
}

// SerializedKind says how Dask encoded an out-of-band object.
type SerializedKind string

// The two placeholder keys Dask writes into frame 0 for an object stored in
// later frames: {"__Serialized__": i} for an object serialized by one of
// its serializer families (its header at frame i names the serializer), and
// {"__Pickled__": i} for a pickled one (its header at frame i carries the
// pickle bytes under "pickled-obj").
const (
	KindSerialized SerializedKind = "__Serialized__"
	KindPickled    SerializedKind = "__Pickled__"
)

// Serialized is an object a Dask peer sent out of band: a msgpack header
// (with "num-sub-frames", and for serialized objects "serializer",
// "compression", "split-num-sub-frames" and the like) followed by raw
// frames. Go cannot unpickle, so it surfaces the bytes as they came; sending
// a *Serialized back (inside any message) writes it out unchanged, so a Go
// endpoint can pass Python objects through without understanding them.
type Serialized struct {
	Kind   SerializedKind
	Header map[string]any
	Frames [][]byte
}

// Pickle returns the pickle bytes of a pickled object, or nil.
func (s *Serialized) Pickle() []byte {
	b, _ := s.Header["pickled-obj"].([]byte)
	return b
}

// String summarises s without its bytes.
func (s *Serialized) String() string {
	n := 0
	for _, f := range s.Frames {
		n += len(f)
	}
	return fmt.Sprintf("%s{serializer=%v frames=%d bytes=%d}", s.Kind, s.Header["serializer"], len(s.Frames), n)
}

// KV is one entry of a Map.
type KV struct {
	Key   any
	Value any
}

// Map is a msgpack map with at least one key that is not a string, kept in
// wire order because such keys (bytes, arrays) cannot be Go map keys.
type Map []KV

// Get returns the value of the first entry whose key equals key, comparing
// only comparable keys (strings, numbers, bools, nil).
func (m Map) Get(key any) (any, bool) {
	for _, kv := range m {
		if comparableKey(kv.Key) && comparableKey(key) && kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

func comparableKey(k any) bool {
	switch k.(type) {
	case nil, bool, string, int64, uint64, float64:
		return true
	}
	return false
}

// sortedKeys returns the keys of m in increasing order, so that encoded
// messages are deterministic.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
