package main

import (
	"bytes"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/store"
)

var levelNames = map[lifecycle.Level]string{lifecycle.OK: "ok", lifecycle.Warning: "warning", lifecycle.Critical: "critical"}

type statusOpts struct {
	within      time.Duration
	output, out string
}

func newStatusCmd(g *globalOpts) *cobra.Command {
	o := &statusOpts{}
	cmd := &cobra.Command{
		Use:   "status [--within 30d] [-o table|json|prom]",
		Short: "Check the expiry and health of the whole inventory, like a monitoring check",
		Long: `Status judges every endpoint's current certificate and the home itself (CA
expiry, the CRL, unfinished operations, a CA rotation under way) and exits like
a monitoring check:
  0  everything is fine
  1  something is inside the renewal window (the last third of its lifetime,
     or --within), or needs a run of daskca (a stale CRL, unfinished files);
     a short-lived enrolled certificate its host did not renew in time
  2  something is expired, or revoked and still in use; the home or its
     inventory is missing, corrupt or not private; the CRL lists a
     certificate the inventory holds as active (an older inventory
     restored?); a trust bundle holds a CA that is not this home's
  3  unknown: status could not be judged (another daskca process kept the
     inventory past --wait, an unreadable CA, ...)
A certificate a host enrolled with a lifetime of 7 days or less (or no
longer than --within) is judged by its host's schedule instead: daskca
enroll --watch renews it at two thirds of its lifetime, so it is ok until
three quarters have passed, then "overdue" (1) with a line saying to check
daskca enroll --renew --watch on that host, and expired (2).
Readers are not shut out by a running bulk issue: status opens between its
transactions. -o prom prints node-exporter textfile metrics (daskca_cert_not_after_seconds
and friends); with --out FILE they are written atomically to FILE.`,
		Example: `  daskca status
  daskca status --within 30d -o json
  daskca status -o prom --out /var/lib/node_exporter/textfile/daskca.prom`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd, g, o) },
	}
	cmd.Flags().Var(durationValue(&o.within), "within", "warn about certificates expiring within this time (default: the renewal window)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or prom")
	cmd.Flags().StringVar(&o.out, "out", "", "with -o prom: write the metrics to FILE atomically (node-exporter textfile collector)")
	return cmd
}

func runStatus(cmd *cobra.Command, g *globalOpts, o *statusOpts) error {
	if err := checkFormat(o.output, "table", "json", "prom"); err != nil {
		return err
	}
	if o.out != "" && o.output != "prom" {
		return usageError("--out is for -o prom")
	}
	if o.out != "" {
		if err := checkParentDir("--out", o.out); err != nil {
			return err
		}
	}
	m, done, err := g.manager(cmd, "", noKeys)
	if err != nil {
		return statusError(err)
	}
	defer done()
	h, err := m.Health(o.within)
	if err != nil {
		return statusError(err)
	}
	if err := printHealth(cmd, o.output, o.out, h); err != nil {
		return err
	}
	if h.Level != lifecycle.OK {
		return exitCode(h.Level)
	}
	return nil
}

func printHealth(cmd *cobra.Command, format, out string, h lifecycle.Health) error {
	w := cmd.OutOrStdout()
	switch format {
	case "json":
		return writeJSON(w, struct {
			lifecycle.Health
			Status string `json:"status"`
		}{h, levelNames[h.Level]})
	case "prom":
		var b bytes.Buffer
		if err := lifecycle.WriteProm(&b, h); err != nil {
			return err
		}
		if out != "" {
			return fsutil.WriteFile(out, b.Bytes(), 0o644)
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tSTATE\tSERIAL\tNOT AFTER\tRENEW AT")
	for _, e := range h.Endpoints {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Role, e.Name, e.State, e.Serial,
			e.NotAfter.UTC().Format(time.RFC3339), e.RenewAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range h.Problems {
		fmt.Fprintf(w, "%s: %s\n", levelNames[p.Level], p.Detail)
	}
	_, err := fmt.Fprintf(w, "status: %s\n", levelNames[h.Level])
	return err
}

// Exit codes of status when it cannot judge the home, as a monitoring
// check reports them (Nagios plugin conventions).
const (
	exitCritical = 2
	exitUnknown  = 3
)

// statusError gives an error that kept status from judging the home the
// exit code a monitoring check needs: critical (2) when the inventory is
// missing, damaged or not private (or the home is not), unknown (3) for
// everything else, such as
// a lock held past --wait. Never 1, which means "warning".
func statusError(err error) error {
	code := exitUnknown
	switch {
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrSchema), errors.Is(err, store.ErrPermissions),
		errors.Is(err, store.ErrNotFound), errors.Is(err, errNoInventory), errors.Is(err, home.ErrUnsafe):
		code = exitCritical
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return &cliError{err: ce.err, hint: ce.hint, code: code}
	}
	return &cliError{err: err, code: code}
}
