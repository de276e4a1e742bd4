package issue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Files of a bulk run. Unlike Issue, which fsyncs every file and directory
// on its own, a bulk run writes the files of a whole batch unsynced and
// makes them durable with one file-system sync before the inventory
// commit, and the renames with one more after it (see syncFiles). The
// order is the same as Issue's, so the guarantees are too: nothing is
// recorded before its files are on disk, and nothing replaces an old file
// before the record exists.

// stagedFiles are the temporary files of one certificate, waiting to be
// renamed into place, and the directories made for them. A certificate
// whose directory does not exist yet is staged as a whole temporary
// directory that one rename puts in place (fewer file-system operations, and
// the directory appears complete or not at all); one whose directory exists
// (a replacement) has a temporary file beside each file it replaces.
type stagedFiles struct {
	files []stagedFile // temporary files, or the files inside dir.tmp
	dir   stagedFile   // the temporary directory, if any
	dirs  []string     // parent directories created, parents first
}

type stagedFile struct{ tmp, dst string }

// stageAll writes one certificate's files (all in one directory) to
// temporary files, with their modes, without syncing. On error nothing is
// left.
func stageAll(files []file) (stagedFiles, error) {
	var st stagedFiles
	dir := filepath.Dir(files[0].path)
	_, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		st.dirs, err = mkdirs(filepath.Dir(dir))
		if err == nil {
			st.dir.dst = dir
			st.dir.tmp, err = os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
		}
	}
	if err != nil {
		removeStaged([]*stagedFiles{&st})
		return stagedFiles{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, f := range files {
		tmp, err := writeTemp(f, st.dir.tmp)
		if err != nil {
			removeStaged([]*stagedFiles{&st})
			return stagedFiles{}, err
		}
		st.files = append(st.files, stagedFile{tmp: tmp, dst: f.path})
	}
	return st, nil
}

// writeTemp writes f into tmpDir under its own name or, without tmpDir, to
// a hidden temporary file beside f.path.
func writeTemp(f file, tmpDir string) (string, error) {
	var (
		t   *os.File
		err error
	)
	if tmpDir != "" {
		t, err = os.OpenFile(filepath.Join(tmpDir, filepath.Base(f.path)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	} else {
		t, err = os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", f.path, err)
	}
	err = t.Chmod(f.mode) // explicit, so the umask neither widens nor narrows it
	if err == nil {
		_, err = t.Write(f.data)
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(t.Name())
		return "", fmt.Errorf("writing %s: %w", f.path, err)
	}
	return t.Name(), nil
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

// removeStaged deletes the temporary files of sts, then the directories
// made for them, deepest first; directories that are not empty stay.
func removeStaged(sts []*stagedFiles) {
	var dirs []string
	for _, st := range sts {
		for _, f := range st.files {
			_ = os.Remove(f.tmp)
		}
		if st.dir.tmp != "" {
			_ = os.Remove(st.dir.tmp)
		}
		dirs = append(dirs, st.dirs...)
		*st = stagedFiles{}
	}
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// renameAll renames every staged file into place. A file that cannot be
// renamed has its temporary file removed; the first error is returned
// after all were tried.
func renameAll(sts []*stagedFiles) error {
	var errs []error
	for _, st := range sts {
		if st.dir.tmp != "" {
			if err := os.Rename(st.dir.tmp, st.dir.dst); err != nil {
				_ = os.RemoveAll(st.dir.tmp)
				errs = append(errs, fmt.Errorf("writing %s: %w", st.dir.dst, err))
			}
			continue
		}
		for _, f := range st.files {
			if err := os.Rename(f.tmp, f.dst); err != nil {
				_ = os.Remove(f.tmp)
				errs = append(errs, fmt.Errorf("writing %s: %w", f.dst, err))
			}
		}
	}
	return errors.Join(errs...)
}
