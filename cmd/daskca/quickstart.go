package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// quickstartPasswordFile is where quickstart keeps the demo CA's random
// password, so that the demo's later commands can use --password-file.
const quickstartPasswordFile = "ca-password"

type quickstartOpts struct {
	port int
}

func newQuickstartCmd(g *globalOpts) *cobra.Command {
	o := &quickstartOpts{}
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Create a demo PKI for localhost: a CA, a scheduler, two workers and a client",
		Long: `Create a demo PKI for a Dask cluster on this machine: a CA and certificates for
a scheduler, two workers and a client, valid for localhost, 127.0.0.1 and ::1.
The CA key is encrypted with a random password written to HOME/ca-password
(mode 0600) so the demo can be driven without prompts. For production, use
daskca init and daskca issue.

It also writes the Dask configurations (HOME/scheduler.yaml, worker1.yaml,
worker2.yaml), daskca's Dask plugin (HOME/daskca_plugin.py) and a client
script (HOME/client.py), and ends with the commands that start the demo
cluster with daskca run and compute on it. Those commands call daskca the
way this run was started (go run ./cmd/daskca, a path, or daskca on PATH)
and the first Python that imports distributed ($DASKCA_PYTHON, python3 on
PATH, /usr/bin/python3).`,
		Example: `  go run ./cmd/daskca quickstart --home ./demo
  daskca quickstart --home ./demo --port 8790`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runQuickstart(cmd, g, o) },
	}
	cmd.Flags().IntVar(&o.port, "port", 8786, "the demo scheduler's port on 127.0.0.1")
	return cmd
}

func runQuickstart(cmd *cobra.Command, g *globalOpts, o *quickstartOpts) error {
	if o.port < 1 || o.port > 65535 {
		return usageError("--port %d: choose a TCP port, 1 to 65535", o.port)
	}
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := checkFreshHome(l); err != nil {
		return err
	}
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	pw = []byte(hex.EncodeToString(pw))
	a, err := ca.New(ca.Options{Name: "daskca quickstart CA", TrustDomain: "quickstart.daskca.internal", Now: g.now})
	if err != nil {
		return err
	}
	if err := createHome(l, a, pw); err != nil {
		return err
	}
	pwPath := filepath.Join(l.Dir, quickstartPasswordFile)
	if err := fsutil.WriteFile(pwPath, append(pw, '\n'), 0o600); err != nil {
		return err
	}
	s, err := g.openStore(l, false)
	if err != nil {
		return err
	}
	defer s.Close()
	is := &issue.Issuer{CA: a, Store: s, Layout: l, Now: g.now, Actor: g.actor, Logf: g.logf}
	local := []string{"127.0.0.1", "::1"}
	for _, r := range []issue.Request{
		{Role: identity.Scheduler, Name: "scheduler", DNS: []string{"localhost"}, IPs: local},
		{Role: identity.Worker, Name: "worker1", DNS: []string{"localhost"}, IPs: local},
		{Role: identity.Worker, Name: "worker2", DNS: []string{"localhost"}, IPs: local},
		{Role: identity.Client, Name: "client", DNS: []string{"localhost"}, IPs: local},
	} {
		if _, err := is.Issue(cmd.Context(), r); err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "created a demo CA and 4 certificates in %s\n", l.Dir)
	fmt.Fprintf(w, "the CA password is in %s (mode 0600)\n\n", pwPath)
	p := newListPrinter(cmd, "table")
	err = s.List(store.Filter{}, func(r store.Record) error { return p.add(issue.NewInfo(r, g.now())) })
	if err != nil {
		return err
	}
	if err := p.close(); err != nil {
		return err
	}
	sched := fmt.Sprintf("tls://127.0.0.1:%d", o.port)
	if err := writeDemoFiles(s, l, sched, g.now()); err != nil {
		return err
	}
	return printNextSteps(w, g, l.Dir, sched)
}
