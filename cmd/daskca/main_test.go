package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite golden files and generated docs")

func TestMain(m *testing.M) {
	testscript.Main(afterTests{m}, map[string]func(){
		"daskca": func() {
			os.Exit(run(context.Background(), newRootCmd(defaultEnv()), os.Args[1:]))
		},
	})
}

// afterTests runs the tests, then removes what they shared.
type afterTests struct{ m *testing.M }

func (a afterTests) Run() int {
	defer removeBuilt()
	return a.m.Run()
}

// TestScripts runs the CLI scenarios in testdata/script: each is a txtar
// file of daskca, openssl and shell-like commands with expected output, run
// against a real binary entry point, real files and a real inventory. The
// openssl cross-checks are marked [!short]: go test -short runs the rest.
func TestScripts(t *testing.T) {
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
			return nil
		},
	})
}
