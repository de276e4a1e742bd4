package home

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSafeDir(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, l Layout)
		dir     func(l Layout) string
		create  bool
		want    error // nil: no error
	}{
		{"home alone", func(*testing.T, Layout) {}, func(l Layout) string { return l.Dir }, false, nil},
		{"creates missing", func(*testing.T, Layout) {}, func(l Layout) string { return l.CertDir("worker", "w1") }, true, nil},
		{"missing without create", func(*testing.T, Layout) {}, func(l Layout) string { return l.CertDir("worker", "w1") }, false, fs.ErrNotExist},
		{"world-writable sticky home", func(t *testing.T, l Layout) { chmod(t, l.Dir, 0o777|fs.ModeSticky) },
			func(l Layout) string { return l.Dir }, false, ErrUnsafe},
		{"group-writable certs", func(t *testing.T, l Layout) { mkdir(t, l.CertsDir()); chmod(t, l.CertsDir(), 0o770) },
			func(l Layout) string { return l.RoleDir("worker") }, true, ErrUnsafe},
		{"linked role directory", func(t *testing.T, l Layout) {
			mkdir(t, l.CertsDir())
			if err := os.Symlink(t.TempDir(), l.RoleDir("worker")); err != nil {
				t.Fatal(err)
			}
		}, func(l Layout) string { return l.CertDir("worker", "w1") }, true, ErrUnsafe},
		{"outside the home", func(*testing.T, Layout) {}, func(l Layout) string { return filepath.Dir(l.Dir) }, false, ErrUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(filepath.Join(t.TempDir(), "home"))
			if err != nil {
				t.Fatal(err)
			}
			mkdir(t, l.Dir)
			t.Cleanup(func() { _ = os.Chmod(l.Dir, 0o700) })
			tt.prepare(t, l)
			err = l.SafeDir(tt.dir(l), tt.create)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("SafeDir = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("SafeDir = %v, want %v", err, tt.want)
			}
			if tt.want == nil && tt.create {
				if fi, err := os.Lstat(tt.dir(l)); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Errorf("created %v, %v; want a 0700 directory", fi, err)
				}
			}
		})
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, m fs.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func TestCheckLeafDir(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    error // nil: no error
	}{
		{"a private directory", func(t *testing.T, d string) { mkdir(t, d) }, nil},
		{"missing", func(*testing.T, string) {}, nil},
		{"group-writable", func(t *testing.T, d string) { mkdir(t, d); chmod(t, d, 0o770) }, ErrUnsafe},
		{"a link to a directory", func(t *testing.T, d string) {
			if err := os.Symlink(t.TempDir(), d); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafe},
		{"a file", func(t *testing.T, d string) {
			if err := os.WriteFile(d, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafe},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "w1")
			tt.prepare(t, d)
			err := CheckLeafDir(d)
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("CheckLeafDir = %v, want %v", err, tt.want)
			}
		})
	}
}
