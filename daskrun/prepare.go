package daskrun

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// Options say what to run. Role is required, and Scheduler for a worker;
// every other zero value is Dask's or daskca's default, as documented.
type Options struct {
	// Role is identity.Scheduler (dask scheduler) or identity.Worker (dask
	// worker, with its nanny).
	Role identity.Role
	// ConfigFile, when set, is the whole Dask configuration: it is read
	// alone, and Dask gets a private DASK_CONFIG directory holding a copy
	// of it and none of the DASK_* variables of the keys checked (they
	// would override the file). Empty: Dask's own search path (/etc/dask,
	// ~/.config/dask under Home, $DASK_CONFIG) and the DASK_* variables of
	// Environ, as Dask reads them.
	ConfigFile string
	// Environ is the environment as "NAME=value" entries: where Dask's
	// configuration is read from when ConfigFile is empty, and what Dask
	// starts with. nil means os.Environ().
	Environ []string
	// Home is the user's home directory, for ~/.config/dask when
	// ConfigFile is empty. Empty skips that directory.
	Home string
	// Scheduler is the address a worker registers with: tls://HOST:PORT,
	// or HOST:PORT when the configuration's default-scheme is tls. Unused
	// for a scheduler.
	Scheduler string
	// Listen is the tls:// address to listen on. Empty: a scheduler
	// listens on every interface, port 8786; a worker where Dask chooses
	// (every interface, a free port).
	Listen string
	// Name is the worker's name. Empty: the name in its certificate.
	Name string
	// NThreads is the worker's number of threads. 0 (or less): Dask's
	// default, one per CPU.
	NThreads int
	// Python is the interpreter: a path, or a name looked up in PATH.
	// Empty: python3.
	Python string
	// DaskArgs go to dask scheduler or dask worker as they are, after
	// daskca's flags. --preload is refused: it would replace the preload
	// list that loads daskca's plugin.
	DaskArgs []string
	// Now is the clock the certificate's validity is checked against. nil
	// means time.Now.
	Now func() time.Time
}

// Run is real Dask ready to start, as Prepare decided it. The exported
// fields describe it (to print it, say); Start runs exactly them. A Run is
// not safe for concurrent use.
type Run struct {
	// Role is the role Dask runs as.
	Role identity.Role
	// Python is the interpreter's path.
	Python string
	// Version is the version of distributed the interpreter imports.
	Version string
	// Args are the interpreter's arguments: -m and Dask's command-line
	// module, daskca's flags, the nanny's --preload-nanny, Options.DaskArgs.
	Args []string
	// Env is Dask's whole environment.
	Env []string

	tmp  string // private directory: the plugin's copy, DASK_CONFIG
	proc *process
}

// Prepare checks everything that can be checked before Python starts and
// decides how Dask runs; see the package documentation. A failed check is
// a *PreflightError; other errors (a temporary directory that cannot be
// made) are returned as they are. ctx bounds the interpreter's check.
//
// The Run holds a private directory until Wait returns or Close is called:
// a Run that is never started must be closed.
func Prepare(ctx context.Context, opts Options) (*Run, error) {
	if opts.Role != identity.Scheduler && opts.Role != identity.Worker {
		return nil, fmt.Errorf("daskrun: role %q: Dask runs a scheduler or a worker", opts.Role)
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	cfg, err := LoadConfig(opts.ConfigFile, environ, opts.Home, nil)
	if err != nil {
		return nil, &PreflightError{Check: CheckConfig, Err: err}
	}
	sec, err := transport.NewSecurity(cfg, opts.Role, transport.SecurityOptions{Now: opts.Now})
	if err != nil {
		return nil, &PreflightError{Check: CheckMaterial, Err: err}
	}
	defer sec.Close()
	if err := sec.CheckOwnRevoked(); err != nil {
		return nil, &PreflightError{Check: CheckRevoked, Err: err}
	}
	if err := refusePreloadArgs(opts.Role, opts.DaskArgs); err != nil {
		return nil, err
	}
	mod, flags, err := daskFlags(cfg, sec, opts)
	if err != nil {
		return nil, err
	}
	r := &Run{Role: opts.Role}
	if r.Python, r.Version, err = FindPython(ctx, opts.Python); err != nil {
		return nil, err
	}
	if r.tmp, err = os.MkdirTemp("", "daskca-run-"); err != nil {
		return nil, err
	}
	pre, preEnv, err := pluginPreloads(cfg, opts.Role, r.tmp)
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	if r.Env, err = childEnv(environ, opts.ConfigFile, r.tmp); err != nil {
		_ = r.Close()
		return nil, err
	}
	r.Env = append(r.Env, preEnv...)
	r.Args = append([]string{"-m", mod}, flags...)
	r.Args = append(append(r.Args, pre...), opts.DaskArgs...)
	return r, nil
}

// Close removes the Run's private directory. Wait calls it; call it for a
// Run that is not started. Closing twice is harmless.
func (r *Run) Close() error {
	if r.tmp == "" {
		return nil
	}
	err := os.RemoveAll(r.tmp)
	r.tmp = ""
	return err
}

// LoadConfig reads the Dask configuration a run uses: file alone when it
// is set; otherwise Dask's search path, with home for ~/.config/dask (empty
// skips it), and the DASK_* variables of environ. log gets the loader's
// warnings (nil discards them).
func LoadConfig(file string, environ []string, home string, log *slog.Logger) (daskconfig.Config, error) {
	opts := daskconfig.LoadOptions{Logger: log}
	if file != "" {
		opts.Dirs, opts.Files = []string{}, []string{file}
	} else {
		opts.Environ, opts.Home = environ, home
	}
	return daskconfig.LoadConfig(opts)
}
