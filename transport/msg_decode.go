package transport

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
// after it. Hostile input yields an error wrapping ErrMalformed (or
// ErrFrameLimit for nesting deeper than lim.MaxDepth), never a panic, and
// allocates no more than the frames' own size suggests.
func DecodeMsg(frames [][]byte, lim Limits) (Msg, error) {
	if len(frames) == 0 {
		return Msg{}, fmt.Errorf("message without frames: %w", ErrMalformed)
	}
	d := newValueDecoder(frames[0], lim.orDefaults().MaxDepth)
	d.frames = frames
	v, err := d.top()
	if err != nil {
		return Msg{}, fmt.Errorf("decoding frame 0: %w", err)
	}
	return Msg{Value: v, Frames: frames}, nil
}

// DecodeValue decodes one msgpack value from b the way DecodeMsg decodes
// frame 0, without resolving serialized-object placeholders.
func DecodeValue(b []byte, lim Limits) (any, error) {
	return newValueDecoder(b, lim.orDefaults().MaxDepth).top()
}

// valueDecoder turns msgpack into the values documented on Msg. It checks
// every container length against the bytes left, so a claimed length can
// never make it allocate more than the input could fill.
type valueDecoder struct {
	buf      []byte
	src      *bytes.Reader
	dec      *msgpack.Decoder
	maxDepth int
	frames   [][]byte // nil: leave placeholders alone
}

func newValueDecoder(b []byte, maxDepth int) *valueDecoder {
	src := bytes.NewReader(b)
	return &valueDecoder{buf: b, src: src, dec: msgpack.NewDecoder(src), maxDepth: maxDepth}
}

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
	if depth > d.maxDepth {
		return nil, fmt.Errorf("msgpack nested deeper than %d: %w", d.maxDepth, ErrFrameLimit)
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
		return d.bin()
	case msgpcode.IsString(c):
		b, err := d.bin()
		return string(b), err
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

func (d *valueDecoder) array(depth int) ([]any, error) {
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return nil, malformed(err)
	}
	if n < 0 || n > d.src.Len() { // every element takes at least one byte
		return nil, fmt.Errorf("array of %d with %d bytes left: %w", n, d.src.Len(), ErrMalformed)
	}
	out := make([]any, n)
	for i := range out {
		if out[i], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *valueDecoder) mapValue(depth int) (any, error) {
	n, err := d.dec.DecodeMapLen()
	if err != nil {
		return nil, malformed(err)
	}
	if n < 0 || n > d.src.Len()/2 { // every entry takes at least two bytes
		return nil, fmt.Errorf("map of %d with %d bytes left: %w", n, d.src.Len(), ErrMalformed)
	}
	entries := make(Map, n)
	allStrings := true
	for i := range entries {
		if entries[i].Key, err = d.value(depth + 1); err != nil {
			return nil, err
		}
		if entries[i].Value, err = d.value(depth + 1); err != nil {
			return nil, err
		}
		_, isString := entries[i].Key.(string)
		allStrings = allStrings && isString
	}
	if !allStrings {
		return entries, nil
	}
	m := make(map[string]any, n)
	for _, kv := range entries {
		m[kv.Key.(string)] = kv.Value
	}
	if d.frames != nil {
		return d.resolve(m)
	}
	return m, nil
}

func malformed(err error) error {
	return fmt.Errorf("%v: %w", err, ErrMalformed)
}
