package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/store"
)

const testPassword = "correct-horse-battery"

// runCLI runs the command tree in-process with home as DASKCA_HOME.
func runCLI(t *testing.T, home string, getenv map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIEnv(home, getenv, time.Now, args...)
}

// runCLIEnv runs the command tree in-process with home as DASKCA_HOME,
// the other variables of getenv, and the clock now.
func runCLIEnv(home string, getenv map[string]string, now func() time.Time, args ...string) (code int, stdout, stderr string) {
	e := env{
		getenv: func(k string) string {
			if k == "DASKCA_HOME" {
				return home
			}
			return getenv[k]
		},
		now:   now,
		actor: "test",
	}
	defer holdForks(args)()
	root := newRootCmd(e)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	code = run(context.Background(), root, args)
	return code, out.String(), errb.String()
}

// startsProcesses are the commands that start processes themselves
// (run: Dask; quickstart: Python, to find Dask): holdForks would make them
// wait for themselves.
var startsProcesses = []string{"run", "quickstart"}

// forkHoldBound is how long holdForks keeps processes from starting at
// most, so that a command that starts processes and is missing from
// startsProcesses is slowed down rather than left waiting for itself.
const forkHoldBound = 30 * time.Second

// holdForks keeps processes from being started while an in-process
// command runs, and returns the function that lets them start again.
//
// A process another test starts holds copies of this process's open files,
// the flocks of a home's inventory among them, until its exec has closed
// them, and the kernel does that only after the starting call has returned
// and released syscall.ForkLock. A command that released a lock a moment
// ago could then still find it held and say it waits. Holding ForkLock for
// reading while the command runs means no process is started while it has
// an inventory open, so no copy of its files outlives it. The commands of
// startsProcesses only wait for the starts in flight.
func holdForks(args []string) func() {
	syscall.ForkLock.RLock()
	var once sync.Once
	unlock := func() { once.Do(syscall.ForkLock.RUnlock) }
	for _, c := range startsProcesses {
		if slices.Contains(args, c) {
			unlock()
			return unlock
		}
	}
	t := time.AfterFunc(forkHoldBound, unlock)
	return func() { t.Stop(); unlock() }
}

// mustHome creates a home with a constrained CA and one active worker,
// with quick CA keys in the quick tier (testtier.QuickKeys).
func mustHome(t *testing.T) (home, pwFile string) {
	t.Helper()
	dir := t.TempDir()
	testtier.QuickKeys(t, dir)
	return mustHomeIn(t, dir)
}

// mustHomeIn creates mustHome's home under dir.
func mustHomeIn(t *testing.T, dir string) (home, pwFile string) {
	t.Helper()
	home = filepath.Join(dir, "home")
	pwFile = filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "--name", "Acme", "--password-file", pwFile, "--permit-dns", ".dask.internal", "--permit-ip", "10.0.0.0/8", "--validity", "2y"},
		{"issue", "worker", "n1", "--dns", "n1.dask.internal", "--password-file", pwFile},
	} {
		if code, _, stderr := runCLI(t, home, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	return home, pwFile
}

// homeState lists every file under home with its content.
func homeState(t *testing.T, home string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(home, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out = append(out, p+"\x00"+string(b))
		}
		return nil
	})
	return out
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	home, pw := mustHomeIn(t, t.TempDir()) // the real key derivation: some cases are about the password
	noPW := map[string]string{}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string // exact; HOME stands for the home directory
	}{
		{"unknown role", []string{"issue", "nanny", "n2", "--password-file", pw}, nil, 2,
			"daskca: error: unknown role \"nanny\" (want scheduler, worker or client)\n"},
		{"bad hostname", []string{"issue", "worker", "n2", "--dns", "bad_host.dask.internal", "--password-file", pw}, nil, 1,
			"daskca: error: invalid DNS name \"bad_host.dask.internal\": character '_' not allowed in a host name\n"},
		{"IP in --dns", []string{"issue", "worker", "n2", "--dns", "10.0.0.1", "--password-file", pw}, nil, 1,
			"daskca: error: invalid DNS name \"10.0.0.1\": an IP address (pass it with --ip)\n"},
		{"port in hostname", []string{"issue", "worker", "n2", "--dns", "n2.dask.internal:8786", "--password-file", pw}, nil, 1,
			"daskca: error: invalid DNS name \"n2.dask.internal:8786\": contains a port (give the host name alone)\n"},
		{"CIDR in --ip", []string{"issue", "worker", "n2", "--ip", "10.0.0.0/24", "--password-file", pw}, nil, 1,
			"daskca: error: invalid IP address \"10.0.0.0/24\": a range, not an address (give single addresses, one --ip each)\n"},
		{"path in name", []string{"issue", "worker", "../n2", "--password-file", pw}, nil, 1,
			"daskca: error: invalid name \"../n2\": must start with a letter or digit\n"},
		{"slash in name", []string{"issue", "worker", "a/b", "--password-file", pw}, nil, 1,
			"daskca: error: invalid name \"a/b\": character '/' not allowed (use letters, digits, '.', '-' and '_')\n"},
		{"name outside constraints", []string{"issue", "worker", "n2", "--dns", "n2.example.com", "--password-file", pw}, nil, 1,
			"daskca: error: issuing worker/n2: signing \"n2\": DNS name \"n2.example.com\" is not permitted by \"Acme\" (permitted: .dask.internal): name outside the CA's name constraints\nhint: see the permitted names with daskca ca show\n"},
		{"validity past the CA", []string{"issue", "worker", "n2", "--validity", "3y", "--password-file", pw}, nil, 1, ""},
		{"zero validity", []string{"issue", "worker", "n2", "--validity", "0d", "--password-file", pw}, nil, 2,
			"daskca: error: invalid argument \"0d\" for \"--validity\" flag: invalid duration \"0d\": must be longer than zero\n"},
		{"missing password", []string{"issue", "worker", "n2"}, noPW, 1,
			"daskca: error: no CA password given\nhint: pass --password-file FILE or set DASKCA_PASSWORD\n"},
		{"wrong password", []string{"issue", "worker", "n2"}, map[string]string{"DASKCA_PASSWORD": "not-the-password"}, 1,
			"daskca: error: loading CA from HOME/ca: root.key: wrong password\nhint: check --password-file or DASKCA_PASSWORD\n"},
		{"active exists", []string{"issue", "worker", "n1", "--password-file", pw}, nil, 1, ""},
		{"existing home at init", []string{"init", "--name", "Other", "--password-file", pw}, nil, 1,
			"daskca: error: HOME already holds a daskca CA\nhint: use another --home, or remove HOME if you really mean to start over\n"},
		{"init without name", []string{"init", "--password-file", pw}, nil, 2,
			"daskca: error: init needs --name, e.g. --name \"Acme Dask CA\"\n"},
		{"unknown flag", []string{"list", "--bogus"}, nil, 2, "daskca: error: unknown flag: --bogus\n"},
		{"bad output format", []string{"list", "-o", "yaml"}, nil, 2, "daskca: error: -o \"yaml\": choose one of table, json\n"},
		{"bad status", []string{"list", "--status", "gone"}, nil, 2,
			"daskca: error: --status \"gone\": choose one of active, revoked, superseded, expired\n"},
		{"unknown name", []string{"show", "nobody"}, nil, 1,
			"daskca: error: no such certificate: \"nobody\" is neither a name nor a serial in the inventory (see daskca list)\n"},
		{"too many args", []string{"issue", "worker", "a", "b"}, nil, 2,
			"daskca: error: daskca issue takes 2 argument(s): daskca issue ROLE NAME (got 3)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := homeState(t, home)
			code, _, stderr := runCLI(t, home, tt.env, tt.args...)
			want := strings.ReplaceAll(tt.stderr, "HOME", home)
			if code != tt.code || tt.stderr != "" && stderr != want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, tt.code, want)
			}
			if !strings.HasPrefix(stderr, "daskca: error: ") || strings.Count(stderr, "\n") > 2 {
				t.Errorf("stderr is not one error line plus an optional hint:\n%s", stderr)
			}
			if after := homeState(t, home); !slices.Equal(before, after) {
				t.Error("a refused command changed the home")
			}
		})
	}
}

func TestMissingHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "nothing")
	code, _, stderr := runCLI(t, home, nil, "list")
	want := "daskca: error: no daskca inventory in " + home + "\nhint: run daskca init --name \"My Dask CA\" (or pass --home / set DASKCA_HOME to an existing home)\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Error("list created the missing home")
	}
}

func TestCorruptInventory(t *testing.T) {
	t.Parallel()
	home, _ := mustHome(t)
	inv := filepath.Join(home, "inventory.db")
	for name, mangle := range map[string]func([]byte) []byte{
		"garbage":   func(b []byte) []byte { return bytes.Repeat([]byte("not a database "), len(b)/15) },
		"truncated": func(b []byte) []byte { return b[:len(b)/3] },
	} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(inv)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.WriteFile(inv, orig, 0o600) })
			if err := os.WriteFile(inv, mangle(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runCLI(t, home, nil, "list")
			if code != 1 || !strings.HasPrefix(stderr, "daskca: error: ") || !strings.Contains(stderr, "hint: restore the inventory") {
				t.Errorf("exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
}

func TestLockedInventory(t *testing.T) {
	t.Parallel()
	home, pw := mustHome(t)
	s, err := store.Open(filepath.Join(home, "inventory.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, _, stderr := runCLI(t, home, nil, "issue", "worker", "n2", "--password-file", pw)
	if code != 1 || !strings.Contains(stderr, "locked") || !strings.Contains(stderr, "hint: another daskca process") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"two\nlines", "two lines"},
		{"nul\x00esc\x1b[31m", `nul\x00esc\x1b[31m`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"real \uFFFD stays", "real \uFFFD stays"},
		{"c1 \u0085 control", `c1 \x85 control`},
		{"ünïcödé", "ünïcödé"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := oneLine(strings.Repeat("a", 1<<20) + "END")
	if len(long) > maxMessage+64 || !strings.HasSuffix(long, "END") || !strings.Contains(long, "bytes cut") {
		t.Errorf("oneLine of 1 MB: %d bytes, %.80q...", len(long), long)
	}
}
