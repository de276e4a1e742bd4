package issue

import (
	"bytes"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// File operations of a staged certificate on Linux, as raw system calls.
// os.OpenFile costs nine calls per small file here (open, four fcntl and
// an epoll_ctl that fails, as it tries to register every file with the
// poller, then fchmod, write, close) and os.Rename an lstat before each
// rename; a bulk run writes two files and renames three per certificate,
// so these are most of its system calls.

// createFile creates path (which must not exist) with data and mode. The
// mode is set with fchmod only when umask, the process's file mode
// creation mask, would take bits from it.
func createFile(path string, data []byte, mode fs.FileMode, umask fs.FileMode) error {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(mode.Perm()))
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if umask&mode.Perm() != 0 {
		err = unix.Fchmod(fd, uint32(mode.Perm()))
	}
	if err == nil {
		err = writeAll(fd, data)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		_ = unix.Unlink(path)
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// rename renames a file without os.Rename's lstat of the destination.
func rename(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// renameDir renames the directory from to to, which must not exist: an
// existing to fails with an error wrapping fs.ErrExist (RENAME_NOREPLACE;
// where the file system lacks it, a plain rename, which replaces only an
// empty directory).
func renameDir(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		err = unix.Rename(from, to)
	}
	if err == unix.ENOTEMPTY {
		err = unix.EEXIST
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// rmdir removes an empty directory without os.Remove's unlink first.
func rmdir(dir string) error {
	if err := unix.Rmdir(dir); err != nil {
		return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	return nil
}

// processUmask reads the file mode creation mask from /proc/self/status
// (Linux 4.7 and later) without changing it, as umask(2) would for a
// moment for every thread of the process. When it cannot be read it
// returns unknownUmask, so that every mode is set explicitly.
func processUmask() fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return unknownUmask
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return unknownUmask
			}
			return fs.FileMode(m) & fs.ModePerm
		}
	}
	return unknownUmask
}

// sharedFile gives many destinations the same contents as hard links of
// one unnamed file (O_TMPFILE) instead of one copy each: a link is one
// system call and no new inode, where a copy is an inode, a data block and
// three calls. An unnamed file leaves nothing behind if the process dies;
// it exists from its first link on. Every maxLinks links it starts a new
// file, well below the link limits of file systems (65,000 on ext4). Where
// unnamed files or links do not work (another file system under the home,
// no /proc), link reports false and the caller writes a copy. It is safe
// for concurrent use.
type sharedFile struct {
	dir      string // directory on the file system of the destinations
	data     []byte
	mode     fs.FileMode
	maxLinks int
	fdDir    string // where the process's descriptors are named: /proc/self/fd/

	mu  sync.Mutex
	fd  int  // current file; -1 for none
	n   int  // links made to it
	off bool // linking failed: copies from now on
}

func newSharedFile(dir string, data []byte, mode fs.FileMode) *sharedFile {
	return &sharedFile{dir: dir, data: data, mode: mode, maxLinks: 4096, fdDir: "/proc/self/fd/", fd: -1}
}

// link makes dst a hard link of the shared file if data and mode are its
// contents and mode, reporting whether it did. An error means dst could
// not be created.
func (s *sharedFile) link(dst string, data []byte, mode fs.FileMode) (bool, error) {
	if s == nil || mode != s.mode || !bytes.Equal(data, s.data) {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for try := 0; !s.off && try < 2; try++ {
		if s.fd < 0 || s.n >= s.maxLinks {
			if err := s.open(); err != nil {
				s.off = true
				break
			}
		}
		err := unix.Linkat(unix.AT_FDCWD, s.fdDir+strconv.Itoa(s.fd), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
		switch {
		case err == nil:
			s.n++
			return true, nil
		case err == unix.EEXIST:
			return false, &os.LinkError{Op: "link", Old: s.dir, New: dst, Err: err}
		case err == unix.EMLINK:
			s.n = s.maxLinks // start a new file and try again
		default:
			s.off = true
		}
	}
	return false, nil
}

// open starts a new unnamed file holding the shared contents.
func (s *sharedFile) open() error {
	s.closeFile()
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(s.dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(s.mode.Perm()))
	})
	if err != nil {
		return err
	}
	if err = unix.Fchmod(fd, uint32(s.mode.Perm())); err == nil {
		err = writeAll(fd, s.data)
	}
	if err != nil {
		_ = unix.Close(fd)
		return err
	}
	s.fd, s.n = fd, 0
	return nil
}

// close releases the current file; its links stay.
func (s *sharedFile) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFile()
}

func (s *sharedFile) closeFile() {
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
}

// releaser takes the freeing of replaced files off the committer's path.
// A rename over a file frees the old inode and its blocks within the
// rename; where the file system discards freed blocks at once (ext4
// without a journal, mounted with discard) that is a wait for the device
// per file, and a renewal replaces two files per certificate. A descriptor
// of the old file (O_PATH: it cannot read) held across the rename keeps
// the inode alive, so the rename only changes the directory; closing the
// descriptor then frees the inode, which the releaser does on goroutines
// of its own while the run goes on. At most maxHeld descriptors are held
// at once: past that, or when the file cannot be opened, the rename frees
// inline. A nil releaser holds nothing.
type releaser struct {
	fds chan int
	wg  sync.WaitGroup
}

// maxHeld bounds the descriptors a releaser holds: a quarter of the
// process's limit (which Go raises to the hard limit at start), at most
// 2048. Below 64 a releaser holds nothing.
func maxHeld(limit uint64) int {
	return int(min(limit/4, 2048))
}

func newReleaser(goroutines int) *releaser {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || maxHeld(lim.Cur) < 64 {
		return nil
	}
	rl := &releaser{fds: make(chan int, maxHeld(lim.Cur))}
	for range goroutines {
		rl.wg.Go(func() {
			for fd := range rl.fds {
				_ = unix.Close(fd)
			}
		})
	}
	return rl
}

// hold returns a descriptor of the file at path, not following a link, or
// -1.
func (rl *releaser) hold(path string) int {
	if rl == nil {
		return -1
	}
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1
	}
	return fd
}

// release hands fd, from hold, to the releaser's goroutines, or closes it
// at once when they are behind.
func (rl *releaser) release(fd int) {
	if rl == nil || fd < 0 {
		return
	}
	select {
	case rl.fds <- fd:
	default:
		_ = unix.Close(fd)
	}
}

// wait closes every descriptor handed over and returns when they are.
func (rl *releaser) wait() {
	if rl == nil {
		return
	}
	close(rl.fds)
	rl.wg.Wait()
}

// fsTopdirFL is FS_TOPDIR_FL of linux/fs.h (chattr +T): the directory is
// the top of a hierarchy, so ext2/3/4 spread the directories made in it
// over the block groups instead of keeping them near it.
const fsTopdirFL = 0x00020000

// spreadSubdirs marks dir with FS_TOPDIR_FL, where the file system keeps
// the flag, so that a run's staging directory, made in it, and the files
// staged there take their inodes from a block group of their own. On ext4
// without a journal, creating a file skips every free inode of its group
// deleted in the last minute or more (until its inode table block is
// surely written back), one lookup each, starting from the group's first
// inode every time: a replacement frees the old files in the groups of the
// endpoints' directories, and creating the next batch's files among them
// took a quarter of a rotation's time after a renewal of 10,000
// certificates. Failing is harmless: the flag only places inodes.
func spreadSubdirs(dir string) {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopdirFL != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, flags|fsTopdirFL)
}
