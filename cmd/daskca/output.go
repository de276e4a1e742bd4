package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/duration"
	"github.com/daskca/daskca/issue"
)

func durationValue(d *time.Duration) duration.Value { return duration.Value{D: d} }

// checkFormat refuses an -o value the command does not offer.
func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usageError("-o %q: choose one of %s", got, strings.Join(allowed, ", "))
}

// table writes aligned columns through a buffer: a bare tabwriter writes
// every cell and every run of padding with its own write, tens of
// thousands of system calls for the table of a bulk renewal.
type table struct {
	*tabwriter.Writer
	buf *bufio.Writer
}

func newTable(w io.Writer) table {
	buf := bufio.NewWriterSize(w, 64<<10)
	return table{tabwriter.NewWriter(buf, 0, 4, 2, ' ', 0), buf}
}

// Flush ends the table's column block and writes out everything buffered.
func (t table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printInfo(cmd *cobra.Command, format string, in issue.Info) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		return writeJSON(w, in)
	}
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("name", in.Name)
	row("role", in.Role)
	row("serial", in.Serial)
	row("status", string(in.Status))
	row("not before", in.NotBefore.Format(time.RFC3339))
	row("not after", in.NotAfter.Format(time.RFC3339))
	row("dns", strings.Join(in.DNS, ", "))
	row("ips", strings.Join(in.IPs, ", "))
	row("uri", in.URI)
	row("key type", in.KeyType)
	row("sha256", in.FingerprintSHA256)
	row("cert file", in.CertFile)
	row("key file", in.KeyFile)
	row("ca file", in.CAFile)
	if in.RevokedAt != nil {
		row("revoked at", in.RevokedAt.Format(time.RFC3339))
		row("reason", in.RevocationReason)
	}
	if in.Supersedes != "" {
		row("supersedes", in.Supersedes)
	}
	if in.SupersededBy != "" {
		row("superseded by", in.SupersededBy)
	}
	return tw.Flush()
}

func printCA(cmd *cobra.Command, format string, info issue.CAInfo) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		return writeJSON(w, info)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "trust domain:\t%s\n", info.TrustDomain)
	if identity.ValidateTrustDomain(info.TrustDomain) != nil {
		// A home made before trust domains had to be FQDNs: it works, but
		// its certificates fail RFC 5280 §4.2.1.6; only a new CA changes it.
		fmt.Fprintf(tw, "\t(not a fully qualified domain name: URI SANs break RFC 5280; a new CA in a new home fixes it)\n")
	}
	if info.KeyEncrypted {
		fmt.Fprintf(tw, "key storage:\tencrypted (PKCS#8, PBES2, AES-256)\n")
	} else {
		fmt.Fprintf(tw, "key storage:\tUNENCRYPTED (created with --insecure-no-password)\n")
	}
	for _, c := range info.Chain {
		fmt.Fprintf(tw, "\n%s:\t%s\n", c.Kind, c.Subject)
		fmt.Fprintf(tw, "  serial:\t%s\n", c.Serial)
		fmt.Fprintf(tw, "  sha256:\t%s\n", c.FingerprintSHA256)
		fmt.Fprintf(tw, "  key:\t%s (%s)\n", c.KeyType, presence(c.KeyPresent))
		fmt.Fprintf(tw, "  valid:\t%s to %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		if len(c.PermittedDNS)+len(c.PermittedIPs)+len(c.PermittedURIs) == 0 {
			fmt.Fprintf(tw, "  constraints:\tnone\n")
			continue
		}
		fmt.Fprintf(tw, "  permitted dns:\t%s\n", orNone(c.PermittedDNS))
		fmt.Fprintf(tw, "  permitted ips:\t%s\n", orNone(c.PermittedIPs))
		fmt.Fprintf(tw, "  permitted uris:\t%s\n", orNone(c.PermittedURIs))
	}
	return tw.Flush()
}

func presence(ok bool) string {
	if ok {
		return "private key in home"
	}
	return "private key not in home"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(any)"
	}
	return strings.Join(s, ", ")
}
