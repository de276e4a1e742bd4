package fsutil

import (
	"io/fs"
	"os"
	"sync"
)

// Cached reads one regular file as ReadRegular does and keeps what it
// read, for a file read far more often than it changes (the CRL a server
// hands out with every answer). Read reads the file again only when it
// changed: another file put in its place (daskca writes files by renaming
// a new one over the old, so the inode changes) or the same file with
// another size or modification time (written in place). Safe for
// concurrent use.
type Cached struct {
	path string
	// read reads the file and returns the FileInfo of what it read
	// (readRegular); tests count reads through it.
	read func(string) ([]byte, fs.FileInfo, error)

	mu   sync.Mutex
	fi   fs.FileInfo // of the open file data was read from; nil: nothing kept
	data []byte
}

// NewCached returns a Cached for the file at path; it reads nothing yet.
func NewCached(path string) *Cached {
	return &Cached{path: path, read: readRegular}
}

// Path is the file c reads.
func (c *Cached) Path() string { return c.path }

// Read returns the file's contents: those kept from an earlier Read when
// the file at the path is still the one read then (os.SameFile: same
// device and inode) with the same size and modification time, else the
// file read afresh. It never follows a symbolic link in the last
// component: a missing file, a link or anything but a regular file fails
// as ReadRegular does (fs.ErrNotExist, ErrNotRegular), and what was kept
// is dropped, so no later Read returns it. The returned slice is shared
// by every caller until the file changes: do not modify it.
func (c *Cached) Read() ([]byte, error) {
	cur, err := os.Lstat(c.path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.fi, c.data = nil, nil
		return nil, err
	}
	if c.fi != nil && Unchanged(c.fi, cur) {
		return c.data, nil
	}
	data, fi, err := c.read(c.path)
	if err != nil {
		c.fi, c.data = nil, nil
		return nil, err
	}
	// fi was taken before the file was read: a write during the read
	// changes the modification time, so the next Read reads it again.
	c.fi, c.data = fi, data
	return data, nil
}

// Unchanged reports whether cur, from Lstat, is the same regular file as
// was, with the same size and modification time: a file daskca replaced
// (by renaming another over it) or rewrote in place is not.
func Unchanged(was, cur fs.FileInfo) bool {
	return cur.Mode().IsRegular() && os.SameFile(was, cur) &&
		was.Size() == cur.Size() && was.ModTime().Equal(cur.ModTime())
}
