package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// bulkOpts are the flags of bulk issuance.
type bulkOpts struct {
	hosts     string
	hostsFile string
	ipRange   string
	spec      string
	dryRun    bool
}

func (b *bulkOpts) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&b.hosts, "hosts", "", "Slurm hostlist of endpoints, e.g. 'node[001-512].dask.internal'")
	f.StringVar(&b.hostsFile, "hosts-file", "", "file of endpoints, one 'NAME [dns ...] [ip ...]' per line")
	f.StringVar(&b.ipRange, "ip-range", "", "give each host the next address of this prefix, e.g. 10.0.0.0/22")
	f.StringVar(&b.spec, "spec", "", "YAML file describing every certificate of a cluster")
	f.BoolVar(&b.dryRun, "dry-run", false, "print what would be issued, skipped or refused, and change nothing")
}

// isBulk reports whether the command plans instead of issuing one certificate.
func (b *bulkOpts) isBulk() bool {
	return b.hosts != "" || b.hostsFile != "" || b.spec != "" || b.dryRun
}

// issueArgs checks the positional arguments each form of issue takes.
func issueArgs(o *issueOpts) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case o.spec != "":
			return exactArgs(0, "--spec FILE")(cmd, args)
		case o.hosts != "" || o.hostsFile != "":
			return exactArgs(1, "ROLE --hosts LIST | --hosts-file FILE")(cmd, args)
		}
		return exactArgs(2, "ROLE NAME")(cmd, args)
	}
}

// bulkRequests builds the requests of a bulk command from its flags.
func bulkRequests(cmd *cobra.Command, o *issueOpts, args []string) ([]issue.Request, error) {
	sources := 0
	for _, s := range []string{o.hosts, o.hostsFile, o.spec} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		return nil, usageError("give one of --hosts, --hosts-file and --spec")
	case sources == 1 && (len(o.dns) > 0 || len(o.ips) > 0):
		return nil, usageError("--dns and --ip name one endpoint; with many, use --ip-range or a hosts file")
	case o.ipRange != "" && o.hosts == "" && o.hostsFile == "":
		return nil, usageError("--ip-range goes with --hosts or --hosts-file (in a spec, use ip_range:)")
	case o.spec != "" && (cmd.Flags().Changed("validity") || cmd.Flags().Changed("key-type")):
		return nil, usageError("--validity and --key-type are set in the spec (defaults: or per endpoint)")
	}
	if o.spec != "" {
		reqs, err := issue.LoadSpec(o.spec)
		return withForce(reqs, o.force), err
	}
	base, err := baseRequest(o, args[0])
	if err != nil {
		return nil, err
	}
	switch {
	case o.hosts != "":
		reqs, err := issue.HostRequests(base, o.hosts, o.ipRange)
		if err != nil {
			return nil, usageError("--hosts: %w", err)
		}
		return reqs, nil
	case o.hostsFile != "":
		f, err := os.Open(o.hostsFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return issue.HostsFileRequests(base, f, o.ipRange)
	}
	base.Name, base.DNS, base.IPs = args[1], o.dns, o.ips // --dry-run of one certificate
	return []issue.Request{base}, nil
}

func baseRequest(o *issueOpts, roleArg string) (issue.Request, error) {
	role, err := identity.ParseRole(roleArg)
	if err != nil {
		return issue.Request{}, usageError("%v", err)
	}
	kt, err := ca.ParseKeyType(o.keyType)
	if err != nil {
		return issue.Request{}, usageError("--key-type: %v", err)
	}
	return issue.Request{Role: role, Validity: o.validity, KeyType: kt, Force: o.force}, nil
}

func withForce(reqs []issue.Request, force bool) []issue.Request {
	for i := range reqs {
		reqs[i].Force = force
	}
	return reqs
}

// runBulkIssue plans the requests, prints the plan for --dry-run, or
// issues them with a progress bar.
func runBulkIssue(cmd *cobra.Command, g *globalOpts, o *issueOpts, args []string) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	defer lessGC()()
	reqs, err := bulkRequests(cmd, o, args)
	if err != nil {
		return err
	}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	// A dry run needs only the public CA and a read-only inventory: it
	// asks for no password and takes no write lock.
	authority, err := ca.LoadPublic(l.CADir())
	if err != nil {
		return caError(err, l)
	}
	var s *store.Store
	if o.dryRun {
		s, err = g.openStore(l, true)
	} else {
		s, err = g.openWriter(l)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	is := &issue.Issuer{CA: authority, Store: s, Layout: l, Now: g.now, Actor: g.actor, Logf: g.logf}
	plan, err := is.Plan(reqs)
	if err != nil {
		return err
	}
	if o.dryRun {
		return printPlan(cmd, o.output, plan)
	}
	if n := plan.Count(issue.ActionRefuse); n > 0 {
		hint := "see every refusal with --dry-run"
		if refusedActive(plan) {
			hint += "; pass --force to replace active certificates that differ"
		}
		return withHint(fmt.Errorf("%d of %d requests refused (first: %s); nothing was issued", n, len(plan.Items), firstRefusal(plan)), "%s", hint)
	}
	// With nothing to sign (every request skipped), the CA key is not
	// needed: no password, and no key derivation. Otherwise IssueBulk loads
	// it while it generates the first keys.
	loadCA := func() (*ca.Authority, error) { return g.loadCA(l, o.passwordFile, cmd) }
	return issuePlan(cmd, is, plan, o.output, l.Dir, loadCA)
}

// bulkGCPercent is the garbage collector's target while a command works
// on many certificates (bulk issue, renew, the re-issue of a rotation):
// its live heap is small and bounded (the records it plans with, two
// batches of keys and certificates), so letting it grow to five times that
// before collecting costs some megabytes and saves a tenth of the CPU
// time or more.
const bulkGCPercent = 400

// lessGC sets bulkGCPercent for a command that works on many certificates
// and returns what restores the previous target.
func lessGC() func() {
	old := debug.SetGCPercent(bulkGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// issuePlan carries out a clean plan, streaming JSON lines or drawing a
// progress bar, then prints a summary.
func issuePlan(cmd *cobra.Command, is *issue.Issuer, plan issue.Plan, format, homeDir string, loadCA func() (*ca.Authority, error)) error {
	todo := plan.Count(issue.ActionIssue)
	bar := newProgress(cmd.ErrOrStderr(), todo)
	enc := json.NewEncoder(cmd.OutOrStdout())
	var outErr error
	start := time.Now()
	// openWriter finished what an interrupted run left, under this lock.
	res, err := is.IssueBulk(cmd.Context(), plan, issue.BulkOptions{LoadCA: loadCA, Recovered: true, OnIssued: func(r store.Record) {
		bar.add(1)
		if format == "json" && outErr == nil {
			outErr = enc.Encode(issue.NewInfo(r, is.Now()))
		}
	}})
	bar.finish()
	if err != nil {
		return withHint(fmt.Errorf("%d of %d certificates issued before: %w", res.Issued, todo, err),
			"certificates of completed batches are kept; fix the cause and run the same command again")
	}
	if format == "json" {
		return outErr
	}
	el := time.Since(start)
	fmt.Fprintf(cmd.OutOrStdout(), "issued %d certificates, skipped %d (identical and valid) in %.2fs (%.0f/s); files under %s\n",
		res.Issued, res.Skipped, el.Seconds(), float64(res.Issued)/max(el.Seconds(), 1e-9), homeDir+"/certs")
	return nil
}

// planLine is the JSON form of one plan item.
type planLine struct {
	Action        string   `json:"action"`
	Role          string   `json:"role"`
	Name          string   `json:"name"`
	DNS           []string `json:"dns"`
	IPs           []string `json:"ips"`
	Reason        string   `json:"reason,omitempty"`
	CurrentSerial string   `json:"current_serial,omitempty"`
}

func newPlanLine(it issue.PlanItem) planLine {
	pl := planLine{Action: string(it.Action), Role: string(it.Request.Role), Name: it.Request.Name,
		DNS: nonNilStrings(it.Request.DNS), IPs: nonNilStrings(it.Request.IPs), Reason: it.Reason}
	if it.Current != nil {
		pl.CurrentSerial = it.Current.Serial
	}
	return pl
}

// printPlan prints a plan as a table or JSON lines; a plan that refuses
// anything exits 1, so scripts can gate on a dry run.
func printPlan(cmd *cobra.Command, format string, plan issue.Plan) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := json.NewEncoder(bw)
		for _, it := range plan.Items {
			if err := enc.Encode(newPlanLine(it)); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	} else {
		tw := newTable(w)
		fmt.Fprintln(tw, "ACTION\tROLE\tNAME\tNAMES\tREASON")
		for i, it := range plan.Items {
			names := strings.Join(append(append([]string{}, it.Request.DNS...), it.Request.IPs...), ",")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Action, it.Request.Role, it.Request.Name, names, it.Reason)
			if i%1024 == 1023 {
				_ = tw.Flush()
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "plan: %d to issue, %d to skip, %d refused (dry run: nothing changed)\n",
			plan.Count(issue.ActionIssue), plan.Count(issue.ActionSkip), plan.Count(issue.ActionRefuse))
	}
	if n := plan.Count(issue.ActionRefuse); n > 0 {
		return fmt.Errorf("the plan refuses %d of %d requests", n, len(plan.Items))
	}
	return nil
}

// firstRefusal describes the first refused request of a plan.
func firstRefusal(plan issue.Plan) string {
	for _, it := range plan.Items {
		if it.Action == issue.ActionRefuse {
			return fmt.Sprintf("%s %.64s: %s", it.Request.Role, it.Request.Name, it.Reason)
		}
	}
	return ""
}

// refusedActive reports whether a refusal is one --force overrides: an
// active certificate that differs from the request. Other refusals (an
// invalid name or host, a duplicate) --force cannot help.
func refusedActive(plan issue.Plan) bool {
	for _, it := range plan.Items {
		if it.Action == issue.ActionRefuse && strings.HasPrefix(it.Reason, issue.ErrActive.Error()) {
			return true
		}
	}
	return false
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
