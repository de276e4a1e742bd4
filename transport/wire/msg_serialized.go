package wire

import "fmt"

// resolve replaces a Dask placeholder map by the *Serialized it points to.
// Like Dask, it treats a map as a placeholder when it has the key with a
// positive integer offset; any other map is returned unchanged.
func (d *valueDecoder) resolve(m map[string]any) (any, error) {
	for _, kind := range []SerializedKind{KindSerialized, KindPickled} {
		raw, ok := m[string(kind)]
		if !ok {
			continue
		}
		offset, ok := raw.(int64)
		if !ok {
			return nil, fmt.Errorf("%s offset %v is not an integer: %w", kind, raw, ErrMalformed)
		}
		if offset <= 0 {
			continue
		}
		return d.subFrames(kind, offset)
	}
	return m, nil
}

// subFrames decodes the header at frames[offset] and slices the frames it
// announces with "num-sub-frames".
func (d *valueDecoder) subFrames(kind SerializedKind, offset int64) (*Serialized, error) {
	if offset >= int64(len(d.frames)) {
		return nil, fmt.Errorf("%s header at frame %d of %d: %w", kind, offset, len(d.frames), ErrMalformed)
	}
	// Dask points each placeholder at a header of its own. Decoding one
	// header for many placeholders would let a small message cost its
	// header's decoded size many times over.
	if d.headers == nil {
		d.headers = make([]bool, len(d.frames))
	}
	if d.headers[offset] {
		return nil, fmt.Errorf("%s header at frame %d is used by another placeholder: %w", kind, offset, ErrMalformed)
	}
	d.headers[offset] = true
	h, err := DecodeValue(d.frames[offset], d.lim)
	if err != nil {
		return nil, fmt.Errorf("decoding %s header at frame %d: %w", kind, offset, err)
	}
	header, ok := h.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s header at frame %d is a %T: %w", kind, offset, h, ErrMalformed)
	}
	n, ok := header["num-sub-frames"].(int64)
	first := offset + 1
	if !ok || n < 0 || n > int64(len(d.frames))-first {
		return nil, fmt.Errorf("%s at frame %d announces %v sub-frames of %d: %w",
			kind, offset, header["num-sub-frames"], int64(len(d.frames))-first, ErrMalformed)
	}
	return &Serialized{Kind: kind, Header: header, Frames: d.frames[first : first+n : first+n]}, nil
}

// extract walks v and replaces every *Serialized by its placeholder map,
// appending its header and frames to *frames. Containers are copied only on
// the path to a *Serialized; a message without one is returned as it is.
func extract(v any, frames *[][]byte) (any, bool, error) {
	switch x := v.(type) {
	case *Serialized:
		return placeholder(x, frames)
	case map[string]any:
		return extractMap(x, frames)
	case []any:
		return extractSlice(x, frames)
	case Map:
		var out Map
		for i, kv := range x {
			nv, changed, err := extract(kv.Value, frames)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = append(Map(nil), x...)
			}
			if out != nil {
				out[i].Value = nv
			}
		}
		if out == nil {
			return v, false, nil
		}
		return out, true, nil
	}
	return v, false, nil
}

func extractMap(x map[string]any, frames *[][]byte) (any, bool, error) {
	var out map[string]any
	for _, k := range sortedKeys(x) { // placeholder offsets follow key order
		nv, changed, err := extract(x[k], frames)
		if err != nil {
			return nil, false, err
		}
		if changed && out == nil {
			out = make(map[string]any, len(x))
			for k2, v2 := range x {
				out[k2] = v2
			}
		}
		if out != nil {
			out[k] = nv
		}
	}
	if out == nil {
		return x, false, nil
	}
	return out, true, nil
}

func extractSlice(x []any, frames *[][]byte) (any, bool, error) {
	var out []any
	for i, e := range x {
		nv, changed, err := extract(e, frames)
		if err != nil {
			return nil, false, err
		}
		if changed && out == nil {
			out = append([]any(nil), x...)
		}
		if out != nil {
			out[i] = nv
		}
	}
	if out == nil {
		return x, false, nil
	}
	return out, true, nil
}

// placeholder appends s's header (with num-sub-frames set to its frame
// count) and frames and returns the map that points at them.
func placeholder(s *Serialized, frames *[][]byte) (any, bool, error) {
	if s.Kind != KindSerialized && s.Kind != KindPickled {
		return nil, false, fmt.Errorf("serialized object of unknown kind %q", s.Kind)
	}
	header := make(map[string]any, len(s.Header)+1)
	for k, v := range s.Header {
		header[k] = v
	}
	header["num-sub-frames"] = int64(len(s.Frames))
	h, err := marshalValue(header)
	if err != nil {
		return nil, false, fmt.Errorf("encoding %s header: %w", s.Kind, err)
	}
	offset := int64(len(*frames))
	*frames = append(*frames, h)
	*frames = append(*frames, s.Frames...)
	return map[string]any{string(s.Kind): offset}, true, nil
}
