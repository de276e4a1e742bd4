package wire

import (
	"encoding/binary"
	"fmt"
)

// Decoding a msgpack value costs more memory than its bytes: a three-byte
// map of one entry becomes a Go map of over 300 bytes, a one-byte element
// of a list a 16-byte interface. A peer could send a few megabytes that take
// gigabytes once decoded. So before decoding anything, DecodeMsg walks the
// bytes without allocating, adds up what decoding them would cost (the
// costs below, upper bounds measured on 64-bit Go), and refuses a value
// whose cost is above its budget: Limits.DecodeFactor times its size plus
// decodeAllowance. Real Dask messages decode to a few times their size.
const (
	// DefaultDecodeFactor is the budget of decoded memory per byte of
	// msgpack when Limits.DecodeFactor is zero. Dask's messages (task
	// batches, registrations, heartbeats, identity replies) decode to 6 to
	// 9 times their size, a map of short keys to small numbers up to about
	// 15, a list of small numbers 16; a hostile list of empty maps would
	// take 64 times, of one-entry maps 128 times.
	DefaultDecodeFactor = 16
	// decodeAllowance is budget every value gets beside the factor, so
	// that small messages, whose fixed costs dominate (a two-key request
	// is a Go map of about 400 bytes for 20 bytes of msgpack), always fit.
	decodeAllowance = 64 << 10
)

// Costs of the decoded forms, in bytes, including the interface that holds
// each value and the transient slices DecodeMsg builds.
const (
	costSlot      = 16  // an element of a []any, a boxed scalar, a key's place in the key order
	costNonEmpty  = 24  // a boxed slice header ([]any, []byte)
	costMapHeader = 48  // a Go map without entries
	costMapGroup  = 264 // a group of 8 map[string]any slots and their control word
	costMapTable  = 128 // a table of groups and its place in the directory
	costBigGroup  = 336 // a group inside a table, its allocation rounded up to a size class
	costKV        = 32  // an entry of a Map (a map with a key that is not a string)
	costExt       = 64  // a decoded extension (time.Time) and its box
	costSerial    = 64  // a *Serialized in place of its placeholder map
)

// mapCost is what a map[string]any of n entries takes: a group of 8 for up
// to 8 entries, else tables of groups sized for n at a load of 7/8,
// rounded up to a power of two, of at most 1024 slots each.
func mapCost(n uint64) int64 {
	switch {
	case n == 0:
		return costMapHeader
	case n <= 8:
		return costMapHeader + costMapGroup
	}
	slots := uint64(8)
	for slots*7/8 < n {
		slots *= 2
	}
	tables := max(slots/1024, 1)
	return costMapHeader + int64(slots/8)*costBigGroup + int64(tables)*costMapTable
}

// budget is the most the decoded form of size bytes of msgpack may take.
func (l Limits) budget(size int) int64 {
	return int64(l.orDefaults().DecodeFactor)*int64(size) + decodeAllowance
}

// costScanner walks msgpack without allocating: it checks that the bytes
// hold exactly one value nested no deeper than maxDepth, with every length
// inside the input, and sums the cost of decoding it.
type costScanner struct {
	b         []byte
	pos       int
	maxDepth  int
	resolving bool // placeholders become *Serialized (their headers have budgets of their own)
	cost      int64
}

// scanCost returns the cost of decoding b, or an error wrapping
// ErrMalformed (bad msgpack) or ErrFrameLimit (too deep, over budget).
// resolving says whether placeholders will be resolved.
func scanCost(b []byte, lim Limits, resolving bool) (int64, error) {
	lim = lim.orDefaults()
	s := costScanner{b: b, maxDepth: lim.MaxDepth, resolving: resolving}
	if err := s.value(0); err != nil {
		return 0, err
	}
	if s.pos != len(b) {
		return 0, fmt.Errorf("%d bytes after the msgpack value: %w", len(b)-s.pos, ErrMalformed)
	}
	if budget := lim.budget(len(b)); s.cost > budget {
		return s.cost, fmt.Errorf("%d bytes of msgpack would take about %d bytes once decoded, "+
			"over the budget of %d (%d times its size plus %d): refused before decoding: %w",
			len(b), s.cost, budget, lim.DecodeFactor, decodeAllowance, ErrFrameLimit)
	}
	return s.cost, nil
}

// take advances over n bytes, refusing lengths beyond the input.
func (s *costScanner) take(n uint64) error {
	if n > uint64(len(s.b)-s.pos) {
		return fmt.Errorf("msgpack claims %d bytes with %d left: %w", n, len(s.b)-s.pos, ErrMalformed)
	}
	s.pos += int(n)
	return nil
}

// uint reads a big-endian length of size bytes.
func (s *costScanner) uint(size int) (uint64, error) {
	if size > len(s.b)-s.pos {
		return 0, fmt.Errorf("truncated msgpack length: %w", ErrMalformed)
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(s.b[s.pos])
	case 2:
		n = uint64(binary.BigEndian.Uint16(s.b[s.pos:]))
	case 4:
		n = uint64(binary.BigEndian.Uint32(s.b[s.pos:]))
	}
	s.pos += size
	return n, nil
}

func (s *costScanner) value(depth int) error {
	if depth > s.maxDepth {
		return fmt.Errorf("msgpack nested deeper than %d: %w", s.maxDepth, ErrFrameLimit)
	}
	if s.pos >= len(s.b) {
		return fmt.Errorf("truncated msgpack: %w", ErrMalformed)
	}
	c := s.b[s.pos]
	s.pos++
	switch {
	case c <= 0x7f, c == 0xc0, c == 0xc2, c == 0xc3: // positive fixint, nil, bools: no allocation
		return nil
	case c >= 0xe0: // negative fixint
		s.cost += costSlot
		return nil
	case c&0xf0 == 0x80:
		return s.mapping(uint64(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return s.array(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return s.str(uint64(c & 0x1f))
	}
	switch c {
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, err := s.uint(1 << (c - 0xc4))
		if err != nil {
			return err
		}
		s.cost += costNonEmpty
		return s.take(n)
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, err := s.uint(1 << (c - 0xd9))
		if err != nil {
			return err
		}
		return s.str(n)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		n, err := s.uint(1 << (c - 0xc7))
		if err != nil {
			return err
		}
		s.cost += costExt + int64(n)
		return s.take(n + 1)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16: type, data
		s.cost += costExt
		return s.take(1 + 1<<(c-0xd4))
	case 0xca, 0xcb: // float 32/64
		s.cost += costSlot
		return s.take(4 << (c - 0xca))
	case 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3: // uint, int 8..64
		s.cost += costSlot
		return s.take(1 << ((c - 0xcc) % 4))
	case 0xdc, 0xdd:
		n, err := s.uint(2 << (c - 0xdc))
		if err != nil {
			return err
		}
		return s.array(n, depth)
	case 0xde, 0xdf:
		n, err := s.uint(2 << (c - 0xde))
		if err != nil {
			return err
		}
		return s.mapping(n, depth)
	}
	return fmt.Errorf("invalid msgpack code 0x%02x: %w", c, ErrMalformed)
}

// str costs its bytes (rounded up to an allocation size) and its box.
func (s *costScanner) str(n uint64) error {
	if n > 0 {
		s.cost += costSlot + strBytes(n)
	}
	return s.take(n)
}

// strBytes is the allocation of a string of n bytes, size class included.
func strBytes(n uint64) int64 { return int64(n) + int64(n)/8 + 8 }

// strLen returns the length of the string starting at the current byte and
// advances past its header, or false (without advancing) if the value
// there is not a string.
func (s *costScanner) strLen() (uint64, bool, error) {
	if s.pos >= len(s.b) {
		return 0, false, fmt.Errorf("truncated msgpack: %w", ErrMalformed)
	}
	c := s.b[s.pos]
	switch {
	case c&0xe0 == 0xa0:
		s.pos++
		return uint64(c & 0x1f), true, nil
	case c >= 0xd9 && c <= 0xdb:
		s.pos++
		n, err := s.uint(1 << (c - 0xd9))
		return n, true, err
	}
	return 0, false, nil
}

func (s *costScanner) array(n uint64, depth int) error {
	if n > uint64(len(s.b)-s.pos) { // every element takes at least one byte
		return fmt.Errorf("array of %d with %d bytes left: %w", n, len(s.b)-s.pos, ErrMalformed)
	}
	if n > 0 {
		s.cost += costNonEmpty + costSlot*int64(n)
	}
	for range n {
		if err := s.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

func (s *costScanner) mapping(n uint64, depth int) error {
	if n > uint64(len(s.b)-s.pos)/2 { // every entry takes at least two bytes
		return fmt.Errorf("map of %d with %d bytes left: %w", n, len(s.b)-s.pos, ErrMalformed)
	}
	if n == 1 && s.resolving && s.placeholder() {
		s.cost += costSerial
		return nil
	}
	s.cost += mapCost(n)
	if n > 1 {
		s.cost += costSlot * int64(n) // the key order
	}
	mixed := false
	for range n {
		if depth+1 > s.maxDepth {
			return fmt.Errorf("msgpack nested deeper than %d: %w", s.maxDepth, ErrFrameLimit)
		}
		k, isStr, err := s.strLen()
		if err != nil {
			return err
		}
		if isStr {
			s.cost += strBytes(k) // a key of a map[string]any is not boxed
			err = s.take(k)
		} else {
			mixed = true
			err = s.value(depth + 1)
		}
		if err != nil {
			return err
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
	}
	if mixed { // a Map besides: its entries and boxed string keys
		s.cost += (costKV + costSlot) * int64(n)
	}
	return nil
}

// placeholder reports whether the one entry of a map, at the current byte,
// is a placeholder with a positive offset, and if so advances past it.
func (s *costScanner) placeholder() bool {
	start := s.pos
	k, isStr, err := s.strLen()
	if err != nil || !isStr || k > uint64(len(s.b)-s.pos) {
		s.pos = start
		return false
	}
	key := s.b[s.pos : s.pos+int(k)]
	s.pos += int(k)
	if string(key) == string(KindSerialized) || string(key) == string(KindPickled) { // compared without allocating
		if s.positiveInt() {
			return true
		}
	}
	s.pos = start
	return false
}

// positiveInt reports whether the value at the current byte is an integer
// above zero, and if so advances past it.
func (s *costScanner) positiveInt() bool {
	if s.pos >= len(s.b) {
		return false
	}
	c := s.b[s.pos]
	if c >= 0x01 && c <= 0x7f {
		s.pos++
		return true
	}
	if c < 0xcc || c > 0xd3 {
		return false
	}
	size := 1 << ((c - 0xcc) % 4)
	if size > len(s.b)-s.pos-1 {
		return false
	}
	var u uint64
	for _, b := range s.b[s.pos+1 : s.pos+1+size] {
		u = u<<8 | uint64(b)
	}
	positive := u > 0
	if c >= 0xd0 { // signed: the top bit of its size is the sign
		positive = u > 0 && u>>(8*size-1) == 0
	} else if c == 0xcf {
		positive = u > 0 && u <= 1<<63-1 // above that it stays a uint64, not an offset
	}
	if positive {
		s.pos += 1 + size
	}
	return positive
}
