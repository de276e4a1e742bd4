package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/password"
	"github.com/daskca/daskca/issue"
)

func newCACmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Inspect and manage the CA itself",
		Args:  exactArgs(0, "SUBCOMMAND"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCAShowCmd(g), newCAExportRootKeyCmd(g), newCAForgetRootKeyCmd(g), newCARotateCmd(g))
	cmd.AddCommand(newCAPasswdCmd(g))
	return cmd
}

type caShowOpts struct {
	output string
}

func newCAShowCmd(g *globalOpts) *cobra.Command {
	o := &caShowOpts{}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the CA chain: subjects, fingerprints, constraints, expiry, key storage",
		Args:  exactArgs(0, ""),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runCAShow(cmd, g, o) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runCAShow(cmd *cobra.Command, g *globalOpts, o *caShowOpts) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	a, err := ca.LoadPublic(l.CADir())
	if err != nil {
		return caError(err, l)
	}
	enc, err := ca.IsEncrypted(l.CADir())
	if err != nil {
		return caError(err, l)
	}
	return printCA(cmd, o.output, issue.DescribeCA(a, enc, ca.HasRootKey(l.CADir())))
}

type caExportRootKeyOpts struct {
	out, passwordFile string
	force             bool
}

func newCAExportRootKeyCmd(g *globalOpts) *cobra.Command {
	o := &caExportRootKeyOpts{}
	cmd := &cobra.Command{
		Use:   "export-root-key --out FILE",
		Short: "Write the root CA key, encrypted with the CA password, for offline keeping",
		Example: `  daskca ca export-root-key --out /media/offline/acme-root.key
  daskca ca forget-root-key --yes`,
		Args:        exactArgs(0, "--out FILE"),
		Annotations: map[string]string{outIsTheFile: "yes"},
		RunE:        func(cmd *cobra.Command, _ []string) error { return runCAExportRootKey(cmd, g, o) },
	}
	cmd.Flags().StringVar(&o.out, "out", "", "file to write the encrypted root key to (mode 0600)")
	cmd.Flags().StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite --out if it exists")
	return cmd
}

func runCAExportRootKey(cmd *cobra.Command, g *globalOpts, o *caExportRootKeyOpts) error {
	if o.out == "" {
		return usageError("export-root-key needs --out FILE")
	}
	if !o.force && fileExists(o.out) {
		return withHint(fmt.Errorf("%s: %w", o.out, fsutil.ErrExists), "pass --force to overwrite it")
	}
	if err := checkParentDir("--out", o.out); err != nil {
		return err
	}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	a, pw, err := g.loadCAForExport(l, o.passwordFile, cmd)
	if err != nil {
		return err
	}
	pemKey, err := a.ExportRootKey(pw)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(o.out, pemKey, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote the encrypted root key to %s\n", o.out)
	return nil
}

// loadCAForExport loads the CA and returns the password to encrypt the
// exported root key with: the CA password, or for a CA stored without one
// (init --insecure-no-password) a new password, asked for twice on a
// terminal.
func (g *globalOpts) loadCAForExport(l home.Layout, pwFile string, cmd *cobra.Command) (*ca.Authority, []byte, error) {
	enc, err := ca.IsEncrypted(l.CADir())
	if err != nil {
		return nil, nil, caError(err, l)
	}
	if enc {
		pw, err := g.passwordSource(pwFile, cmd).Read()
		if errors.Is(err, password.ErrNone) {
			return nil, nil, withHint(err, "pass --password-file FILE or set %s", password.EnvVar)
		}
		if err != nil {
			return nil, nil, err
		}
		a, err := ca.Load(l.CADir(), pw)
		return a, pw, caError(err, l)
	}
	src := g.passwordSource(pwFile, cmd)
	src.Label = "Password for the exported root key"
	pw, err := src.ReadNew()
	if errors.Is(err, password.ErrNone) {
		return nil, nil, withHint(errors.New("this CA's keys are stored without a password, and the exported root key needs one"),
			"pass --password-file FILE or set %s to the password to encrypt the exported key with (daskca ca passwd encrypts the CA's own keys too)", password.EnvVar)
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := ca.Load(l.CADir(), nil)
	return a, pw, caError(err, l)
}

type caForgetRootKeyOpts struct {
	yes bool
}

func newCAForgetRootKeyCmd(g *globalOpts) *cobra.Command {
	o := &caForgetRootKeyOpts{}
	cmd := &cobra.Command{
		Use:   "forget-root-key --yes",
		Short: "Remove the root CA key from the home (needs an intermediate; export it first)",
		Args:  exactArgs(0, "--yes"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runCAForgetRootKey(cmd, g, o) },
	}
	cmd.Flags().BoolVar(&o.yes, "yes", false, "confirm that the root key has been exported")
	return cmd
}

func runCAForgetRootKey(cmd *cobra.Command, g *globalOpts, o *caForgetRootKeyOpts) error {
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	if !o.yes {
		return withHint(fmt.Errorf("refusing to remove the root key without --yes"),
			"export it first with daskca ca export-root-key --out FILE, then pass --yes")
	}
	if err := ca.ForgetRootKey(l.CADir()); err != nil {
		return withHint(err, "only a CA created with --intermediate can sign without its root key")
	}
	fmt.Fprintln(cmd.OutOrStdout(), "removed the root key from", l.CADir())
	return nil
}
