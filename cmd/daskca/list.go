package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

type listOpts struct {
	role     string
	status   string
	expiring time.Duration
	output   string
}

func newListCmd(g *globalOpts) *cobra.Command {
	o := &listOpts{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificates in the inventory",
		Example: `  daskca list
  daskca list --role worker --status active
  daskca list --expiring-within 30d -o json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runList(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "only this role: scheduler, worker or client")
	f.StringVar(&o.status, "status", "", "only this status: active, revoked, superseded or expired")
	f.Var(durationValue(&o.expiring), "expiring-within", "only active certificates expiring within this time, e.g. 30d")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func runList(cmd *cobra.Command, g *globalOpts, o *listOpts) error {
	if o.role != "" {
		if _, err := identity.ParseRole(o.role); err != nil {
			return usageError("--role: %v", err)
		}
	}
	if o.status != "" && !slices.Contains(issue.Statuses, issue.Status(o.status)) {
		return usageError("--status %q: choose one of %s", o.status, joinStatuses(issue.Statuses))
	}
	if err := checkFormat(o.output, "table", "json"); err != nil {
		return err
	}
	_, s, err := g.openHome(true)
	if err != nil {
		return err
	}
	defer s.Close()
	now := g.now()
	p := newListPrinter(cmd, o.output)
	each := func(r store.Record) error {
		st := issue.StatusOf(r, now)
		if o.status != "" && st != issue.Status(o.status) || o.expiring > 0 && (st != issue.StatusActive || o.role != "" && r.Role != o.role) {
			return nil
		}
		return p.add(issue.NewInfo(r, now))
	}
	if o.expiring > 0 {
		// Only the slice of the expiry index between now and the horizon is read.
		err = s.ExpiringBetween(now, now.Add(o.expiring), each)
	} else {
		err = s.List(store.Filter{Role: o.role}, each)
	}
	if err != nil {
		return err
	}
	return p.close()
}

// listPrinter streams records as a table or a JSON array, never holding the
// whole inventory in memory.
type listPrinter struct {
	json bool
	n    int
	out  *bufio.Writer // one write per 64 KiB, not per cell
	tw   *tabwriter.Writer
	buf  bytes.Buffer
}

func newListPrinter(cmd *cobra.Command, format string) *listPrinter {
	p := &listPrinter{json: format == "json", out: bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)}
	if !p.json {
		p.tw = tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(p.tw, "ROLE\tNAME\tSTATUS\tNOT AFTER\tSERIAL\tNAMES")
	}
	return p
}

func (p *listPrinter) add(in issue.Info) error {
	p.n++
	if !p.json {
		names := strings.Join(append(append([]string{}, in.DNS...), in.IPs...), ",")
		_, err := fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Role, in.Name, in.Status,
			in.NotAfter.Format(time.RFC3339), in.Serial, names)
		if p.n%1024 == 0 {
			// Flushing a tabwriter ends its column block; flushing seldom keeps
			// columns aligned over long runs while memory stays bounded.
			return p.tw.Flush()
		}
		return err
	}
	p.buf.Reset()
	if p.n == 1 {
		p.buf.WriteString("[\n")
	} else {
		p.buf.WriteString(",\n")
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	p.buf.WriteString("  ")
	p.buf.Write(b)
	_, err = p.out.Write(p.buf.Bytes())
	return err
}

func (p *listPrinter) close() error {
	if !p.json {
		if err := p.tw.Flush(); err != nil {
			return err
		}
		return p.out.Flush()
	}
	out := "\n]\n"
	if p.n == 0 {
		out = "[]\n"
	}
	if _, err := fmt.Fprint(p.out, out); err != nil {
		return err
	}
	return p.out.Flush()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinStatuses(sts []issue.Status) string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
