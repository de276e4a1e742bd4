package wire

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// EncodeMsg encodes v as the frames of one Dask message: frame 0 is v in
// msgpack (bin for []byte, str for string, map keys sorted so the output is
// deterministic, integers in their shortest form as Python writes them), and
// every *Serialized inside v becomes a placeholder plus its header and raw
// frames in the frames that follow, exactly as Dask lays them out.
//
// v may hold the types DecodeMsg produces, Go maps, slices and scalars, and
// anything else msgpack/v5 can encode.
func EncodeMsg(v any) ([][]byte, error) {
	frames := [][]byte{nil}
	conv, _, err := extract(v, &frames)
	if err != nil {
		return nil, err
	}
	if frames[0], err = marshalValue(conv); err != nil {
		return nil, err
	}
	return frames, nil
}

// marshalValue encodes one value the way Python's msgpack with
// use_bin_type=True would.
func marshalValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding msgpack: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeMsgpack writes m as a msgpack map in its own order.
func (m Map) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, kv := range m {
		if err := enc.Encode(kv.Key); err != nil {
			return err
		}
		if err := enc.Encode(kv.Value); err != nil {
			return err
		}
	}
	return nil
}

var _ msgpack.CustomEncoder = Map(nil)

// EncodeMsgpack refuses to encode s on its own: a *Serialized can only be
// written where EncodeMsg finds it (inside maps and slices it walks), since
// its frames must travel beside frame 0.
func (s *Serialized) EncodeMsgpack(*msgpack.Encoder) error {
	return fmt.Errorf("serialized object %v outside a map or slice EncodeMsg walks", s)
}
