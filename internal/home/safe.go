package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafe: the home, or a directory inside it, could be changed by
// another user (not owned by the user running daskca, or writable by group
// or others), or a symbolic link stands where daskca expects a directory.
// daskca never follows links inside its home: a link there could make it
// write a key, or ship a file, where another user points it.
var ErrUnsafe = errors.New("unsafe home")

// Check refuses a home that another user could change: the directory (the
// path given may itself be a symbolic link to it) must be owned by the
// user running daskca and not writable by group or others. A sticky bit,
// as on /tmp (1777), does not help: others could still create the files
// and directories daskca is about to create.
func (l Layout) Check() error {
	fi, err := os.Stat(l.Dir)
	if err != nil {
		return err
	}
	return checkDir(l.Dir, fi)
}

// checkDir refuses a directory that is not a plain directory of ours,
// private against writes.
func checkDir(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link; daskca does not follow links inside its home (remove it and run the command again): %w", path, ErrUnsafe)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: %w", path, ErrUnsafe)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %04o; run chmod go-w %s, or use a directory of your own): %w",
			path, fi.Mode().Perm()|fi.Mode()&fs.ModeSticky, path, ErrUnsafe)
	}
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by uid %d running daskca: %w", path, uid, os.Geteuid(), ErrUnsafe)
	}
	return nil
}

// SafeDir makes sure that every directory from the home down to dir (which
// must be inside it) is a plain directory, not a symbolic link, owned by the
// user and not writable by group or others, creating missing ones (mode
// 0700) when create is set. Because no other user can write to any of
// them, none can be swapped for a link afterwards. It returns an error
// wrapping ErrUnsafe, or fs.ErrNotExist for a missing directory without
// create.
func (l Layout) SafeDir(dir string, create bool) error {
	rel, err := filepath.Rel(l.Dir, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%s is not inside the home %s: %w", dir, l.Dir, ErrUnsafe)
	}
	if err := l.Check(); err != nil {
		return err
	}
	p := l.Dir
	if rel == "." {
		return nil
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err = os.Mkdir(p, 0o700); errors.Is(err, fs.ErrExist) {
				err = nil // made meanwhile by another daskca; checked below
			}
			if err == nil {
				fi, err = os.Lstat(p)
			}
		}
		if err != nil {
			return err
		}
		if err := checkDir(p, fi); err != nil {
			return err
		}
	}
	return nil
}

// SafeEndpointDir is SafeDir of the endpoint's directory.
func (l Layout) SafeEndpointDir(role, name string, create bool) error {
	return l.SafeDir(l.CertDir(role, name), create)
}

// CheckLeafDir checks the one directory dir as SafeDir checks each on its
// way, for a caller that has checked the directories above it (SafeDir or
// CheckDirs) and relies on no one else being able to change them: a bulk
// run checks a role's directory once, then each endpoint's. A missing dir
// is no error, as for CheckDirs.
func CheckLeafDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	return checkDir(dir, fi)
}

// CheckDirs is SafeDir without create, for a directory that may not exist
// yet: the directories from the home down to dir that exist must be safe;
// the first missing one ends the check, since what the caller then creates
// inside a safe directory no other user can replace.
func (l Layout) CheckDirs(dir string) error {
	if err := l.SafeDir(dir, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
