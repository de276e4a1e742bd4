package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/transport/identity"
)

type issueOpts struct {
	dns          []string
	ips          []string
	validity     time.Duration
	keyType      string
	force        bool
	passwordFile string
	output       string
}

func newIssueCmd(g *globalOpts) *cobra.Command {
	o := &issueOpts{}
	cmd := &cobra.Command{
		Use:   "issue ROLE NAME",
		Short: "Issue a certificate for a scheduler, worker or client",
		Long: `Issue a certificate for one Dask endpoint. ROLE is scheduler, worker or client.
Schedulers and workers get serverAuth and clientAuth, clients clientAuth only.
The certificate, its key (mode 0600) and the CA bundle are written under
$DASKCA_HOME/certs/ROLE/NAME/ and recorded in the inventory.`,
		Example: `  daskca issue scheduler sched01 --dns sched01.dask.internal --ip 10.0.0.5
  daskca issue worker node07 --dns node07.dask.internal --ip 10.0.1.7 --validity 90d
  daskca issue client alice -o json`,
		Args: exactArgs(2, "ROLE NAME"),
		RunE: func(cmd *cobra.Command, args []string) error { return runIssue(cmd, g, o, args[0], args[1]) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.dns, "dns", nil, "DNS name for the certificate (repeatable or comma-separated)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP address for the certificate (repeatable or comma-separated)")
	f.Var(durationValue(&o.validity), "validity", "lifetime, e.g. 90d, 1y or 2160h (default 365d)")
	f.StringVar(&o.keyType, "key-type", string(ca.ECP256), "key type: "+keyTypeList())
	f.BoolVar(&o.force, "force", false, "replace an active certificate of the same role and name")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runIssue(cmd *cobra.Command, g *globalOpts, o *issueOpts, roleArg, name string) error {
	role, err := identity.ParseRole(roleArg)
	if err != nil {
		return usageError("%v", err)
	}
	kt, err := ca.ParseKeyType(o.keyType)
	if err != nil {
		return usageError("--key-type: %v", err)
	}
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	req := issue.Request{Role: role, Name: name, DNS: o.dns, IPs: o.ips, Validity: o.validity, KeyType: kt, Force: o.force}
	if err := req.Validate(); err != nil {
		return err
	}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	authority, err := g.loadCA(l, o.passwordFile, cmd)
	if err != nil {
		return err
	}
	s, err := g.openStore(l, false)
	if err != nil {
		return err
	}
	defer s.Close()
	is := &issue.Issuer{CA: authority, Store: s, Layout: l, Now: g.now, Actor: g.actor}
	rec, err := is.Issue(cmd.Context(), req)
	if err != nil {
		return issueError(err)
	}
	return printInfo(cmd, o.output, issue.NewInfo(rec, g.now()))
}

// issueError adds the fix to the issuing errors users can fix.
func issueError(err error) error {
	switch {
	case errors.Is(err, issue.ErrActive):
		return withHint(err, "pass --force to replace it; the old certificate is then marked superseded")
	case errors.Is(err, ca.ErrOutlivesIssuer):
		return withHint(err, "choose a shorter --validity")
	case errors.Is(err, ca.ErrNameConstraint):
		return withHint(err, "see the permitted names with daskca ca show")
	}
	return err
}
