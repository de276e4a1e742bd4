package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/lifecycle"
)

// caRotateOpts are the flags of the ca rotate phases; name, key type and
// validity are begin's.
type caRotateOpts struct {
	passwordFile, output string
	begin                lifecycle.BeginOptions
	keyType              string
}

// rotatePhase runs one phase of a rotation, returning what it re-issued.
type rotatePhase func(*cobra.Command, *lifecycle.Manager) (any, error)

func newCARotateCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate begin|issue|finish|abort|status",
		Short: "Replace the CA without downtime, in phases with an overlap bundle",
		Long: `Rotate replaces the CA in phases; each can be re-run safely (after a crash,
re-running the phase completes it; issue and abort record the re-issued
certificates in batches, then the phase):
  begin   create the new CA (same constraints and trust domain); every CA
          bundle written from now holds the old and the new root
  issue   the new CA signs from now on; every active certificate is re-issued
          under it, in place
  finish  bundles hold the new root alone; refused while an active
          certificate still depends on the old CA
  abort   go back to the old CA (re-issuing what the new one signed)
  status  show the phase and what is left
Between phases roll the changed files out to every endpoint: Dask started with
daskca's plugin (daskca run, or the emitted configuration) reloads them by
itself (see docs/operations.md).`,
		Args: exactArgs(0, "PHASE"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o := &caRotateOpts{}
	phase := func(name, short string, run rotatePhase) *cobra.Command {
		c := &cobra.Command{
			Use:   name,
			Short: short,
			Args:  exactArgs(0, ""),
			RunE:  func(cmd *cobra.Command, _ []string) error { return runCARotate(cmd, g, o, name, run) },
		}
		c.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
		if name != "status" {
			c.Flags().StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
		}
		return c
	}
	beginCmd := phase("begin", "Create the new CA and put old and new roots in every bundle", func(_ *cobra.Command, m *lifecycle.Manager) (any, error) {
		if o.keyType != "" {
			kt, err := ca.ParseKeyType(o.keyType)
			if err != nil {
				return nil, usageError("--key-type: %v", err)
			}
			o.begin.KeyType = kt
		}
		_, err := m.Begin(o.begin)
		return nil, err
	})
	beginCmd.Flags().StringVar(&o.begin.Name, "name", "", `name of the new CA (default: the old name with the next generation, e.g. "Acme Dask CA G2")`)
	beginCmd.Flags().StringVar(&o.keyType, "key-type", "", "key type of the new CA (default: the old CA's): "+keyTypeList())
	beginCmd.Flags().Var(durationValue(&o.begin.Validity), "validity", "lifetime of the new root (default: the old root's)")
	cmd.AddCommand(beginCmd,
		phase("issue", "Make the new CA sign and re-issue every active certificate under it", func(c *cobra.Command, m *lifecycle.Manager) (any, error) {
			_, res, err := m.Reissue(c.Context())
			return res, err
		}),
		phase("finish", "Drop the old CA from every bundle once nothing depends on it", func(_ *cobra.Command, m *lifecycle.Manager) (any, error) {
			_, err := m.Finish()
			return nil, err
		}),
		phase("abort", "Return to the old CA", func(c *cobra.Command, m *lifecycle.Manager) (any, error) {
			_, res, err := m.Abort(c.Context())
			return res, err
		}),
		phase("status", "Show the phase of the CA rotation and what is left", func(*cobra.Command, *lifecycle.Manager) (any, error) {
			return nil, nil
		}),
	)
	return cmd
}

func rotateError(err error) error {
	switch {
	case errors.Is(err, lifecycle.ErrOldCAInUse):
		return withHint(err, "run daskca ca rotate issue, roll the new certificates out, then finish")
	case errors.Is(err, lifecycle.ErrNoRotation):
		return withHint(err, "start one with daskca ca rotate begin")
	}
	return err
}

func printRotation(out io.Writer, format string, res any, rs lifecycle.RotationStatus) error {
	if format == "json" {
		return writeJSON(out, map[string]any{"rotation": rs, "certificates": res})
	}
	w := bufio.NewWriterSize(out, 64<<10) // a line per certificate
	if rr, ok := res.([]lifecycle.Renewal); ok {
		for _, r := range rr {
			fmt.Fprintf(w, "re-issued %s/%s: %s -> %s\n", r.Role, r.Name, r.OldSerial, r.NewSerial)
		}
	}
	fmt.Fprintf(w, "phase: %s\n", rs.Phase)
	if rs.Phase == lifecycle.PhaseNone && rs.Last != "" {
		fmt.Fprintf(w, "last rotation: %s at %s\n", rs.Last, rs.Changed.Format(time.RFC3339))
	}
	for _, c := range []*lifecycle.CAState{rs.OldCA, rs.NewCA} {
		if c != nil {
			fmt.Fprintf(w, "%s: %s (sha256 %.16s, until %s)\n", c.Kind, c.Subject, c.Fingerprint, c.NotAfter.Format(time.RFC3339))
		}
	}
	if rs.Phase != lifecycle.PhaseNone {
		fmt.Fprintf(w, "on the old CA: %d", len(rs.OnOld))
		if len(rs.OnOld) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(rs.OnOld, ", "))
		}
		fmt.Fprintf(w, "\non the new CA: %d\n", rs.OnNew)
	}
	fmt.Fprintf(w, "next: %s\n", rs.Next)
	return w.Flush()
}

// runCARotate runs the rotation phase name and prints where the rotation
// stands.
func runCARotate(cmd *cobra.Command, g *globalOpts, o *caRotateOpts, name string, run rotatePhase) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	if err := checkCAName(o.begin.Name); err != nil {
		return err
	}
	defer lessGC()() // issue and abort re-issue every certificate
	keys := withKeys
	switch name {
	case "status":
		keys = noKeys
	case "issue":
		keys = keysLater // decrypted while the run finds interrupted work and plans
	}
	m, done, err := g.manager(cmd, o.passwordFile, keys)
	if err != nil {
		return err
	}
	defer done()
	res, err := run(cmd, m)
	if errors.Is(err, ca.ErrWrongPassword) { // issue decrypts the keys as it goes
		return caError(err, m.Layout)
	}
	if err != nil {
		return rotateError(err)
	}
	rs, err := m.RotationStatus()
	if err != nil {
		return err
	}
	return printRotation(cmd.OutOrStdout(), o.output, res, rs)
}
