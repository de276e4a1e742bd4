package main

import (
	"fmt"
	"log"
	"net"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/enrol"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

type serveOpts struct {
	listen       string
	dns          []string
	ips          []string
	passwordFile string
}

func newServeCmd(g *globalOpts) *cobra.Command {
	o := &serveOpts{}
	cmd := &cobra.Command{
		Use:   "serve --listen HOST:PORT [--dns NAME ...] [--ip ADDR ...]",
		Short: "Run the enrolment server that daskca enroll talks to",
		Long: `Serve answers daskca enroll over HTTPS (API in docs/enrollment.md). It
presents a certificate from the CA for --dns and --ip (made at start, its key
only in memory), decrypts the CA key once, and records every certificate it
signs in the inventory, with the token's use, in batched transactions. It
holds the inventory only while it works, so daskca token create and other
commands run beside it. Hosts renew over mutual TLS with their current
certificate. Failed attempts are rate-limited per client address; every
decision is in the audit log. Stop it with Ctrl-C or SIGTERM: requests in
flight finish first.`,
		Example: `  daskca serve --listen 0.0.0.0:8443 --dns ca.dask.internal --password-file /run/secrets/ca-pw
  daskca serve --listen 127.0.0.1:8443 --ip 127.0.0.1`,
		Args: exactArgs(0, "--listen HOST:PORT"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "address to listen on, HOST:PORT")
	f.StringSliceVar(&o.dns, "dns", nil, "DNS name of the server, put in its certificate (repeatable)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP address of the server, put in its certificate (repeatable)")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the CA password")
	return cmd
}

func runServe(cmd *cobra.Command, g *globalOpts, o *serveOpts) error {
	if o.listen == "" {
		return usageError("--listen HOST:PORT is required")
	}
	var dns []string
	for _, d := range o.dns {
		n, err := issue.NormalizeDNS(d)
		if err != nil {
			return usageError("--dns: %v", err)
		}
		dns = append(dns, n)
	}
	var ips []net.IP
	for _, s := range o.ips {
		ip, err := issue.ParseIP(s)
		if err != nil {
			return usageError("--ip: %v", err)
		}
		ips = append(ips, ip)
	}
	if len(dns)+len(ips) == 0 {
		return usageError("give the server's names: --dns NAME and/or --ip ADDR (hosts enrolling check them)")
	}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	// Open the inventory once to fail early; the server then opens it
	// while it works and lets it go when idle, so token create and other
	// commands can run beside it.
	s, err := g.openStore(l, false)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	openStore := func() (*store.Store, error) { return g.openStore(l, false) }
	is := &issue.Issuer{Layout: l, Now: g.now, Actor: g.actor}
	// enrol.New loads the CA once it has read the rotation state it
	// guards on.
	loadCA := func() (*ca.Authority, error) { return g.loadCA(l, o.passwordFile, cmd) }
	logger := log.New(cmd.ErrOrStderr(), "daskca serve: ", log.LstdFlags)
	srv, err := enrol.New(enrol.Config{Issuer: is, LoadCA: loadCA, OpenStore: openStore, DNS: dns, IPs: ips, CRLFile: l.CRL(), Log: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	fp := srv.RootFingerprint()
	logger.Printf("listening on https://%s (CA root sha256 %x)", ln.Addr(), fp[:])
	defer debug.SetGCPercent(debug.SetGCPercent(enrol.GCPercent))
	err = srv.Serve(cmd.Context(), ln)
	logger.Printf("stopped")
	return err
}
