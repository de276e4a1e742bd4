//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes the advisory lock bbolt itself takes (flock: exclusive for
// writers, shared for readers) before the file is validated, so nothing
// writes the file while it is read. bbolt's own flock on the same open file
// then succeeds at once. flock locks belong to the open file, so a second
// Open in the same process waits just as another process does.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ErrLocked
		}
		time.Sleep(min(left, lockRetry))
	}
}

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// exclusiveLock turns the flock a writer holds on f into an exclusive one,
// waiting for readers that hold it shared to close. flock converts a lock
// by dropping and retaking it, so a reader may come in meanwhile; no other
// writer can, as the writer lock keeps them out.
func exclusiveLock(f *os.File) error { return flockWait(f, syscall.LOCK_EX) }

// shareLock turns a writer's exclusive flock on f into a shared one, so
// readers can open the file until the next write.
func shareLock(f *os.File) error { return flockWait(f, syscall.LOCK_SH) }

func flockWait(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
