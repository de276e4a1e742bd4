package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/store"
)

type revokeOpts struct {
	reason, passwordFile, output string
}

func newRevokeCmd(g *globalOpts) *cobra.Command {
	o := &revokeOpts{}
	names := make([]string, len(lifecycle.Reasons))
	for i, r := range lifecycle.Reasons {
		names[i] = string(r)
	}
	cmd := &cobra.Command{
		Use:   "revoke NAME|ROLE/NAME|SERIAL",
		Short: "Revoke a certificate and publish a fresh CRL to the home's crl.pem",
		Long: `Revoke marks a certificate revoked in the inventory and rewrites the home's
crl.pem (one CRL per CA in the bundle), which endpoints running daskca's
transport load as daskca.crl-file and reload by themselves: the revoked
certificate is refused at its next handshake. Real Dask does not read CRLs.

Reasons are RFC 5280 names: ` + strings.Join(names, ", ") + `.
Naming an endpoint (NAME or ROLE/NAME) also revokes its superseded
certificates that have not expired: a renewal leaves the one it replaced
valid, and revoking node07 means every certificate node07 could present.
Naming a serial revokes that certificate alone.

A certificate revoked for cessationOfOperation or superseded counts as out of
use in daskca status; for any other reason, issue a replacement.`,
		Example: `  daskca revoke node07 --reason keyCompromise
  daskca revoke worker/node03 --reason cessationOfOperation
  daskca revoke 3f:2a:91:... -o json`,
		Args: exactArgs(1, "NAME|ROLE/NAME|SERIAL"),
		RunE: func(cmd *cobra.Command, args []string) error { return runRevoke(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVar(&o.reason, "reason", "unspecified", "RFC 5280 reason: "+strings.Join(names, ", "))
	cmd.Flags().StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password (to sign the CRL)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runRevoke(cmd *cobra.Command, g *globalOpts, o *revokeOpts, name string) error {
	r, err := lifecycle.ParseReason(o.reason)
	if err != nil {
		return usageError("--reason: %v", err)
	}
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	m, done, err := g.manager(cmd, o.passwordFile, withKeys)
	if err != nil {
		return err
	}
	defer done()
	rev, err := m.RevokeEndpoint(name, r)
	rec := rev.Record
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
		return withHint(err, "nothing to do; run daskca crl to publish the CRL again")
	case errors.Is(err, issue.ErrAmbiguous), errors.Is(err, issue.ErrNotFound):
		return withHint(err, "name it as ROLE/NAME or by serial (see daskca list)")
	case err != nil && rec.Serial == "":
		return err
	}
	if perr := printInfo(cmd, o.output, issue.NewInfo(rec, g.now())); perr != nil {
		return perr
	}
	if err == nil && o.output == "text" {
		for _, e := range rev.Earlier {
			fmt.Fprintf(cmd.OutOrStdout(), "also revoked %s/%s's earlier certificate %s (superseded, valid until %s)\n",
				e.Role, e.Name, e.Serial, e.NotAfter.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "published the CRL to %s\n", m.Layout.CRL())
	}
	return err
}
