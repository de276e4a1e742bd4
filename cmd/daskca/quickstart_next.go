package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/daskca/daskca/daskrun"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/snippet"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/transport/daskconfig"
)

// The demo's files in the home, next to the certificates they use.
const (
	demoClientScript = "client.py"
	demoYAMLSuffix   = ".yaml"
)

// demoClientCode computes on the demo cluster after the python snippet.
const demoClientCode = `
client = distributed.Client(%s, security=security, timeout="30s")
client.wait_for_workers(2, timeout=60)
futures = client.map(lambda x: x * x, range(10))
print("sum of squares computed on", len(client.scheduler_info()["workers"]), "workers:", client.submit(sum, futures).result())
client.close()
`

// writeDemoFiles writes the scheduler's and the workers' Dask
// configurations, daskca's plugin and the client script into the home.
func writeDemoFiles(s *store.Store, l home.Layout, sched string, now time.Time) error {
	so := snippet.Options{Scheduler: sched, MinTLS: 1.2}
	o := &snippetOpts{}
	for _, name := range []string{"scheduler", "worker1", "worker2", "client"} {
		rec, err := issue.Find(s, name)
		if err != nil {
			return err
		}
		ep, err := localEndpoint(l, rec, o)
		if err != nil {
			return err
		}
		if name == "client" {
			py := snippet.Python(ep, so) + fmt.Sprintf(demoClientCode, daskconfig.PyQuote(sched))
			if err := fsutil.WriteFile(filepath.Join(l.Dir, demoClientScript), []byte(py), 0o644); err != nil {
				return err
			}
			continue
		}
		y, err := snippet.YAML(ep, so)
		if err != nil {
			return err
		}
		if err := fsutil.WriteFile(filepath.Join(l.Dir, name+demoYAMLSuffix), y, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// printNextSteps prints the commands that start the demo cluster and
// compute on it, calling daskca and Python the way that works here.
func printNextSteps(w io.Writer, g *globalOpts, dir, sched string) error {
	self := selfCommand(os.Executable, os.Getwd, exec.LookPath)
	py, pyOK := demoPython(g)
	pyFlag := ""
	if py != "python3" {
		pyFlag = " --python " + shellArg(py)
	}
	h := func(name string) string { return shellArg(filepath.Join(dir, name)) }
	fmt.Fprintf(w, "\nnext, start the demo cluster, each command in a terminal of its own (or ending with &):\n")
	fmt.Fprintf(w, "  %s run scheduler --config %s --listen %s%s -- --dashboard-address 127.0.0.1:0\n", self, h("scheduler.yaml"), sched, pyFlag)
	for _, n := range []string{"worker1", "worker2"} {
		fmt.Fprintf(w, "  %s run worker %s --config %s --listen tls://127.0.0.1:0%s -- --dashboard-address 127.0.0.1:0\n", self, sched, h(n+".yaml"), pyFlag)
	}
	fmt.Fprintf(w, "then compute on it:\n  %s %s\n", shellArg(py), h(demoClientScript))
	fmt.Fprintf(w, "stop each with Ctrl-C (or kill %%1 %%2 %%3 when started with &).\n")
	if !pyOK {
		fmt.Fprintf(w, "no Python here imports distributed: install Dask (apt-get install python3-distributed, or pip install distributed), "+
			"then add --python PATH to the run commands or set %s.\n", envPython)
	}
	return nil
}

// selfCommand is how to call this daskca again from a shell: "daskca"
// when that is this binary on PATH; "go run ./cmd/daskca" when this is a
// go run build (deleted when it exits) started in the module's root; the
// executable's path otherwise.
func selfCommand(executable func() (string, error), getwd func() (string, error), lookPath func(string) (string, error)) string {
	exe, err := executable()
	if err != nil {
		return "daskca"
	}
	if isGoRunBuild(exe) {
		if wd, err := getwd(); err == nil && fileExists(filepath.Join(wd, "cmd", "daskca", "main.go")) {
			return "go run ./cmd/daskca"
		}
		return "go run github.com/daskca/daskca/cmd/daskca"
	}
	if p, err := lookPath("daskca"); err == nil && sameFile(p, exe) {
		return "daskca"
	}
	return shellArg(exe)
}

// isGoRunBuild reports whether exe is a binary go run built: in a
// temporary …/go-build…/b001/exe/ directory, or (Go 1.24 and later) in the
// build cache, ~/.cache/go-build/… or $GOCACHE, which go clean -cache
// empties.
func isGoRunBuild(exe string) bool {
	if c := os.Getenv("GOCACHE"); c != "" && strings.HasPrefix(exe, filepath.Clean(c)+string(filepath.Separator)) {
		return true
	}
	return strings.Contains(exe, string(filepath.Separator)+"go-build")
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// demoPython returns the first interpreter that imports distributed, and
// false (with "python3") when none does.
func demoPython(g *globalOpts) (string, bool) {
	var candidates []string
	if p := g.getenv(envPython); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "python3", "/usr/bin/python3")
	for _, c := range candidates {
		if _, _, err := daskrun.FindPython(context.Background(), c); err == nil {
			return c, true
		}
	}
	return "python3", false
}

// shellArg quotes s for a POSIX shell when it needs it.
func shellArg(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-:=@+,", c)) {
			return daskconfig.ShellQuote(s)
		}
	}
	return s
}
