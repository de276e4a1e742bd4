package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkParentDir refuses an output file whose directory does not exist or
// is not a directory, or which is itself a directory: a typo in a path
// must not create directories nobody asked for. flag names the flag or
// argument for the message ("--out", "FILE").
func checkParentDir(flag, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usageError("%s %s is a directory: name a file in it", flag, path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &cliError{err: fmt.Errorf("%s %s: directory %s does not exist", flag, path, dir),
			hint: fmt.Sprintf("create it first (mkdir -p %s), or check the path", dir), code: exitUsage}
	case err != nil:
		return fmt.Errorf("%s %s: %w", flag, path, err)
	case !fi.IsDir():
		return usageError("%s %s: %s is not a directory", flag, path, dir)
	}
	return nil
}

// checkOutDir refuses a --dir that cannot become a directory: the path, or
// the nearest of its parents that exists, is not a directory. Missing
// directories are created later, as export documents.
func checkOutDir(flag, dir string) error {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && p != filepath.Dir(p):
			continue
		case err != nil:
			return fmt.Errorf("%s %s: %w", flag, dir, err)
		case fi.IsDir():
			return nil
		case p == filepath.Clean(dir):
			return usageError("%s %s is a file, not a directory: choose another %s, or move the file away", flag, dir, flag)
		default:
			return usageError("%s %s: %s is a file, not a directory: choose another %s", flag, dir, p, flag)
		}
	}
}
