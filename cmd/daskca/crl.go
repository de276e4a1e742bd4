package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/lifecycle"
)

type crlOpts struct {
	out          string
	der          bool
	nextUpdate   time.Duration
	passwordFile string
	output       string
}

func newCRLCmd(g *globalOpts) *cobra.Command {
	o := &crlOpts{nextUpdate: lifecycle.DefaultNextUpdate}
	cmd := &cobra.Command{
		Use:   "crl [--out FILE] [--der] [--next-update 7d]",
		Short: "Sign fresh CRLs and write them to the home's crl.pem (and to --out FILE)",
		Long: `Sign a CRL for the issuing CA (and, during a CA rotation, one for the other CA
in the bundle), listing every revoked certificate that has not expired, with a
CRL number that grows every time and a nextUpdate --next-update from now. The
CRLs are written to the home's crl.pem, the file to point daskca.crl-file at,
and with --out also to FILE ("-" for standard output; its directory must
exist), PEM unless --der. daskca crl takes no FILE argument: use --out.

Run it daily from cron so the CRL never passes its nextUpdate.`,
		Example: `  daskca crl
  daskca crl --out /srv/pki/dask.crl --der
  daskca crl --next-update 2d --out -`,
		Args:        exactArgs(0, ""),
		Annotations: map[string]string{outIsTheFile: "yes"},
		RunE:        func(cmd *cobra.Command, _ []string) error { return runCRL(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", `also write the CRLs to FILE ("-": standard output)`)
	f.BoolVar(&o.der, "der", false, "write --out as DER (one CRL; not during a CA rotation)")
	f.Var(durationValue(&o.nextUpdate), "next-update", "how long the CRL is current, e.g. 7d")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	f.StringVarP(&o.output, "output", "o", "text", "output format of the summary: text or json")
	return cmd
}

func runCRL(cmd *cobra.Command, g *globalOpts, o *crlOpts) error {
	if o.der && o.out == "" {
		return usageError("--der needs --out FILE")
	}
	if o.nextUpdate <= 0 {
		return usageError("--next-update must be positive")
	}
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	if o.out != "" && o.out != "-" {
		if err := checkParentDir("--out", o.out); err != nil {
			return err
		}
	}
	m, done, err := g.manager(cmd, o.passwordFile, withKeys)
	if err != nil {
		return err
	}
	defer done()
	crls, err := m.PublishCRL(o.nextUpdate)
	if err != nil {
		return err
	}
	if o.out != "" {
		data := lifecycle.CRLsPEM(crls)
		if o.der {
			if len(crls) != 1 {
				return withHint(fmt.Errorf("a DER file holds one CRL and a CA rotation needs %d", len(crls)), "write PEM (leave out --der) until daskca ca rotate finish")
			}
			data = crls[0].DER
		}
		if o.out == "-" {
			_, err := cmd.OutOrStdout().Write(data)
			return err
		}
		if err := fsutil.WriteFile(o.out, data, 0o644); err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	if o.output == "json" {
		return writeJSON(w, map[string]any{"file": m.Layout.CRL(), "out": o.out, "crls": crls})
	}
	for _, c := range crls {
		fmt.Fprintf(w, "CRL #%d of %s: %d revoked, next update %s\n", c.Number, c.Issuer, c.Revoked, c.NextUpdate.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "wrote %s\n", m.Layout.CRL())
	if o.out != "" {
		fmt.Fprintf(w, "wrote %s\n", o.out)
	}
	return nil
}
