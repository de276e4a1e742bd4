package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/password"
)

// newPasswordEnv names the environment variable holding the new CA password
// for `ca passwd`.
const newPasswordEnv = "DASKCA_NEW_PASSWORD"

type caPasswdOpts struct {
	passwordFile, newPasswordFile string
}

func newCAPasswdCmd(g *globalOpts) *cobra.Command {
	o := &caPasswdOpts{}
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Re-encrypt the CA keys with a new password",
		Long: `Passwd decrypts the CA keys with the current password (--password-file,
DASKCA_PASSWORD or a prompt) and encrypts them again with a new one
(--new-password-file, ` + newPasswordEnv + ` or a prompt, asked twice), at
least 8 characters. The keys of a CA in rotation (ca-next, ca-previous) and
of retired CAs change too, so one password keeps opening them all. An
insecure CA (init --insecure) gets its keys encrypted. Passwords are never
taken from the command line.`,
		Example: `  daskca ca passwd
  daskca ca passwd --password-file old.pw --new-password-file new.pw`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAPasswd(cmd, g, o) },
	}
	cmd.Flags().StringVar(&o.passwordFile, "password-file", "", "file whose first line is the current CA password")
	cmd.Flags().StringVar(&o.newPasswordFile, "new-password-file", "", "file whose first line is the new CA password")
	return cmd
}

func runCAPasswd(cmd *cobra.Command, g *globalOpts, o *caPasswdOpts) error {
	// The write lock keeps a CA rotation from moving the directories away
	// while their keys are rewritten.
	l, s, err := g.openHome(false)
	if err != nil {
		return err
	}
	defer s.Close()
	dirs, err := caDirs(l.CADir(), l.CANextDir(), l.CAPreviousDir(), l.CARetiredDir("*"))
	if err != nil {
		return err
	}
	old, err := g.caPassword(cmd, o.passwordFile, dirs...)
	if err != nil {
		return err
	}
	src := g.passwordSource(o.newPasswordFile, cmd)
	src.Env, src.Label = newPasswordEnv, "New CA password"
	pw, err := src.ReadNew()
	if errors.Is(err, password.ErrNone) {
		return withHint(err, "pass --new-password-file FILE or set %s", newPasswordEnv)
	}
	if err != nil {
		return err
	}
	for _, d := range dirs { // check every old password before changing any
		if _, err := ca.Load(d, old); err != nil {
			return caError(err, l)
		}
	}
	for _, d := range dirs {
		if err := ca.ChangePassword(d, old, pw); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted the keys of %d CA director%s with the new password\n", len(dirs), plural(len(dirs), "y", "ies"))
	return nil
}

// caDirs lists the CA directories that exist and hold a key; pattern
// entries may contain a glob.
func caDirs(patterns ...string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, err
		}
		for _, d := range matches {
			if _, err := ca.IsEncrypted(d); err == nil {
				out = append(out, d)
			}
		}
	}
	if len(out) == 0 {
		return nil, withHint(fmt.Errorf("no CA key in %s", patterns[0]), "restore the CA directory from a backup")
	}
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
