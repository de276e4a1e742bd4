package issue

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// spareDirs recycles the emptied pending directories of a bulk run as the
// endpoint and pending directories of later certificates, so that a run
// frees no inode while it allocates others. That matters on ext4 without
// a journal: there an inode freed in the last minute (five, while its
// inode table block is unwritten) is skipped by every allocation in its
// block group, one lookup each, so a run that removed a directory per
// certificate made each new file cost more than the last.
//
// The spares wait under certs/.spare-<random>/, named .<n>, in a directory
// locked with flock(2) for the run: the next run removes the directory of
// a run that died (its lock is free), and `inventory check` notes hidden
// entries as left by an interrupted run meanwhile. Spares are moved into
// place with RENAME_NOREPLACE, so nothing that exists is ever replaced.
// The zero of a *spareDirs (nil) recycles nothing. It is safe for
// concurrent use.
type spareDirs struct {
	certs string // the home's certs directory

	mu   sync.Mutex
	dir  string   // the spares' directory, made at the first recycle
	lock *os.File // dir, flocked
	free []string
	n    int
	off  bool // recycling failed: plain mkdir and rmdir from now on
}

// sparePrefix starts the name of a run's directory of spares in certs/.
const sparePrefix = ".spare-"

// newSpareDirs removes the spares of runs that died and returns an empty
// set; its directory is made when the first spare arrives.
func newSpareDirs(certs string) *spareDirs {
	old, _ := filepath.Glob(filepath.Join(certs, sparePrefix+"*"))
	for _, d := range old {
		if f, err := lockDir(d); err == nil {
			_ = os.RemoveAll(d)
			f.Close()
		}
	}
	return &spareDirs{certs: certs}
}

// take moves a spare to dir. It reports whether it did; an error wrapping
// fs.ErrExist means dir exists. Any other failure reports false and nil:
// the caller makes the directory itself.
func (s *spareDirs) take(dir string) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	if s.off || len(s.free) == 0 {
		s.mu.Unlock()
		return false, nil
	}
	sp := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.mu.Unlock()
	err := unix.Renameat2(unix.AT_FDCWD, sp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return true, nil
	case err == unix.EEXIST:
		s.put(sp)
		return false, &fs.PathError{Op: "mkdir", Path: dir, Err: fs.ErrExist}
	case err == unix.EINVAL || err == unix.ENOSYS:
		s.mu.Lock()
		s.off = true // no RENAME_NOREPLACE here
		s.mu.Unlock()
	}
	return false, nil // a missing parent of dir, say: the spare is left to close
}

func (s *spareDirs) put(sp string) {
	s.mu.Lock()
	s.free = append(s.free, sp)
	s.mu.Unlock()
}

// recycle moves the empty directory dir to the spares. On error dir is
// where it was and the caller removes it.
func (s *spareDirs) recycle(dir string) error {
	if s == nil {
		return errors.ErrUnsupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return errors.ErrUnsupported
	}
	if s.dir == "" {
		if err := s.open(); err != nil {
			s.off = true
			return err
		}
	}
	s.n++
	sp := filepath.Join(s.dir, "."+strconv.Itoa(s.n))
	if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, sp, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: dir, New: sp, Err: err}
	}
	s.free = append(s.free, sp)
	return nil
}

// open makes and locks this run's directory of spares.
func (s *spareDirs) open() error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(s.certs, sparePrefix+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	f, err := lockDir(dir)
	if err != nil {
		_ = os.Remove(dir)
		return err
	}
	s.dir, s.lock = dir, f
	return nil
}

// lockDir opens dir and takes an exclusive flock on it without waiting.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}

// close removes the spares left at the end of the run and their directory.
func (s *spareDirs) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
		s.lock.Close()
		s.dir, s.lock, s.free = "", nil, nil
	}
}
