package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/password"
	"github.com/daskca/daskca/lifecycle"
)

type renewOpts struct {
	role         string
	within       time.Duration
	all          bool
	reuseKey     bool
	dryRun       bool
	validity     time.Duration
	passwordFile string
	output       string
}

func newRenewCmd(g *globalOpts) *cobra.Command {
	o := &renewOpts{}
	cmd := &cobra.Command{
		Use:   "renew [NAME|ROLE/NAME|SERIAL ...]",
		Short: "Re-issue certificates with the same names, in place, before they expire",
		Long: `Renew re-issues certificates with the same role, DNS names and IP addresses,
and a new key unless --reuse-key. The new files replace the old ones in place,
atomically, so endpoints that watch their files (Dask with daskca's plugin,
daskca run) pick them up without a restart. The old record is marked
superseded and linked to the new one. A renewal keeps the old lifetime unless
--validity is given, and is refused (naming the fix) when the new certificate
would outlive the CA: rotate the CA or give a shorter --validity.

With no names, renew replaces the active certificates inside their renewal
window: the last third of their lifetime. Run it daily from cron. Re-running
after a crash finishes an interrupted renewal without renewing anything twice.`,
		Example: `  daskca renew                          # what is due: the last third of its lifetime
  daskca renew node07 --reuse-key
  daskca renew --role worker --expiring-within 30d --dry-run
  daskca renew --all -o json`,
		RunE: func(cmd *cobra.Command, args []string) error { return runRenew(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "only this role: scheduler, worker or client")
	f.Var(durationValue(&o.within), "expiring-within", "renew what expires within this time, e.g. 30d (instead of the renewal window)")
	f.BoolVar(&o.all, "all", false, "renew every active certificate")
	f.BoolVar(&o.reuseKey, "reuse-key", false, "keep each endpoint's key (read from its key file)")
	f.BoolVar(&o.dryRun, "dry-run", false, "only show what would be renewed")
	f.Var(durationValue(&o.validity), "validity", "lifetime of the new certificates (default: that of the old ones)")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func runRenew(cmd *cobra.Command, g *globalOpts, o *renewOpts, names []string) error {
	if o.role != "" {
		if _, err := identity.ParseRole(o.role); err != nil {
			return usageError("--role: %v", err)
		}
	}
	if len(names) > 0 && (o.all || o.within > 0) || o.all && o.within > 0 {
		return usageError("give names, --all or --expiring-within, not several")
	}
	if err := checkFormat(o.output, "table", "json"); err != nil {
		return err
	}
	defer lessGC()()
	keys := keysLater
	if o.dryRun {
		keys = noKeys
	}
	m, done, err := g.manager(cmd, o.passwordFile, keys)
	if err != nil {
		return err
	}
	defer done()
	sel := lifecycle.Selection{Names: names, Role: o.role, Within: o.within, All: o.all}
	res, err := m.Renew(cmd.Context(), sel, lifecycle.RenewOptions{ReuseKey: o.reuseKey, Validity: o.validity, DryRun: o.dryRun})
	if perr := printRenewals(cmd, o.output, res); perr != nil {
		return perr
	}
	switch {
	case errors.Is(err, lifecycle.ErrNotActive):
		return withHint(err, "issue a new certificate with daskca issue ROLE NAME")
	case errors.Is(err, ca.ErrWrongPassword):
		return caError(err, m.Layout)
	}
	return issueError(err)
}

func printRenewals(cmd *cobra.Command, format string, res []lifecycle.Renewal) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		if res == nil {
			res = []lifecycle.Renewal{}
		}
		return writeJSON(w, res)
	}
	if len(res) == 0 {
		_, err := fmt.Fprintln(w, "nothing to renew")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ROLE\tNAME\tACTION\tOLD SERIAL\tNEW SERIAL\tNOT AFTER")
	for _, r := range res {
		na := ""
		if !r.NotAfter.IsZero() {
			na = r.NotAfter.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Role, r.Name, r.Action, r.OldSerial, r.NewSerial, na)
	}
	return tw.Flush()
}

// caKeys says what a lifecycle command needs of the CA.
type caKeys int

const (
	noKeys    caKeys = iota // reads only: the inventory opens read-only
	withKeys                // signs: the keys are decrypted before anything else
	keysLater               // renews, re-issues: the Manager decrypts the keys beside other work
)

// manager opens the home for a lifecycle command. Unless noKeys it also
// reads the CA password and loads the signing CA, with its keys or, with
// keysLater, its public parts for the Manager to decrypt the keys when it
// signs (unless the home's CA directory is missing, as an interrupted
// rotation can leave it: the rotation commands then repair it). done
// closes the inventory.
func (g *globalOpts) manager(cmd *cobra.Command, pwFile string, keys caKeys) (*lifecycle.Manager, func(), error) {
	l, s, err := g.openHome(keys == noKeys)
	if err != nil {
		return nil, nil, err
	}
	m := &lifecycle.Manager{Layout: l, Store: s, Now: g.now, Actor: g.actor, Logf: g.logf}
	done := func() { s.Close() }
	if keys == noKeys {
		return m, done, nil
	}
	if m.Password, err = g.caPassword(cmd, pwFile, l.CADir(), l.CANextDir(), l.CAPreviousDir()); err != nil {
		done()
		return nil, nil, err
	}
	if _, statErr := os.Stat(l.CADir()); statErr == nil {
		load := ca.Load
		if keys == keysLater {
			load = func(dir string, _ []byte) (*ca.Authority, error) { return ca.LoadPublic(dir) }
		}
		if m.CA, err = load(l.CADir(), m.Password); err != nil {
			done()
			return nil, nil, caError(err, l)
		}
	}
	return m, done, nil
}

// caPassword reads the CA password if the keys in the first CA directory
// of dirs that exists are encrypted.
func (g *globalOpts) caPassword(cmd *cobra.Command, pwFile string, dirs ...string) ([]byte, error) {
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		enc, err := ca.IsEncrypted(d)
		if err != nil || !enc {
			return nil, err
		}
		pw, err := g.passwordSource(pwFile, cmd).Read()
		if errors.Is(err, password.ErrNone) {
			return nil, withHint(err, "pass --password-file FILE or set %s", password.EnvVar)
		}
		return pw, err
	}
	return nil, withHint(fmt.Errorf("no CA in %s", dirs[0]), "restore the CA directory from a backup")
}
