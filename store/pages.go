package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// This file validates a bbolt file's structure with plain reads before bbolt
// maps it. bbolt trusts its pages: a bad page id faults, a cycle recurses
// until the stack overflows, a huge freelist count exhausts memory. Neither
// of the last two can be recovered, so untrusted files are walked here
// first. The format is bbolt's (version 2): 16-byte page headers, native
// byte order, meta pages 0 and 1 with an FNV-64a checksum.

const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	metaChecksumOff = 56 // bytes of the meta that the checksum covers
	elemSize        = 16 // branch and leaf element headers
	inBucketSize    = 16 // root pgid + sequence, then an inline page if root is 0
	noFreelist      = ^uint64(0)
	flagBranch      = 0x01
	flagLeaf        = 0x02
	flagFreelist    = 0x10
	bucketLeafFlag  = 0x01
	maxTreeDepth    = 64 // a B+tree of 2^64 keys is far shallower
	minPageSize     = 1024
	maxPageSize     = 16 << 20
)

var ne = binary.NativeEndian

type boltMeta struct {
	pageSize                  int
	root, freelist, hwm, txid uint64
}

// parseMeta decodes the meta in a page buffer and checks magic, version and
// checksum, as bbolt does before trusting it.
func parseMeta(page []byte) (boltMeta, bool) {
	if len(page) < pageHeaderSize+metaChecksumOff+8 {
		return boltMeta{}, false
	}
	m := page[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	if ne.Uint32(m) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[metaChecksumOff:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: int(ne.Uint32(m[8:])), root: ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]), hwm: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

func readAt(r io.ReaderAt, n int, off int64) ([]byte, error) {
	b := make([]byte, n)
	got, err := r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return b[:got], err
}

// readLayout finds the meta bbolt will use: the valid one with the higher
// transaction id. It then checks that meta's bounds against the file size.
func readLayout(r io.ReaderAt, size int64) (boltMeta, error) {
	var metas []boltMeta
	b, _ := readAt(r, 4096, 0)
	ps := 0
	if m, ok := parseMeta(b); ok && validPageSize(m.pageSize) {
		metas, ps = append(metas, m), m.pageSize
	}
	// Meta 0 unreadable: find meta 1 by trying every page size, as bbolt does.
	for off := int64(minPageSize); ps == 0 && off <= maxPageSize && off < size; off *= 2 {
		b, _ = readAt(r, 4096, off)
		if m, ok := parseMeta(b); ok && int64(m.pageSize) == off {
			ps = m.pageSize
		}
	}
	if ps != 0 {
		b, _ = readAt(r, 4096, int64(ps))
		if m, ok := parseMeta(b); ok && m.pageSize == ps {
			metas = append(metas, m)
		}
	}
	if len(metas) == 0 {
		return boltMeta{}, fmt.Errorf("no valid bbolt meta page: %w", ErrCorrupt)
	}
	m := metas[0]
	if len(metas) > 1 && metas[1].txid > m.txid {
		m = metas[1]
	}
	switch {
	case m.hwm < 4 || m.hwm > uint64(size)/uint64(m.pageSize):
		return m, fmt.Errorf("file holds %d bytes, meta needs %d pages of %d: truncated: %w", size, m.hwm, m.pageSize, ErrCorrupt)
	case m.root < 2 || m.root >= m.hwm:
		return m, fmt.Errorf("root page %d out of range: %w", m.root, ErrCorrupt)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.hwm):
		return m, fmt.Errorf("freelist page %d out of range: %w", m.freelist, ErrCorrupt)
	}
	return m, nil
}

func validPageSize(n int) bool { return n >= minPageSize && n <= maxPageSize && n&(n-1) == 0 }

// walker visits every page reachable from the root bucket exactly once.
type walker struct {
	r    io.ReaderAt
	data []byte // the whole file, when mapped: pages are slices of it
	m    boltMeta
	seen []uint64 // bitset of visited page ids
}

// walkFile checks every page reachable from the meta and the freelist:
// ids in range, each page reached once, element bounds inside their page,
// and no free page still in use.
func walkFile(r io.ReaderAt, m boltMeta) error {
	return walk(&walker{r: r, m: m, seen: make([]uint64, (m.hwm+63)/64)})
}

// walkMapped is walkFile over the file's bytes (see mapFile).
func walkMapped(data []byte, m boltMeta) error {
	return walk(&walker{r: bytes.NewReader(data), data: data, m: m, seen: make([]uint64, (m.hwm+63)/64)})
}

func walk(w *walker) error {
	m := w.m
	if err := w.tree(m.root, 0); err != nil {
		return err
	}
	if m.freelist == noFreelist {
		return nil
	}
	return w.freelist(m.freelist)
}

func (w *walker) mark(id uint64) bool {
	if w.seen[id/64]&(1<<(id%64)) != 0 {
		return false
	}
	w.seen[id/64] |= 1 << (id % 64)
	return true
}

func (w *walker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.m.hwm {
		return nil, fmt.Errorf("page %d out of range: %w", id, ErrCorrupt)
	}
	ps := w.m.pageSize
	b, err := w.read(ps, int64(id)*int64(ps))
	if err != nil {
		return nil, fmt.Errorf("reading page %d: %w: %w", id, ErrCorrupt, err)
	}
	ov := uint64(ne.Uint32(b[12:]))
	if ne.Uint64(b) != id || id+ov >= w.m.hwm {
		return nil, fmt.Errorf("page %d: bad header: %w", id, ErrCorrupt)
	}
	for p := id; p <= id+ov; p++ {
		if !w.mark(p) {
			return nil, fmt.Errorf("page %d reached twice: %w", p, ErrCorrupt)
		}
	}
	if ov > 0 {
		if b, err = w.read(ps*int(ov+1), int64(id)*int64(ps)); err != nil {
			return nil, fmt.Errorf("reading page %d: %w: %w", id, ErrCorrupt, err)
		}
	}
	return b, nil
}

// read returns n bytes at off: a slice of the mapped file, or read.
func (w *walker) read(n int, off int64) ([]byte, error) {
	if w.data != nil && off >= 0 && off+int64(n) <= int64(len(w.data)) {
		return w.data[off : off+int64(n) : off+int64(n)], nil
	}
	return readAt(w.r, n, off)
}

func (w *walker) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d: %w", id, maxTreeDepth, ErrCorrupt)
	}
	b, err := w.page(id)
	if err != nil {
		return err
	}
	return w.node(b, depth)
}

// node checks one branch or leaf page (b may be an inline bucket's page).
func (w *walker) node(b []byte, depth int) error {
	if len(b) < pageHeaderSize {
		return fmt.Errorf("short page: %w", ErrCorrupt)
	}
	flags, count := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	if pageHeaderSize+count*elemSize > len(b) {
		return fmt.Errorf("page %d: %d elements overflow it: %w", ne.Uint64(b), count, ErrCorrupt)
	}
	for i := range count {
		off := pageHeaderSize + i*elemSize
		e := b[off:]
		switch flags {
		case flagBranch:
			end := uint64(off) + uint64(ne.Uint32(e)) + uint64(ne.Uint32(e[4:]))
			if end > uint64(len(b)) {
				return fmt.Errorf("page %d: branch element %d out of bounds: %w", ne.Uint64(b), i, ErrCorrupt)
			}
			if err := w.tree(ne.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case flagLeaf:
			if err := w.leafElem(b, off, depth); err != nil {
				return err
			}
		}
	}
	if flags != flagLeaf && (flags != flagBranch || count == 0) {
		return fmt.Errorf("page %d: unexpected flags %#x or empty branch: %w", ne.Uint64(b), flags, ErrCorrupt)
	}
	return nil
}

func (w *walker) leafElem(b []byte, off, depth int) error {
	e := b[off:]
	kpos := uint64(off) + uint64(ne.Uint32(e[4:]))
	vpos := kpos + uint64(ne.Uint32(e[8:]))
	end := vpos + uint64(ne.Uint32(e[12:]))
	if end > uint64(len(b)) {
		return fmt.Errorf("page %d: leaf element out of bounds: %w", ne.Uint64(b), ErrCorrupt)
	}
	if ne.Uint32(e)&bucketLeafFlag == 0 {
		return nil
	}
	v := b[vpos:end]
	if len(v) < inBucketSize {
		return fmt.Errorf("page %d: short bucket header: %w", ne.Uint64(b), ErrCorrupt)
	}
	if root := ne.Uint64(v); root != 0 {
		return w.tree(root, depth+1)
	}
	inline := v[inBucketSize:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != flagLeaf || depth > maxTreeDepth {
		return fmt.Errorf("page %d: bad inline bucket: %w", ne.Uint64(b), ErrCorrupt)
	}
	return w.node(inline, depth+1)
}

// freelist checks the freelist page: every free id in range, listed once,
// and not reachable from the root.
func (w *walker) freelist(id uint64) error {
	reachable := w.seen
	w.seen = make([]uint64, len(reachable))
	b, err := w.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if ne.Uint16(b[8:]) != flagFreelist {
		return fmt.Errorf("freelist page %d has flags %#x: %w", id, ne.Uint16(b[8:]), ErrCorrupt)
	}
	start, n := uint64(pageHeaderSize), uint64(ne.Uint16(b[10:]))
	if n == 0xFFFF && len(b) >= pageHeaderSize+8 {
		start, n = pageHeaderSize+8, ne.Uint64(b[pageHeaderSize:])
	}
	if n > (uint64(len(b))-start)/8 {
		return fmt.Errorf("freelist page %d: %d ids overflow it: %w", id, n, ErrCorrupt)
	}
	for i := range n {
		p := ne.Uint64(b[start+8*i:])
		if p < 2 || p >= w.m.hwm || reachable[p/64]&(1<<(p%64)) != 0 || !w.mark(p) {
			return fmt.Errorf("freelist page %d: free page %d is out of range, in use or listed twice: %w", id, p, ErrCorrupt)
		}
	}
	return nil
}
