//go:build !unix

package store

import (
	"os"
	"time"
)

// lockFile is a no-op where flock does not exist; bbolt still takes its own
// lock right after validation.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error { return nil }

const noFollow = 0

func exclusiveLock(*os.File) error { return nil }
func shareLock(*os.File) error     { return nil }
