package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
)

type issueOpts struct {
	dns          []string
	ips          []string
	validity     time.Duration
	keyType      string
	force        bool
	passwordFile string
	output       string
	bulkOpts
}

func newIssueCmd(g *globalOpts) *cobra.Command {
	o := &issueOpts{}
	cmd := &cobra.Command{
		Use:   "issue ROLE NAME | issue ROLE --hosts LIST | --hosts-file FILE | issue --spec FILE",
		Short: "Issue a certificate for a scheduler, worker or client",
		Long: `Issue a certificate for one Dask endpoint. ROLE is scheduler, worker or client.
Schedulers and workers get serverAuth and clientAuth, clients clientAuth only.
The certificate, its key (mode 0600) and the CA bundle are written under
$DASKCA_HOME/certs/ROLE/NAME/ and recorded in the inventory.

Bulk issuance names many endpoints at once: --hosts takes a Slurm hostlist
(each host's first label is the name, the whole host name its DNS SAN),
--hosts-file a file of "NAME [dns ...] [ip ...]" lines ('#' comments),
--spec a YAML file describing every certificate of a cluster (format in
docs/performance.md). --ip-range gives the hosts IP SANs
from a prefix, in order. Requests with an identical active certificate are
skipped, so re-running the same command is safe; ones that conflict with an
active certificate are refused unless --force. --dry-run prints the plan
(issue, skip or refuse, with the reason) and changes nothing. Keys are
generated and signed on every core and recorded in batched transactions;
a progress bar shows on a terminal, and -o json prints one object per
issued certificate, one per line.`,
		Example: `  daskca issue scheduler sched01 --dns sched01.dask.internal --ip 10.0.0.5
  daskca issue worker node07 --dns node07.dask.internal --ip 10.0.1.7 --validity 90d
  daskca issue client alice -o json
  daskca issue worker --hosts 'node[001-512].dask.internal' --ip-range 10.0.0.0/22
  daskca issue worker --hosts-file hosts.txt
  daskca issue --spec cluster.yaml --dry-run`,
		Args: issueArgs(o),
		RunE: func(cmd *cobra.Command, args []string) error { return runIssue(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.dns, "dns", nil, "DNS name for the certificate (repeatable or comma-separated)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP address for the certificate (repeatable or comma-separated)")
	f.Var(durationValue(&o.validity), "validity", "lifetime, e.g. 90d, 1y or 2160h (default 365d)")
	f.StringVar(&o.keyType, "key-type", string(ca.ECP256), "key type: "+keyTypeList())
	f.BoolVar(&o.force, "force", false, "replace an active certificate of the same role and name")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.bulkOpts.addFlags(cmd)
	return cmd
}

// runIssue issues one certificate (ROLE NAME) or, with --hosts,
// --hosts-file or --spec, many.
func runIssue(cmd *cobra.Command, g *globalOpts, o *issueOpts, args []string) error {
	if o.isBulk() {
		return runBulkIssue(cmd, g, o, args)
	}
	return runIssueOne(cmd, g, o, args[0], args[1])
}

// runIssueOne issues the certificate of one endpoint.
func runIssueOne(cmd *cobra.Command, g *globalOpts, o *issueOpts, roleArg, name string) error {
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
	// Issue finishes what an interrupted run left before it signs.
	is := &issue.Issuer{CA: authority, Store: s, Layout: l, Now: g.now, Actor: g.actor, Logf: g.logf}
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
