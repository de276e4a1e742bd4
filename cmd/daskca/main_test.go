package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/daskca/daskca/internal/quickkdf"
)

var update = flag.Bool("update", false, "rewrite golden files and generated docs")

// envQuickKeys names the directory under which a script's daskca
// commands save CA keys with few PBKDF2 iterations (internal/quickkdf).
// Only this test binary's daskca command reads it; the daskca binary does
// not know it.
const envQuickKeys = "DASKCA_TEST_QUICK_KEYS_UNDER"

// quickKeysFile, present in a script's archive, makes its CA keys quick in
// the quick tier: scripts about the CA password and keys at rest leave it
// out and keep the real key derivation in every tier.
const quickKeysFile = "quick-keys"

func TestMain(m *testing.M) {
	testscript.Main(afterTests{m}, map[string]func(){
		"daskca": func() {
			if dir := os.Getenv(envQuickKeys); dir != "" {
				quickkdf.Mark(dir)
			}
			os.Exit(run(context.Background(), newRootCmd(defaultEnv()), os.Args[1:]))
		},
	})
}

// afterTests runs the tests, then removes what they shared.
type afterTests struct{ m *testing.M }

func (a afterTests) Run() int {
	defer removeBuilt()
	flag.Parse()
	quickTierParallel()
	return a.m.Run()
}

// quickTierParallel lets more tests run at once in the quick tier, unless
// -parallel was given: most tests here wait for daskca processes,
// sockets and log lines rather than compute, and two at a time (the
// default on two cores) leaves the machine idle while they wait. The full
// suite keeps the default.
func quickTierParallel() {
	if !testing.Short() {
		return
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(4*runtime.GOMAXPROCS(0)))
	}
}

// TestScripts runs the CLI scenarios in testdata/script: each is a txtar
// file of daskca, openssl and shell-like commands with expected output, run
// against a real binary entry point, real files and a real inventory. The
// openssl cross-checks are marked [!short]: go test -short runs the rest,
// with quick CA keys in the scripts that hold a quick-keys file.
func TestScripts(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil && !testing.Short() {
		t.Fatal("openssl is needed by the CLI scenarios: apt-get install -y openssl")
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("DASKCA_HOME", e.WorkDir+"/home")
			e.Setenv("DASKCA_PASSWORD", "")
			e.Setenv("USER", "tester")
			if _, err := os.Stat(filepath.Join(e.WorkDir, quickKeysFile)); err == nil && testing.Short() {
				e.Setenv(envQuickKeys, e.WorkDir)
			}
			return nil
		},
	})
}
