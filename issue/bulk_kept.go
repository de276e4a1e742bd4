package issue

import (
	"bytes"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/daskca/daskca/internal/fsutil"
)

// keptBundles tells whether an endpoint's trust bundle already holds
// exactly the run's bundle, so that a replacement leaves it in place: a
// renewal changes certificates and keys, not the bundle, and linking and
// renaming an identical file costs two system calls per endpoint and
// wakes every watcher of the file for nothing. A bundle counts when it is
// a regular file, mode 0644 (what the run would write), with the run's
// bytes. The copies an issuing run writes are a few files with many
// links (sharedFile), so files found to match are remembered by identity,
// and each is read once. It is safe for concurrent use.
type keptBundles struct {
	data  []byte
	mu    sync.Mutex
	known []fs.FileInfo // files found to hold data; at most maxKnownBundles
}

// maxKnownBundles bounds the files keptBundles remembers: beyond it (every
// endpoint's bundle a copy of its own), each file is read.
const maxKnownBundles = 64

// holds reports whether the file at path, not following a link, is a
// bundle a run would leave in place.
func (k *keptBundles) holds(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 || fi.Size() != int64(len(k.data)) {
		return false
	}
	if k.isKnown(fi) {
		return true
	}
	data, mode, err := fsutil.ReadRegular(path)
	if err != nil || mode.Perm() != 0o644 || !bytes.Equal(data, k.data) {
		return false
	}
	k.mu.Lock()
	if len(k.known) < maxKnownBundles {
		k.known = append(k.known, fi)
	}
	k.mu.Unlock()
	return true
}

// isKnown reports whether fi is a file found to hold the bundle, unchanged
// since: the same file, size and modification time.
func (k *keptBundles) isKnown(fi fs.FileInfo) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.ContainsFunc(k.known, func(f fs.FileInfo) bool { return fsutil.Unchanged(f, fi) })
}
