package fsutil

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"regular", file, nil},
		{"link", link, ErrNotRegular},
		{"fifo", fifo, ErrNotRegular},
		{"directory", dir, ErrNotRegular},
		{"missing", filepath.Join(dir, "none"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, mode, err := ReadRegular(tt.path)
			if tt.want == nil {
				if err != nil || string(data) != "data" || mode.Perm() != 0o600 {
					t.Fatalf("ReadRegular = %q, %v, %v", data, mode, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadRegular = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReadRegularSizes reads files of several sizes whole, and a file
// whose size says 0 (as /proc files do) whole too.
func TestReadRegularSizes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 4096, 100_000} {
		p := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("x"), n)
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadRegular(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: read %d bytes, %v", n, len(got), err)
		}
	}
	want, err := os.ReadFile("/proc/self/cmdline")
	if err != nil {
		t.Skip("no /proc")
	}
	if got, _, err := ReadRegular("/proc/self/cmdline"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("/proc/self/cmdline: read %q, %v; want %q", got, err, want)
	}
}
