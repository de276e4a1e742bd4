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
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/store"
)

// exactArgs is cobra.ExactArgs with a usage exit code and the expected form.
// A command whose only file is its --out (annotated outIsTheFile), given one
// argument, is told to use --out.
func exactArgs(n int, form string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if n == 0 {
			e := &cliError{err: fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args), code: exitUsage}
			switch {
			case len(args) == 1 && cmd.Annotations[outIsTheFile] == "yes":
				e.hint = fmt.Sprintf("to write to %s, pass it as --out %s", args[0], args[0])
			case form != "":
				e.hint = fmt.Sprintf("usage: %s %s (see %s --help)", cmd.CommandPath(), form, cmd.CommandPath())
			}
			return e
		}
		return usageError("%s takes %d argument(s): %s %s (got %d)", cmd.CommandPath(), n, cmd.CommandPath(), form, len(args))
	}
}

// outIsTheFile marks commands that write one file, named by --out, and
// take no argument: a lone argument is most likely that file.
const outIsTheFile = "daskca/out-is-the-file"

// emptyFlagProblems says what an empty value means for flags where
// "empty value" says too little.
var emptyFlagProblems = map[string]string{
	"hosts": "the host list is empty (give one such as 'node[001-128].dask.internal')",
}

// flagsBeforeArgs makes every command below c that checks its arguments
// refuse empty flags first: cobra checks arguments before running
// PersistentPreRunE, and a flag given as "" changes which arguments a
// command expects (issue worker --hosts ” would be told it lacks a NAME).
func flagsBeforeArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		flagsBeforeArgs(sub)
	}
	if c.Args == nil {
		return
	}
	args := c.Args
	c.Args = func(cmd *cobra.Command, a []string) error {
		if err := refuseEmptyFlags(cmd, a); err != nil {
			return err
		}
		return args(cmd, a)
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
			if p, ok := emptyFlagProblems[f.Name]; ok {
				err = usageError("--%s: %s", f.Name, p)
			} else {
				err = usageError("--%s: empty value", f.Name)
			}
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
	s, err := store.Open(l.Inventory(), g.storeOptions(l, readOnly))
	if err != nil {
		return nil, storeError(err, l)
	}
	return s, nil
}

// openWriter opens the inventory of an initialized home for writing, once
// what an interrupted run left is finished (lifecycle.OpenWriter).
func (g *globalOpts) openWriter(l home.Layout) (*store.Store, error) {
	s, err := lifecycle.OpenWriter(l, g.storeOptions(l, false), g.logf)
	switch {
	case errors.Is(err, lifecycle.ErrUnfinished):
		return nil, withHint(err, "check the permissions under %s", l.CertsDir())
	case err != nil:
		return nil, storeError(err, l)
	}
	return s, nil
}

// storeOptions opens inventories with the command's clock and --wait, and
// says so on stderr when it waits.
func (g *globalOpts) storeOptions(l home.Layout, readOnly bool) store.Options {
	waiting := func() {
		fmt.Fprintf(g.stderr, "daskca: waiting up to %v for another daskca process writing %s (--wait changes how long)\n", g.wait, l.Inventory())
	}
	return store.Options{ReadOnly: readOnly, Now: g.now, Timeout: g.wait, Waiting: waiting}
}

// storeError adds the fix to the inventory errors users can fix.
func storeError(err error, l home.Layout) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return withHint(err, "another daskca process is writing %s; retry when it has finished, or wait longer with --wait 10m", l.Inventory())
	case errors.Is(err, store.ErrCorrupt):
		return withHint(err, "restore the inventory from a backup (daskca restore FILE) or move %s aside", l.Inventory())
	}
	return err
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
