//go:build !linux

package issue

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

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

// syncCoversHome is false: a sync covers only the files and directories
// it names, so every batch syncs its renames itself.
const syncCoversHome = false

// syncRenames fsyncs each directory that gained a file or a directory once.
func syncRenames(_ string, sts []*stagedFiles) error {
	for _, d := range dirsOf(sts) {
		if err := fsutil.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// tempPaths lists the temporary files and directories of sts: with the
// files of a replacement, the run's staging directory (once), whose
// entries they are.
func tempPaths(sts []*stagedFiles) []string {
	var out []string
	staging := map[string]bool{}
	for _, st := range sts {
		for _, f := range st.files {
			out = append(out, f.tmp)
		}
		if st.pending != "" {
			out = append(out, st.pending)
		} else if len(st.files) > 0 && !staging[filepath.Dir(st.files[0].tmp)] {
			staging[filepath.Dir(st.files[0].tmp)] = true
			out = append(out, filepath.Dir(st.files[0].tmp))
		}
	}
	return out
}

// dirsOf lists the distinct directories that gained entries by the
// renames of sts or by the directories created for them.
func dirsOf(sts []*stagedFiles) []string {
	seen := map[string]bool{}
	for _, st := range sts {
		for _, f := range st.files {
			seen[filepath.Dir(f.dst)] = true
		}
		for _, d := range st.dirs {
			seen[filepath.Dir(d)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
