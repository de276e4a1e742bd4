//go:build !linux

package issue

import (
	"io/fs"
	"os"
)

// File operations of a staged certificate outside Linux: the portable ones
// of package os, every mode set explicitly, no shared files.

// createFile creates path (which must not exist) with data and mode.
func createFile(path string, data []byte, mode fs.FileMode, _ fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	err = f.Chmod(mode.Perm()) // explicit, so the umask neither widens nor narrows it
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

func rename(from, to string) error { return os.Rename(from, to) }

// renameDir renames the directory from to to, which must not exist.
func renameDir(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}

func rmdir(dir string) error { return os.Remove(dir) }

// processUmask is unknown here: every mode is set explicitly.
func processUmask() fs.FileMode { return unknownUmask }

// sharedFile shares nothing outside Linux: every file is a copy.
type sharedFile struct{}

func newSharedFile(string, []byte, fs.FileMode) *sharedFile { return nil }

func (*sharedFile) link(string, []byte, fs.FileMode) (bool, error) { return false, nil }

func (*sharedFile) close() {}

// releaser frees replaced files within their renames outside Linux.
type releaser struct{}

func newReleaser(int) *releaser { return nil }

func (*releaser) hold(string) int { return -1 }

func (*releaser) release(int) {}

func (*releaser) wait() {}

func spreadSubdirs(string) {}
