package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/password"
	"github.com/daskca/daskca/store"
)

// exactArgs is cobra.ExactArgs with a usage exit code and the expected form.
func exactArgs(n int, form string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s takes %d argument(s): %s %s (got %d)", cmd.CommandPath(), n, cmd.CommandPath(), form, len(args))
		}
		return nil
	}
}

// refuseEmptyFlags refuses a flag given explicitly with an empty value
// (--ip "", --hosts-file ""): it is a mistake in a script, and ignoring it
// would silently do something else than asked.
func refuseEmptyFlags(cmd *cobra.Command, _ []string) error {
	var err error
	visit := func(f *pflag.Flag) {
		switch t := f.Value.Type(); {
		case err != nil:
		case t == "string" && f.Value.String() == "", (t == "stringSlice" || t == "stringArray") && f.Value.String() == "[]":
			err = usageError("--%s: empty value", f.Name)
		}
	}
	cmd.Flags().Visit(visit)
	cmd.InheritedFlags().Visit(visit)
	return err
}

// layout resolves the home directory.
func (g *globalOpts) layout() (home.Layout, error) {
	return home.Default(g.home, g.getenv)
}

// errNoInventory: the home holds no inventory.
var errNoInventory = errors.New("no daskca inventory")

// initializedLayout resolves the home and checks that it holds an inventory.
func (g *globalOpts) initializedLayout() (home.Layout, error) {
	l, err := g.layout()
	if err != nil {
		return l, err
	}
	if !l.Exists() {
		return l, withHint(fmt.Errorf("%w in %s", errNoInventory, l.Dir),
			"run daskca init --name \"My Dask CA\" (or pass --home / set DASKCA_HOME to an existing home)")
	}
	if err := l.Check(); err != nil {
		return l, withHint(err, "a daskca home must be a directory of the user running daskca that no one else can write (chmod 0700 %s)", l.Dir)
	}
	return l, nil
}

// openHome is initializedLayout followed by openStore.
func (g *globalOpts) openHome(readOnly bool) (home.Layout, *store.Store, error) {
	l, err := g.initializedLayout()
	if err != nil {
		return l, nil, err
	}
	s, err := g.openStore(l, readOnly)
	return l, s, err
}

// openStore opens the inventory of an initialized home.
func (g *globalOpts) openStore(l home.Layout, readOnly bool) (*store.Store, error) {
	waiting := func() {
		fmt.Fprintf(g.stderr, "daskca: waiting up to %v for another daskca process writing %s (--wait changes how long)\n", g.wait, l.Inventory())
	}
	s, err := store.Open(l.Inventory(), store.Options{ReadOnly: readOnly, Now: g.now, Timeout: g.wait, Waiting: waiting})
	switch {
	case errors.Is(err, store.ErrLocked):
		return nil, withHint(err, "another daskca process is writing %s; retry when it has finished, or wait longer with --wait 10m", l.Inventory())
	case errors.Is(err, store.ErrCorrupt):
		return nil, withHint(err, "restore the inventory from a backup (daskca restore FILE) or move %s aside", l.Inventory())
	case err != nil:
		return nil, err
	}
	return s, nil
}

// passwordSource is where the CA password is read from.
func (g *globalOpts) passwordSource(file string, cmd *cobra.Command) password.Source {
	return password.Source{File: file, Getenv: g.getenv, TTY: g.tty, Prompt: cmd.ErrOrStderr()}
}

// loadCA loads the CA with its keys, asking for the password when the keys
// are encrypted.
func (g *globalOpts) loadCA(l home.Layout, pwFile string, cmd *cobra.Command) (*ca.Authority, error) {
	enc, err := ca.IsEncrypted(l.CADir())
	if err != nil {
		return nil, caError(err, l)
	}
	var pw []byte
	if enc {
		pw, err = g.passwordSource(pwFile, cmd).Read()
		if errors.Is(err, password.ErrNone) {
			return nil, withHint(err, "pass --password-file FILE or set %s", password.EnvVar)
		}
		if err != nil {
			return nil, err
		}
	}
	a, err := ca.Load(l.CADir(), pw)
	return a, caError(err, l)
}

// caError adds the fix to the CA errors users can fix.
func caError(err error, l home.Layout) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ca.ErrWrongPassword):
		return withHint(err, "check --password-file or %s", password.EnvVar)
	case errors.Is(err, ca.ErrNotInitialized), errors.Is(err, os.ErrNotExist):
		return withHint(err, "run daskca init in %s first", l.Dir)
	}
	return err
}

// logf prints one line about something a command did on its own (such as
// discarding a damaged pending directory) to the command's stderr.
func (g *globalOpts) logf(format string, args ...any) {
	fmt.Fprintf(g.stderr, "daskca: "+format+"\n", args...)
}
