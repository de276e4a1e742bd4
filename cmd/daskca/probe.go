package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/duration"
	"github.com/daskca/daskca/transport"
)

// Probe exit codes, as a monitoring check's.
const (
	probeOK      = 0
	probeWarning = 1
	probeFailed  = 2
)

// defaultWarnWithin is when probe starts warning about the peer's expiry.
const defaultWarnWithin = 30 * duration.Day

type probeOpts struct {
	config     string
	role       string
	warnWithin time.Duration
	timeout    time.Duration
	output     string
}

func newProbeCmd(g *globalOpts) *cobra.Command {
	o := &probeOpts{warnWithin: defaultWarnWithin, timeout: transport.DefaultProbeTimeout}
	cmd := &cobra.Command{
		Use:   "probe ADDRESS [--config client.yaml] [--warn-within 30d] [-o text|json]",
		Short: "Check a Dask endpoint over mutual TLS, like a monitoring check",
		Long: `Probe connects to a Dask scheduler or worker (daskca's or real Dask) with a
certificate from the configuration, and reports the TLS handshake (version,
cipher, the peer's chain: subject, role, SANs, serial, expiry), then the Dask
handshake and the endpoint's identity (type, id, worker count).

The certificate is the configured client's, else the worker's, else the
scheduler's (--role picks one). The configuration is --config FILE alone when
given; otherwise Dask's own search path and DASK_* variables.

When the peer refuses our certificate under TLS 1.3 the refusal only arrives
after the handshake; probe says so instead of reporting a timeout.

Under the strict role policy the peer's certificate must fit what it answers
to identity: a Scheduler must hold a scheduler certificate, a Worker or Nanny
a worker's, so that no worker key passes for the scheduler. An answer that no
Dask endpoint sends (not an identity, or a message built to exhaust memory)
fails the probe too.

Exit codes: 0 ok, 1 the peer's certificate (or its chain) expires within
--warn-within, 2 failure (including bad flags).`,
		Example: `  daskca probe tls://sched01.dask.internal:8786 --config alice.yaml
  daskca probe tls://10.0.0.5:8786 --config node07.yaml --warn-within 14d -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("probe takes one argument: daskca probe ADDRESS (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runProbe(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "Dask YAML configuration file with the certificate to use")
	f.StringVar(&o.role, "role", "", "which configured certificate to use: client, worker or scheduler (default: the first configured)")
	f.Var(durationValue(&o.warnWithin), "warn-within", "exit 1 when the peer's certificate expires within this time")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "bound on the whole probe")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runProbe(cmd *cobra.Command, g *globalOpts, o *probeOpts, addr string) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	sec, err := probeSecurity(g, o)
	if err != nil {
		return &cliError{err: err, code: probeFailed, hint: hintOf(err)}
	}
	popts := transport.ProbeOptions{Security: sec, Timeout: o.timeout}
	res, perr := transport.Probe(cmd.Context(), addr, popts)
	if errors.Is(perr, transport.ErrTLSRequired) {
		fmt.Fprintln(cmd.ErrOrStderr(), "hint: the configuration names no certificate; pass --config FILE as daskca config NAME --format yaml writes it")
	}
	code, status := judgeProbe(res, perr, g.now(), o.warnWithin)
	if o.output == "json" {
		err = writeJSON(cmd.OutOrStdout(), struct {
			transport.ProbeResult
			Status   string `json:"status"`
			ExitCode int    `json:"exit_code"`
		}{res, status, code})
	} else {
		err = printProbe(cmd.OutOrStdout(), res, status, g.now())
	}
	if err != nil {
		return err
	}
	if code != probeOK {
		return exitCode(code)
	}
	return nil
}

// hintOf returns the hint of a cliError, or "".
func hintOf(err error) string {
	if ce, ok := err.(*cliError); ok {
		return ce.hint
	}
	return ""
}

// probeSecurity loads the certificate to probe with; a configuration
// without any certificate probes tcp:// only.
func probeSecurity(g *globalOpts, o *probeOpts) (*transport.Security, error) {
	log := slog.New(slog.DiscardHandler)
	cfg, err := loadConfig(g, o.config, log)
	if err != nil {
		return nil, err
	}
	role := identity.Role(o.role)
	if o.role == "" {
		for _, r := range []identity.Role{identity.Client, identity.Worker, identity.Scheduler} {
			if cfg.TLS.Files(r).Cert != "" {
				role = r
				break
			}
		}
		if role == "" {
			return nil, nil
		}
	} else if _, err := identity.ParseRole(o.role); err != nil {
		return nil, usageError("--role: %v", err)
	}
	return loadSecurity(g, o.config, role, log)
}

// judgeProbe returns the exit code and status word of a probe.
func judgeProbe(res transport.ProbeResult, err error, now time.Time, warnWithin time.Duration) (int, string) {
	if err != nil {
		return probeFailed, "failed"
	}
	if first, ok := res.ExpiresFirst(); ok && first.Sub(now) <= warnWithin {
		return probeWarning, "warning"
	}
	return probeOK, "ok"
}

func printProbe(w io.Writer, res transport.ProbeResult, status string, now time.Time) error {
	tw := newTable(w)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s:\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("address", "%s", res.Address)
	if t := res.TLS; t != nil {
		row("tls", "%s, %s", t.Version, t.Cipher)
		row("our certificate", "%s %q serial %s", t.OurRole, t.OurSubject, t.OurSerial)
	}
	for i, c := range res.PeerChain {
		label := "peer certificate"
		if i > 0 {
			label = "  issued by"
		}
		row(label, "%s", c.Subject)
		if c.Identity != "" {
			row("  identity", "%s (role %s, name %s)", c.Identity, c.Role, c.Name)
		} else if i == 0 {
			row("  identity", "none (no daskca SPIFFE URI)")
		}
		if sans := append(append([]string{}, c.DNS...), c.IPs...); len(sans) > 0 {
			row("  sans", "%s", strings.Join(sans, ", "))
		}
		row("  serial", "%s", c.Serial)
		row("  issuer", "%s", c.Issuer)
		row("  expires", "%s (%s)", c.NotAfter.Format(time.RFC3339), untilText(c.NotAfter.Sub(now)))
	}
	if h := res.Handshake; h != nil {
		row("dask handshake", "python %s, pickle protocol %d", joinInts(h.Python), h.PickleProtocol)
	}
	if id := res.Identity; id != nil {
		row("identity", "%s %s, %d worker(s)", id.Type, id.ID, id.Workers)
		if id.Address != "" {
			row("  address", "%s", id.Address)
		}
	}
	if res.Error != "" {
		row("failed at", "%s", res.Stage)
		row("error", "%s", res.Error)
	}
	row("status", "%s", status)
	return tw.Flush()
}

func untilText(d time.Duration) string {
	ago := d < 0
	if ago {
		d = -d
	}
	n := fmt.Sprintf("%d days", int(d/duration.Day))
	if d < 2*duration.Day {
		n = fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	if ago {
		return "expired " + n + " ago"
	}
	return "in " + n
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ".")
}
