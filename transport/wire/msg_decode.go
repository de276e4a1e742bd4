package wire

import (
	"bytes"
	"fmt"
	"io"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// DecodeMsg decodes the frames of one Dask message. Frame 0 is msgpack;
// every {"__Serialized__": i} or {"__Pickled__": i} placeholder in it is
// replaced by a *Serialized holding the header at frame i and the raw frames
// after it; each header frame may be used by one placeholder only.
//
// Hostile input yields an error, never a panic: ErrMalformed for bytes that
// are not msgpack or a bad placeholder, ErrFrameLimit for nesting deeper
// than lim.MaxDepth or for a value whose decoded form would take more than
// its budget (lim.DecodeFactor times its size, see msg_budget.go). Both are
// found by a walk over the bytes that allocates nothing, before anything is
// decoded, so the memory DecodeMsg allocates stays within the budget.
func DecodeMsg(frames [][]byte, lim Limits) (Msg, error) {
	if len(frames) == 0 {
		return Msg{}, fmt.Errorf("message without frames: %w", ErrMalformed)
	}
	v, err := decodeChecked(frames[0], frames, lim.orDefaults())
	if err != nil {
		return Msg{}, fmt.Errorf("decoding frame 0: %w", err)
	}
	return Msg{Value: v, Frames: frames}, nil
}

// DecodeValue decodes one msgpack value from b the way DecodeMsg decodes
// frame 0, without resolving serialized-object placeholders.
func DecodeValue(b []byte, lim Limits) (any, error) {
	return decodeChecked(b, nil, lim.orDefaults())
}

// decodeChecked checks the cost of b against its budget, then decodes it.
func decodeChecked(b []byte, frames [][]byte, lim Limits) (any, error) {
	if _, err := scanCost(b, lim, frames != nil); err != nil {
		return nil, err
	}
	d := &valueDecoder{buf: b, src: bytes.NewReader(b), lim: lim, frames: frames}
	d.dec = msgpack.NewDecoder(d.src)
	return d.top()
}

// valueDecoder turns msgpack into the values documented on Msg. It checks
// every container length against the bytes left, so a claimed length can
// never make it allocate more than the input could fill.
type valueDecoder struct {
	buf     []byte
	src     *bytes.Reader
	dec     *msgpack.Decoder
	lim     Limits
	frames  [][]byte // nil: leave placeholders alone
	headers []bool   // header frames already used by a placeholder
}

// Empty containers are shared: a slice of length and capacity zero cannot
// be written through, and boxing a new one would cost 24 bytes per byte of
// input.
var (
	emptyList any = []any{}
	emptyBin  any = []byte{}
)

// top decodes exactly one value spanning all of the input.
func (d *valueDecoder) top() (any, error) {
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.src.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the msgpack value: %w", d.src.Len(), ErrMalformed)
	}
	return v, nil
}

func (d *valueDecoder) value(depth int) (any, error) {
	if depth > d.lim.MaxDepth {
		return nil, fmt.Errorf("msgpack nested deeper than %d: %w", d.lim.MaxDepth, ErrFrameLimit)
	}
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, malformed(err)
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return d.mapValue(depth)
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return d.array(depth)
	case msgpcode.IsBin(c):
		b, err := d.bin()
		if err != nil || len(b) == 0 {
			return emptyBin, err
		}
		return b, nil
	case msgpcode.IsString(c):
		b, err := d.bin()
		if err != nil || len(b) == 0 {
			return "", err
		}
		return string(b), nil
	case msgpcode.IsExt(c) || msgpcode.IsFixedExt(c):
		if err := d.checkExtLen(c); err != nil {
			return nil, err
		}
	}
	v, err := d.dec.DecodeInterfaceLoose()
	if err != nil {
		return nil, malformed(err)
	}
	if u, ok := v.(uint64); ok && u <= math.MaxInt64 {
		return int64(u), nil
	}
	return v, nil
}

// bin returns the bytes of a msgpack bin or str as a slice of the input,
// without copying: large payloads are common and the Msg owns its frames
// anyway. The length is checked against the bytes left first, since the
// msgpack library would allocate up to 1 MiB for whatever a string claims.
func (d *valueDecoder) bin() ([]byte, error) {
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return nil, malformed(err)
	}
	if n < 0 || n > d.src.Len() {
		return nil, fmt.Errorf("bin of %d bytes with %d left: %w", n, d.src.Len(), ErrMalformed)
	}
	pos := len(d.buf) - d.src.Len()
	if _, err := d.src.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, malformed(err)
	}
	return d.buf[pos : pos+n : pos+n], nil
}

// checkExtLen refuses an ext (Ext8/16/32) whose claimed length exceeds the
// bytes left, before the msgpack library allocates for the claim; fixed
// exts carry at most 16 bytes.
func (d *valueDecoder) checkExtLen(c byte) error {
	pos := len(d.buf) - d.src.Len()
	var size int
	switch c {
	case msgpcode.Ext8:
		size = 1
	case msgpcode.Ext16:
		size = 2
	case msgpcode.Ext32:
		size = 4
	default:
		return nil
	}
	if len(d.buf)-pos < 1+size {
		return fmt.Errorf("truncated ext header: %w", ErrMalformed)
	}
	var n uint64
	for _, b := range d.buf[pos+1 : pos+1+size] {
		n = n<<8 | uint64(b)
	}
	if left := uint64(len(d.buf) - pos - 1 - size); n+1 > left { // the type byte, then n bytes
		return fmt.Errorf("ext of %d bytes with %d left: %w", n, left, ErrMalformed)
	}
	return nil
}

func (d *valueDecoder) array(depth int) (any, error) {
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return nil, malformed(err)
	}
	if n < 0 || n > d.src.Len() { // every element takes at least one byte
		return nil, fmt.Errorf("array of %d with %d bytes left: %w", n, d.src.Len(), ErrMalformed)
	}
	if n == 0 {
		return emptyList, nil
	}
	out := make([]any, n)
	for i := range out {
		if out[i], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mapValue decodes a map into a map[string]any while its keys are strings,
// remembering their order, and into a Map (wire order) from the first key
// that is not. A repeated string key keeps its last value.
func (d *valueDecoder) mapValue(depth int) (any, error) {
	n, err := d.dec.DecodeMapLen()
	if err != nil {
		return nil, malformed(err)
	}
	if n < 0 || n > d.src.Len()/2 { // every entry takes at least two bytes
		return nil, fmt.Errorf("map of %d with %d bytes left: %w", n, d.src.Len(), ErrMalformed)
	}
	var m map[string]any
	var order []string // keys in wire order, for a Map after all
	for i := range n {
		c, err := d.dec.PeekCode()
		if err != nil {
			return nil, malformed(err)
		}
		if !msgpcode.IsString(c) {
			return d.mixedMap(depth, n, i, order, m)
		}
		kb, err := d.bin()
		if err != nil {
			return nil, err
		}
		k := string(kb)
		if n > 1 {
			if order == nil {
				order = make([]string, 0, n)
			}
			order = append(order, k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if n == 1 && d.frames != nil {
			// Dask's placeholder, {"__Serialized__": i}, becomes the object
			// without a map being built for it.
			if offset, ok := placeholderOffset(k, v); ok {
				return d.subFrames(SerializedKind(k), offset)
			}
		}
		if m == nil {
			m = make(map[string]any, n)
		}
		m[k] = v
	}
	if m == nil {
		m = make(map[string]any)
	}
	if d.frames != nil {
		return d.resolve(m)
	}
	return m, nil
}

// placeholderOffset reports whether a map's one entry, k: v, points at a
// serialized object: the key is a placeholder kind and v a positive offset.
func placeholderOffset(k string, v any) (int64, bool) {
	offset, ok := v.(int64)
	return offset, ok && offset > 0 && (k == string(KindSerialized) || k == string(KindPickled))
}

func (d *valueDecoder) mixedMap(depth, n, done int, order []string, m map[string]any) (Map, error) {
	entries := make(Map, n)
	for i, k := range order[:done] {
		entries[i] = KV{Key: k, Value: m[k]}
	}
	var err error
	for i := done; i < n; i++ {
		if entries[i].Key, err = d.value(depth + 1); err != nil {
			return nil, err
		}
		if entries[i].Value, err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

func malformed(err error) error {
	return fmt.Errorf("%v: %w", err, ErrMalformed)
}
