package issue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// PlaceBundle gives every endpoint of recs that has a CA file the trust
// bundle data (mode 0644) as its ca.pem, leaving alone those that hold it
// already, and returns how many it wrote. It writes through the
// pipeline's staging, as a run writes replacements: the files are staged
// in one staging directory (home.Layout.StagingDir) as hard links of one
// shared file (copies where links fail), made durable by one sync, renamed
// into place (the files they replace freed off that path, see releaser),
// and the renames made durable by one more. A CA rotation gives every
// endpoint a new bundle at its start and at its end; one file written and
// synced at a time took 14–15 s for 10,000 endpoints.
//
// The caller holds the inventory's write lock, as for IssueBulk. A crash
// leaves staged files that no serial names, which the next run's Recover
// removes; the endpoints not reached keep their bundle until the command
// that wrote it runs again. A missing endpoint directory is made (its
// record is active). The directories on the way are checked as a run
// checks them, and a file that is not a regular file of mode 0644 holding
// data is replaced, never followed.
func PlaceBundle(l home.Layout, data []byte, recs []store.Record) (int, error) {
	kept := &keptBundles{data: data}
	checked := map[string]bool{}
	seen := map[string]bool{}
	var todo []string
	for _, r := range recs {
		if r.CAFile == "" {
			continue
		}
		p := l.Endpoint(r.Role, r.Name).CA
		if seen[p] {
			continue
		}
		seen[p] = true
		if role := l.RoleDir(r.Role); !checked[role] {
			if err := l.CheckDirs(role); err != nil {
				return 0, err
			}
			checked[role] = true
		}
		if err := home.CheckLeafDir(filepath.Dir(p)); err != nil {
			return 0, err
		}
		if !kept.holds(p) {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	wasSettled, err := unsettle(l)
	if err != nil {
		return 0, err
	}
	n, err := placeBundle(l, data, todo)
	if err == nil && wasSettled {
		markSettled(l)
	}
	return n, err
}

// placeBundle stages data for every path of todo, then places them.
func placeBundle(l home.Layout, data []byte, todo []string) (int, error) {
	staging, err := makeStagingDir(l)
	if err != nil {
		return 0, err
	}
	sg := stager{umask: processUmask(), bundle: newSharedFile(l.Dir, data, 0o644)}
	defer sg.bundle.close()
	sts := make([]stagedFiles, 0, len(todo))
	ptrs := make([]*stagedFiles, 0, len(todo))
	for i, p := range todo {
		var st stagedFiles
		var dirs []string
		if dirs, err = mkdirs(filepath.Dir(p)); err != nil {
			err = fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
		} else {
			// Named by index: no serial, so Recover discards what a crash
			// leaves.
			st, err = sg.stageFiles(staging, "bundle-"+strconv.Itoa(i), []file{{p, data, 0o644}})
		}
		// The directories made are removed with the staged files should
		// this or a later one fail.
		st.dirs = dirs
		sts = append(sts, st)
		ptrs = append(ptrs, &sts[len(sts)-1])
		if err != nil {
			break
		}
	}
	if err == nil {
		err = syncFiles(l.Dir, ptrs)
	}
	if err != nil {
		removeStaged(ptrs)
		_ = os.Remove(staging)
		return 0, err
	}
	rl := newReleaser(2)
	err = placeAll(ptrs, rl)
	rl.wait()
	if serr := syncRenames(l.Dir, ptrs); err == nil {
		err = serr
	}
	if rerr := os.Remove(staging); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = fmt.Errorf("removing %s: %w", staging, rerr)
	}
	if err != nil {
		return 0, err
	}
	return len(todo), nil
}
