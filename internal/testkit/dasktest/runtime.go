package dasktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// HostPython is the interpreter that has Debian's python3-distributed. The
// python3 first on PATH may be another one, without Dask.
const HostPython = "/usr/bin/python3"

// DefaultTrixieDir is where scripts/dask-trixie builds the chroot unless
// DASKCA_TRIXIE_DIR says otherwise.
const DefaultTrixieDir = "/var/cache/daskca/trixie"

// Environment variables read by this package.
const (
	// EnvTrixieDir overrides DefaultTrixieDir (scripts/dask-trixie reads it too).
	EnvTrixieDir = "DASKCA_TRIXIE_DIR"
	// EnvRequireTrixie, when non-empty, makes a missing or unusable trixie
	// chroot a test failure instead of a logged note.
	EnvRequireTrixie = "DASKCA_REQUIRE_TRIXIE"
)

// trixieMarker is the file scripts/dask-trixie writes once a chroot is
// complete.
const trixieMarker = ".daskca-trixie-ready"

// probeTimeout bounds the "import distributed" check; the import takes about
// a second, much longer only on a machine in trouble.
const probeTimeout = 60 * time.Second

// Runtime is one installation of Dask that tests can run. The zero value is
// not usable; get one from Host, Trixie or Runtimes.
type Runtime struct {
	// Name is a short label for subtests: "host" or "trixie".
	Name string
	// Python is the interpreter's path as the runtime sees it.
	Python string
	// Root is the chroot directory, or empty for the host.
	Root string
	// Version is distributed.__version__, e.g. "2022.12.1+ds.1".
	Version string
}

// Host returns the host's Dask, failing the test with the install command
// when /usr/bin/python3 cannot import distributed. Under -short it skips the
// test (testtier.Full): every test that runs Dask goes through Host or
// Trixie.
func Host(t testing.TB) Runtime {
	t.Helper()
	testtier.Full(t, "real Dask")
	rt := Runtime{Name: "host", Python: HostPython}
	v, err := probe(rt)
	if err != nil {
		t.Fatalf("dasktest: real Dask is needed and %s cannot import distributed: %v\n"+
			"install it with: apt-get install -y python3-distributed (or run scripts/install-test-deps)", HostPython, err)
	}
	rt.Version = v
	return rt
}

// Python returns the path of the host interpreter that has Dask, failing
// the test when it cannot import distributed.
func Python(t testing.TB) string {
	t.Helper()
	return Host(t).Python
}

// Version returns the host's distributed.__version__.
func Version(t testing.TB) string {
	t.Helper()
	return Host(t).Version
}

// TrixieDir returns the directory of the trixie chroot: $DASKCA_TRIXIE_DIR
// or DefaultTrixieDir.
func TrixieDir() string {
	if d := os.Getenv(EnvTrixieDir); d != "" {
		return d
	}
	return DefaultTrixieDir
}

// Trixie returns the Dask in the trixie chroot and true, or false when there
// is no usable chroot (a failure instead when DASKCA_REQUIRE_TRIXIE is set).
// A chroot that exists but is not mounted fails the test either way. Under
// -short it skips the test, as Host does.
func Trixie(t testing.TB) (Runtime, bool) {
	t.Helper()
	testtier.Full(t, "real Dask (trixie chroot)")
	root := TrixieDir()
	required := os.Getenv(EnvRequireTrixie) != ""
	missing := func(why string) (Runtime, bool) {
		t.Helper()
		msg := "dasktest: no trixie Dask: " + why + "; build it with: sudo scripts/dask-trixie"
		if required {
			t.Fatal(msg + " (" + EnvRequireTrixie + " is set)")
		}
		t.Log(msg)
		return Runtime{}, false
	}
	if _, err := os.Stat(filepath.Join(root, trixieMarker)); err != nil {
		return missing("no chroot at " + root)
	}
	if os.Geteuid() != 0 {
		return missing("running a chroot needs root")
	}
	if _, err := os.Stat(filepath.Join(root, "proc", "self")); err != nil {
		t.Fatalf("dasktest: the chroot at %s has no /proc mounted; run: sudo scripts/dask-trixie", root)
	}
	rt := Runtime{Name: "trixie", Python: HostPython, Root: root}
	v, err := probe(rt)
	if err != nil {
		t.Fatalf("dasktest: python3 in the chroot at %s cannot import distributed: %v; rebuild with: sudo scripts/dask-trixie", root, err)
	}
	rt.Version = v
	return rt, true
}

// Runtimes returns the host's Dask and, when present, the trixie chroot's.
func Runtimes(t testing.TB) []Runtime {
	t.Helper()
	rts := []Runtime{Host(t)}
	if rt, ok := Trixie(t); ok {
		rts = append(rts, rt)
	}
	return rts
}

var probes struct {
	sync.Mutex
	version map[string]string // by Root, only successes are kept
}

// probe imports distributed in rt and returns its version, once per process
// and runtime.
func probe(rt Runtime) (string, error) {
	probes.Lock()
	defer probes.Unlock()
	if v, ok := probes.version[rt.Root]; ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := rt.command(ctx, "/", []string{"HOME=/nonexistent"}, "-c", "import distributed; print(distributed.__version__)")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", &PythonError{Err: err, Stderr: string(ee.Stderr)}
		}
		return "", err
	}
	if probes.version == nil {
		probes.version = make(map[string]string)
	}
	v := strings.TrimSpace(string(out))
	probes.version[rt.Root] = v
	return v, nil
}

// baseEnv is the whole environment a process starts from: nothing is
// inherited from the test, so a developer's DASK_* variables cannot change
// what a test sees. home is a directory the runtime sees.
func baseEnv(home string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"TMPDIR=" + home,
		"LANG=C.UTF-8",
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	}
}

// command returns rt's Python with args, run in dir (a path the runtime
// sees), in its own session, with the base environment plus env (later
// entries win). Cancelling ctx kills the whole process group.
func (rt Runtime) command(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, rt.Python, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(dir), env...)
	// Setsid makes the process a session and group leader, so its group id
	// is its pid and its children (the nanny's worker) share it. With
	// Chroot, the kernel changes root before Dir is entered.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Chroot: rt.Root}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TempDir returns a fresh directory, removed when the test ends, that
// processes in rt can see; pass paths below it through Path.
func (rt Runtime) TempDir(t testing.TB) string {
	t.Helper()
	if rt.Root == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(filepath.Join(rt.Root, "tmp"), "dasktest-")
	if err != nil {
		t.Fatalf("dasktest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("dasktest: removing %s: %v", dir, err)
		}
	})
	return dir
}

// Path returns hostPath as processes in rt see it. For the host it is
// hostPath itself; for a chroot hostPath must lie inside Root (use TempDir),
// or the test fails.
func (rt Runtime) Path(t testing.TB, hostPath string) string {
	t.Helper()
	p, ok := rt.inside(hostPath)
	if !ok {
		t.Fatalf("dasktest: %s is not visible in the %s runtime (root %s); write it under Runtime.TempDir", hostPath, rt.Name, rt.Root)
	}
	return p
}

// inside maps a host path to the runtime's view of it.
func (rt Runtime) inside(hostPath string) (string, bool) {
	if rt.Root == "" {
		return hostPath, true
	}
	rel, err := filepath.Rel(filepath.Clean(rt.Root), filepath.Clean(hostPath))
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	if rel == "." {
		return "/", true
	}
	return "/" + filepath.ToSlash(rel), true
}
