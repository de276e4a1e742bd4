//go:build !linux

package issue

import (
	"fmt"
	"os"

	"github.com/daskca/daskca/internal/fsutil"
)

// syncFiles fsyncs every staged file: without syncfs(2) there is no
// cheaper way to make them durable that works everywhere.
func syncFiles(_ string, sts []*stagedFiles) error {
	for _, p := range tempPaths(sts) {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("syncing %s: %w", p, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("syncing %s: %w", p, err)
		}
	}
	return nil
}

// syncRenames fsyncs each directory that gained a file or a directory once.
func syncRenames(_ string, sts []*stagedFiles) error {
	for _, d := range dirsOf(sts) {
		if err := fsutil.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
