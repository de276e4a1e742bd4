// Package fataltest checks, from a test, that a test helper gives up with
// t.Fatal or t.Fatalf, without failing the test that checks it.
package fataltest

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder is a testing.TB whose Fatal and Fatalf record the message and end
// the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Log(args ...any)           {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Fatal(args ...any)         { r.msg = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, a ...any) { r.msg = fmt.Sprintf(f, a...); runtime.Goexit() }

// Must runs f and returns what it passed to Fatal or Fatalf, failing t when
// f returns normally.
func Must(t *testing.T, f func(testing.TB)) string {
	t.Helper()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	if rec.msg == "" {
		t.Fatal("want a t.Fatal or t.Fatalf, got none")
	}
	return rec.msg
}
