package testtier

import (
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/daskca/daskca/internal/quickkdf"
)

// recorder is a testing.TB that records how Full ended the test.
type recorder struct {
	testing.TB
	ended, msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(f string, a ...any) {
	r.ended, r.msg = "fatal", fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (r *recorder) Skipf(f string, a ...any) {
	r.ended, r.msg = "skip", fmt.Sprintf(f, a...)
	runtime.Goexit()
}

// full runs Full on a recorder in its own goroutine, as a test would.
func full(t *testing.T) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Full(r, "real Dask")
		r.ended = "returned"
	}()
	<-done
	return r
}

// setShort sets -test.short for the rest of the test. Not parallel: the
// flag is the process's.
func setShort(t *testing.T, v bool) {
	old := flag.Lookup("test.short").Value.String()
	if err := flag.Set("test.short", fmt.Sprint(v)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.short", old) })
}

func TestFull(t *testing.T) {
	for _, c := range []struct {
		name    string
		short   bool
		envFull string
		ended   string
		msg     string
	}{
		{"full suite", false, "", "returned", ""},
		{"full suite in CI", false, "1", "returned", ""},
		{"quick tier", true, "", "skip", "skipped by -short (the quick tier): needs real Dask"},
		{"-short in CI", true, "1", "fatal", EnvFull + " is set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			setShort(t, c.short)
			t.Setenv(EnvFull, c.envFull)
			r := full(t)
			if r.ended != c.ended || !strings.Contains(r.msg, c.msg) {
				t.Errorf("Full ended with %s %q, want %s containing %q", r.ended, r.msg, c.ended, c.msg)
			}
		})
	}
}

func TestQuickKeys(t *testing.T) {
	for _, c := range []struct {
		name  string
		short bool
	}{
		{"full suite", false},
		{"quick tier", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			setShort(t, c.short)
			dir := t.TempDir()
			t.Run("marking", func(t *testing.T) {
				QuickKeys(t, dir)
				if got := quickkdf.Marked(filepath.Join(dir, "home", "ca")); got != c.short {
					t.Errorf("keys under the test's directory quick: %v, want %v", got, c.short)
				}
			})
			if quickkdf.Marked(dir) {
				t.Error("still marked after the test ended")
			}
		})
	}
}
