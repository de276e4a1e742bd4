package main

import (
	"context"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// env is what commands take from the process: injected so tests can run the
// whole command tree in-process with their own home, clock and terminal.
type env struct {
	getenv func(string) string
	now    func() time.Time
	tty    *os.File // nil when there is no terminal to prompt on
	actor  string
}

func defaultEnv() env {
	return env{getenv: os.Getenv, now: time.Now, tty: os.Stdin, actor: defaultActor()}
}

// globalOpts are the flags every command shares.
type globalOpts struct {
	env
	home   string
	wait   time.Duration // how long to wait for another daskca's lock
	stderr io.Writer     // the running command's stderr, for "waiting" lines
}

// defaultWait is how long a command waits for another daskca process that
// holds the inventory: readers get in between a writer's transactions at
// once, so only a second writer (crl, revoke, ... during a bulk run) waits.
const defaultWait = 2 * time.Second

func newRootCmd(e env) *cobra.Command {
	g := &globalOpts{env: e, wait: defaultWait, stderr: io.Discard}
	root := &cobra.Command{
		Use:   "daskca",
		Short: "An organisation CA for Dask clusters",
		Long: `daskca creates an organisation CA for Dask, issues per-role certificates for
schedulers, workers and clients, records them in an inventory, and emits the
configuration Dask needs to run every link over mutual TLS.

Examples:
  daskca quickstart --home ./demo           a demo PKI for localhost
  daskca init --name "Acme Dask CA" --permit-dns .dask.internal
  daskca issue scheduler sched01 --dns sched01.dask.internal --ip 10.0.0.5
  daskca issue worker node07 --dns node07.dask.internal
  daskca issue client alice
  daskca list --expiring-within 30d

Files live in --home, else $DASKCA_HOME, else ~/.daskca.
Exit codes: 0 ok, 1 error, 2 usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.stderr = cmd.ErrOrStderr()
			return refuseEmptyFlags(cmd, args)
		},
	}
	root.PersistentFlags().StringVar(&g.home, "home", "", "daskca home directory (default $DASKCA_HOME or ~/.daskca)")
	root.PersistentFlags().Var(durationValue(&g.wait), "wait", "how long to wait for another daskca process writing the inventory, e.g. 10m")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cliError{err: err, code: exitUsage}
	})
	root.AddCommand(
		newInitCmd(g),
		newIssueCmd(g),
		newListCmd(g),
		newShowCmd(g),
		newCACmd(g),
		newQuickstartCmd(g),
		newConfigCmd(g),
		newExportCmd(g),
		newRenewCmd(g), newRevokeCmd(g), newCRLCmd(g), newStatusCmd(g),
		newInventoryCmd(g), newBackupCmd(g), newRestoreCmd(g),
		newRunCmd(g),
		newProbeCmd(g),
		newTokenCmd(g), newServeCmd(g), newEnrollCmd(g),
	)
	flagsBeforeArgs(root)
	return root
}

// run executes the command tree and reports any error on its stderr.
func run(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		err = &cliError{err: err, hint: "run daskca --help for the list of commands", code: exitUsage}
	}
	return report(root.ErrOrStderr(), err)
}
