package issue

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFiles makes the staged files of a batch durable with one syncfs(2)
// of the file system holding the home, instead of one fsync per file: the
// kernel writes back every dirty page and commits the journal once. Since
// Linux 5.8 syncfs reports write-back errors of the file system, so a
// failed write is not lost silently.
func syncFiles(home string, _ []*stagedFiles) error { return syncHome(home) }

// syncCoversHome says one sync makes everything in the home durable, so a
// batch's renames may wait for the next batch's first sync (see
// bulkRun.commit): one syncfs per batch instead of two.
const syncCoversHome = true

// syncRenames makes the renames (and the new directories) of a batch
// durable, again with one syncfs(2).
func syncRenames(home string, _ []*stagedFiles) error { return syncHome(home) }

// syncHome is syncFS; tests count the syncs through it.
var syncHome = syncFS

func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncing the file system of %s: %w", dir, err)
	}
	return nil
}
