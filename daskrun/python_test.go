package daskrun

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePython writes a shell script standing for an interpreter: script is
// its body.
func fakePython(t *testing.T, dir, name, script string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFindPython checks the interpreter lookup: a path or a name in PATH,
// the version distributed reports, and the two ways it fails — no such
// interpreter (named as given), or one that cannot import distributed
// (named by its path, with the last line Python wrote).
func TestFindPython(t *testing.T) {
	dir := t.TempDir()
	good := fakePython(t, dir, "goodpy", "echo 2099.1.0\n")
	bad := fakePython(t, dir, "nodask", "echo 'Traceback (most recent call last):' >&2\n"+
		"echo \"ModuleNotFoundError: No module named 'distributed'\" >&2\nexit 1\n")
	python3 := fakePython(t, dir, "python3", "echo 2099.1.0\n")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	tests := []struct {
		name, py      string
		wantPath      string
		wantErr       error
		value, errHas string
	}{
		{name: "a path", py: good, wantPath: good},
		{name: "a name in PATH", py: "goodpy", wantPath: good},
		{name: "empty is python3", py: "", wantPath: python3},
		{name: "no such path", py: filepath.Join(dir, "nopython"), wantErr: fs.ErrNotExist,
			value: filepath.Join(dir, "nopython"), errHas: "no Python interpreter"},
		{name: "no such name", py: "no-such-python-here", wantErr: exec.ErrNotFound, value: "no-such-python-here"},
		{name: "without distributed", py: "nodask", wantErr: ErrNoDistributed, value: bad,
			errHas: bad + " cannot import distributed: exit status 1: ModuleNotFoundError: No module named 'distributed'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, version, err := FindPython(context.Background(), tt.py)
			if tt.wantErr != nil {
				wantPreflight(t, err, CheckPython, tt.value, tt.wantErr)
				if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("%q lacks %q", err, tt.errHas)
				}
				if errors.Is(err, ErrNoDistributed) && strings.Contains(err.Error(), "Traceback") {
					t.Errorf("%q holds more than Python's last line", err)
				}
				return
			}
			if err != nil || path != tt.wantPath || version != "2099.1.0" {
				t.Errorf("= %q %q %v; want %q 2099.1.0", path, version, err, tt.wantPath)
			}
		})
	}
}
