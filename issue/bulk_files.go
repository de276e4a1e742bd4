package issue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/daskca/daskca/internal/home"
)

// Files of a run of the pipeline. A run writes the files of a whole batch
// unsynced and makes them durable with one file-system sync before the
// inventory commit; that sync also makes the previous batch's renames
// durable, and the last batch's get one more (see syncFiles): nothing is
// recorded before its files are on disk, and nothing replaces an old file
// before the record exists.

// stagedFiles are the files of one certificate, written into its pending
// directory (home.Layout.PendingDir: certs/<role>/<name>/.pending-<serial>/)
// and waiting to be renamed into place, and the directories made for them.
// The pending directory is what makes a crash recoverable: if the process
// dies after the inventory commit, before or between the renames, the
// directory of the active serial is still there and Recover (run first by
// the next run) finishes the renames; if it dies before the commit,
// Recover removes the directory of an unknown serial.
//
// An endpoint without a directory yet stages its files in a pending
// directory beside the endpoints' (home.Layout.NewEndpointPendingDir:
// certs/<role>/.pending-<serial>/), which is then renamed to the endpoint's
// directory as a whole: one rename, where an existing endpoint needs one
// per file.
type stagedFiles struct {
	files   []stagedFile // files inside pending, in placing order
	pending string       // the pending directory
	whole   string       // if set, pending becomes this endpoint directory
	dirs    []string     // endpoint and parent directories created, parents first
}

type stagedFile struct{ tmp, dst string }

// placeOrder is the one order in which pending files are renamed into
// place, by a run and by Recover alike: the bundle first (it only adds
// trust), the key before the certificate, so a watcher that reloads on the
// certificate finds its key.
var placeOrder = map[string]int{home.CAFile: 0, home.KeyFile: 1, home.CombinedFile: 2, home.CertFile: 3}

// unknownUmask stands for a file mode creation mask that could not be
// read: every mode is then set explicitly.
const unknownUmask fs.FileMode = fs.ModePerm

// stager writes the files of staged certificates. A run's stager
// knows the process's umask, so it sets a mode explicitly only where the
// umask would narrow it, and gives every endpoint's copy of the trust
// bundle the same inode (sharedFile). Either way a file gets exactly its
// mode: the umask neither widens nor narrows it.
type stager struct {
	umask  fs.FileMode // unknownUmask: set every mode explicitly
	bundle *sharedFile // nil: every file is a copy
}

// stage writes one certificate's files (all in one directory) into the
// pending directory pending, with their modes, without syncing. On error
// nothing is left.
func (sg stager) stage(pending string, files []file) (stagedFiles, error) {
	return sg.stageIn(pending, "", files)
}

// stageNew stages the files of a new endpoint in pending, to be renamed to
// the endpoint directory whole (see stagedFiles). in tells what is in
// whole's place (see entries). If a directory exists there already, it
// stages in otherPending inside it, as stage does; if something other than
// a directory is in the way, staging fails, before anything is recorded.
func (sg stager) stageNew(pending, whole, otherPending string, in entry, files []file) (stagedFiles, error) {
	switch in {
	case entryDir:
		return sg.stage(otherPending, files)
	case entryOther:
		return stagedFiles{}, fmt.Errorf("creating %s: a file or a symbolic link is in the way, and daskca does not follow links inside its home: %w",
			whole, &fs.PathError{Op: "mkdir", Path: whole, Err: syscall.ENOTDIR})
	}
	return sg.stageIn(pending, whole, files)
}

// entry is what a directory listing found under a name.
type entry uint8

const (
	entryNone  entry = iota // nothing
	entryDir                // a directory
	entryOther              // anything else: a file, a symbolic link, ...
)

// entries lists the directory dir by name, with one read of the
// directory instead of a lookup per name. For a missing dir it returns nil
// and no error.
func entries(dir string) (map[string]entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := make(map[string]entry, len(des))
	for _, de := range des {
		m[de.Name()] = entryOther
		if de.IsDir() {
			m[de.Name()] = entryDir
		}
	}
	return m, nil
}

func (sg stager) stageIn(pending, whole string, files []file) (stagedFiles, error) {
	var st stagedFiles
	// Without whole, pending goes inside the endpoint's directory, which
	// exists: the run found it, or checked it. Should it be gone, it is
	// made, and removed again on failure.
	err := os.Mkdir(pending, 0o700)
	if whole == "" && errors.Is(err, fs.ErrNotExist) {
		if st.dirs, err = mkdirs(filepath.Dir(pending)); err == nil {
			err = os.Mkdir(pending, 0o700)
		}
	}
	if err == nil {
		st.pending, st.whole = pending, whole
	}
	if err != nil {
		removeStaged([]*stagedFiles{&st})
		return stagedFiles{}, fmt.Errorf("creating %s: %w", pending, err)
	}
	if err := sg.write(&st, pending, "", files); err != nil {
		return stagedFiles{}, err
	}
	return st, nil
}

// stageFiles writes one replacement's files (all for one endpoint's
// directory) into the run's staging directory dir, each named SERIAL.FILE
// (see home.Layout.StagingDir), with their modes, without syncing. On
// error nothing is left.
func (sg stager) stageFiles(dir, serial string, files []file) (stagedFiles, error) {
	var st stagedFiles
	if err := sg.write(&st, dir, serial+".", files); err != nil {
		return stagedFiles{}, err
	}
	return st, nil
}

// write writes files into dir, each named prefix and its own name, in
// placing order, and adds them to st. On error it removes what st holds.
func (sg stager) write(st *stagedFiles, dir, prefix string, files []file) error {
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b file) int {
		return placeOrder[filepath.Base(a.path)] - placeOrder[filepath.Base(b.path)]
	})
	for _, f := range files {
		tmp := filepath.Join(dir, prefix+filepath.Base(f.path))
		linked, err := sg.bundle.link(tmp, f.data, f.mode)
		if err == nil && !linked {
			err = createFile(tmp, f.data, f.mode, sg.umask)
		}
		if err != nil {
			removeStaged([]*stagedFiles{st})
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		st.files = append(st.files, stagedFile{tmp: tmp, dst: f.path})
	}
	return nil
}

// mkdirs is os.MkdirAll with mode 0700 that returns the directories it
// created, parents first, so that a failed run can remove them again.
func mkdirs(dir string) ([]string, error) {
	err := os.Mkdir(dir, 0o700)
	switch {
	case err == nil:
		return []string{dir}, nil
	case errors.Is(err, fs.ErrExist):
		return nil, nil // a file in the way fails when the file is written
	case !errors.Is(err, fs.ErrNotExist) || filepath.Dir(dir) == dir:
		return nil, err
	}
	made, err := mkdirs(filepath.Dir(dir))
	if err != nil {
		return made, err
	}
	switch err := os.Mkdir(dir, 0o700); {
	case err == nil:
		made = append(made, dir)
	case !errors.Is(err, fs.ErrExist): // another worker may have made it
		return made, err
	}
	return made, nil
}

// removeStaged deletes the pending directories of sts, then the
// directories made for them, deepest first; directories that are not empty
// stay. It reports whether every pending directory is gone.
func removeStaged(sts []*stagedFiles) bool {
	gone := true
	var dirs []string
	for _, st := range sts {
		if st.pending != "" {
			if os.RemoveAll(st.pending) != nil {
				gone = false
			}
		} else { // files in the run's staging directory
			for _, f := range st.files {
				if err := os.Remove(f.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
					gone = false
				}
			}
		}
		dirs = append(dirs, st.dirs...)
		*st = stagedFiles{}
	}
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		_ = os.Remove(d)
	}
	return gone
}

// placeAll renames every staged file into place, in placing order, and
// removes the emptied pending directories. A certificate whose files
// cannot all be renamed keeps them staged, for Recover; the errors are
// returned after all were tried.
func placeAll(sts []*stagedFiles, rl *releaser) error {
	var errs []error
	for _, st := range sts {
		if st.whole != "" {
			err := renameDir(st.pending, st.whole)
			if err == nil {
				continue
			}
			if !errors.Is(err, fs.ErrExist) {
				errs = append(errs, fmt.Errorf("writing %s: %w", st.whole, err))
				continue
			}
			// The endpoint has a directory after all: place file by file.
		}
		var err error
		for _, f := range st.files {
			fd := rl.hold(f.dst)
			err = rename(f.tmp, f.dst)
			rl.release(fd)
			if err != nil {
				errs = append(errs, fmt.Errorf("writing %s: %w", f.dst, err))
				break
			}
		}
		if err == nil && st.pending != "" {
			if err := rmdir(st.pending); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", st.pending, err))
			}
		}
	}
	return errors.Join(errs...)
}
