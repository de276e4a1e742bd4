package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// writeCounter counts the writes a command makes to its output.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestLargeOutputsAreBuffered checks that the commands that print a line
// per certificate write their output in large pieces: written cell by
// cell, the table of a renewal of 2,000 workers took 28,000 system calls.
func TestLargeOutputsAreBuffered(t *testing.T) {
	home, pw := mustHome(t)
	const n = 300
	mustCLI(t, home, "issue", "worker", "--hosts", "w[001-300].dask.internal", "--password-file", pw)
	for _, tc := range []struct {
		args []string
		want string // in the output
	}{
		{[]string{"issue", "worker", "--hosts", "v[001-300].dask.internal", "--dry-run"}, "v300"},
		{[]string{"issue", "worker", "--hosts", "v[001-300].dask.internal", "--dry-run", "-o", "json"}, "v300"},
		{[]string{"renew", "--all", "--password-file", pw}, "w300"},
		{[]string{"ca", "rotate", "issue", "--password-file", pw}, "w300"},
	} {
		if tc.args[0] == "ca" {
			mustCLI(t, home, "ca", "rotate", "begin", "--password-file", pw)
		}
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			var out writeCounter
			var errb bytes.Buffer
			root := newRootCmd(env{getenv: func(k string) string {
				if k == "DASKCA_HOME" {
					return home
				}
				return ""
			}, now: time.Now, actor: "test"})
			root.SetOut(&out)
			root.SetErr(&errb)
			if code := run(context.Background(), root, tc.args); code != 0 {
				t.Fatalf("%v: exit %d: %s", tc.args, code, errb.String())
			}
			if lines := strings.Count(out.String(), "\n"); lines < n {
				t.Fatalf("%v printed %d lines, want at least %d", tc.args, lines, n)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("%v: output lacks %q", tc.args, tc.want)
			}
			if out.writes > 8 {
				t.Errorf("%v wrote %d lines in %d writes, want at most 8", tc.args, strings.Count(out.String(), "\n"), out.writes)
			}
		})
	}
}
