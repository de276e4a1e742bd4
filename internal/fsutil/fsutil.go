// Package fsutil writes files so that a reader, or a crash, sees either the
// old complete file or the new complete file and never a part of one.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned when a file is in the way and overwriting was not asked for.
var ErrExists = errors.New("file already exists")

// WriteFile atomically replaces path with data: it writes a temporary file in
// the same directory with the given mode, syncs it, renames it over path and
// syncs the directory. The mode is set explicitly, so the umask cannot widen
// or narrow it. Parent directories are created with mode 0700.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return tmp.Commit()
}

// Staged is a fully written and synced temporary file waiting to be renamed
// over its destination. Staging several files first and committing them after
// the inventory transaction keeps files and inventory in step.
type Staged struct {
	tmp, dst string
}

// Stage writes data to a synced temporary file beside path.
func Stage(path string, data []byte, mode fs.FileMode) (*Staged, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	s := &Staged{tmp: f.Name(), dst: path}
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, nil
}

// Commit renames the temporary file over its destination and syncs the directory.
func (s *Staged) Commit() error {
	if err := os.Rename(s.tmp, s.dst); err != nil {
		s.Abort()
		return fmt.Errorf("writing %s: %w", s.dst, err)
	}
	return SyncDir(filepath.Dir(s.dst))
}

// Abort removes the temporary file. It is safe to call after Commit.
func (s *Staged) Abort() { _ = os.Remove(s.tmp) }

// SyncDir flushes a directory's entries (new names, renames) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// CheckNotWritableByOthers refuses a file that group or others may write: a
// CA key or an inventory that another user can replace cannot be trusted.
func CheckNotWritableByOthers(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o); run: chmod go-w %s", path, fi.Mode().Perm(), path)
	}
	return nil
}

// Touch makes path an empty file with mode perm if nothing is there, and
// leaves a file that is there as it is. It never follows a symbolic link
// in the last element: one there is an error.
func Touch(path string, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|noFollow, perm)
	if err != nil {
		return err
	}
	return f.Close()
}
