package main

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/duration"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/password"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/lifecycle"
)

type initOpts struct {
	name         string
	intermediate bool
	keyType      string
	validity     time.Duration
	permitDNS    []string
	permitIP     []string
	trustDomain  string
	passwordFile string
	insecure     bool
	output       string
}

func newInitCmd(g *globalOpts) *cobra.Command {
	o := &initOpts{validity: 10 * duration.Year}
	cmd := &cobra.Command{
		Use:   "init --name NAME",
		Short: "Create the organisation CA and an empty inventory",
		Example: `  daskca init --name "Acme Dask CA"
  daskca init --name "Acme Dask CA" --intermediate --permit-dns .dask.internal --permit-ip 10.0.0.0/8
  daskca init --name "Lab CA" --password-file ~/.daskca-pw --trust-domain lab.example.org`,
		Args: exactArgs(0, "--name NAME"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runInit(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "name of the CA (subject CN), e.g. \"Acme Dask CA\" (required)")
	f.BoolVar(&o.intermediate, "intermediate", false, "sign leaves with an intermediate CA, so the root key can be kept offline")
	f.StringVar(&o.keyType, "key-type", string(ca.ECP256), "CA key type: "+keyTypeList())
	f.Var(duration.Value{D: &o.validity}, "validity", "lifetime of the root CA, e.g. 10y or 3650d")
	f.StringSliceVar(&o.permitDNS, "permit-dns", nil, "name constraint: permitted DNS suffix, e.g. .dask.internal (repeatable)")
	f.StringSliceVar(&o.permitIP, "permit-ip", nil, "name constraint: permitted IP range, e.g. 10.0.0.0/8 (repeatable)")
	f.StringVar(&o.trustDomain, "trust-domain", "", "SPIFFE trust domain of endpoint identities, a DNS name with a dot (default: --name as one label + .daskca.internal)")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the password encrypting the CA key")
	f.BoolVar(&o.insecure, "insecure-no-password", false, "store the CA key unencrypted (not for production)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func keyTypeList() string {
	var s []string
	for _, k := range ca.KeyTypes {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func runInit(cmd *cobra.Command, g *globalOpts, o *initOpts) error {
	if o.name == "" {
		return usageError("init needs --name, e.g. --name \"Acme Dask CA\"")
	}
	if err := checkCAName(o.name); err != nil {
		return err
	}
	if o.insecure && o.passwordFile != "" {
		return usageError("--insecure-no-password and --password-file exclude each other")
	}
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	opts, err := o.caOptions(g.now)
	if err != nil {
		return err
	}
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := checkFreshHome(l); err != nil {
		return err
	}
	var pw []byte
	if !o.insecure {
		pw, err = g.passwordSource(o.passwordFile, cmd).ReadNew()
		if errors.Is(err, password.ErrNone) {
			return withHint(err, "pass --password-file FILE, set %s, or run init on a terminal", password.EnvVar)
		}
		if err != nil {
			return err
		}
	}
	a, err := ca.New(opts)
	if err != nil {
		return err
	}
	a.Insecure = o.insecure
	if err := createHome(l, a, pw); err != nil {
		return err
	}
	return printCA(cmd, o.output, issue.DescribeCA(a, !o.insecure, true))
}

func (o *initOpts) caOptions(now func() time.Time) (ca.Options, error) {
	kt, err := ca.ParseKeyType(o.keyType)
	if err != nil {
		return ca.Options{}, usageError("--key-type: %v", err)
	}
	td := o.trustDomain
	if td == "" {
		td = defaultTrustDomain(o.name)
	}
	if err := identity.ValidateTrustDomain(td); err != nil {
		return ca.Options{}, usageError("--trust-domain: %v", err)
	}
	opts := ca.Options{Name: o.name, KeyType: kt, Validity: o.validity, Intermediate: o.intermediate, TrustDomain: td, Now: now}
	for _, d := range o.permitDNS {
		n, err := issue.NormalizeDNS(strings.TrimPrefix(d, "."))
		if err != nil || strings.HasPrefix(n, "*") {
			return ca.Options{}, usageError("--permit-dns %.80q: not a DNS suffix such as .dask.internal", d)
		}
		opts.PermitDNS = append(opts.PermitDNS, d)
	}
	for _, s := range o.permitIP {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return ca.Options{}, usageError("--permit-ip %.80q: not a CIDR range such as 10.0.0.0/8", s)
		}
		opts.PermitIP = append(opts.PermitIP, n)
	}
	return opts, nil
}

// checkCAName refuses a --name that cannot be a CA's common name, naming
// the flag and the limit.
func checkCAName(name string) error {
	if n := utf8.RuneCountInString(name); n > ca.MaxNameLen {
		return usageError("--name is %d characters long: a CA name has at most %d (it is the certificate's common name)", n, ca.MaxNameLen)
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return usageError("--name %q holds control characters or invalid UTF-8: use printable text", name)
	}
	return nil
}

// defaultTrustSuffix makes the default trust domain a fully qualified name,
// as RFC 5280 §4.2.1.6 requires of a URI SAN's host and of a URI name
// constraint. .internal is the top-level domain ICANN reserved (2024) for
// private networks: never delegated, so it cannot name someone else's
// domain, and zlint's RFC and community lints accept it. .local belongs to
// multicast DNS, .test, .example and .invalid to testing and documentation.
const defaultTrustSuffix = ".daskca.internal"

// defaultTrustDomain derives a trust domain from a CA name:
// "Acme Dask CA" -> "acme-dask-ca.daskca.internal".
func defaultTrustDomain(name string) string {
	s := slug(name)
	if s == "" {
		return strings.TrimPrefix(defaultTrustSuffix, ".")
	}
	return s + defaultTrustSuffix
}

// slug turns a CA name into one DNS label: lower-case letters and digits,
// each other run of characters one '-', at most 63 characters; "" when the
// name has no letter or digit.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimSuffix(s, "-")
}

// checkFreshHome refuses a home that already holds a CA or an inventory,
// naming the ways out.
func checkFreshHome(l home.Layout) error {
	if err := lifecycle.CheckFresh(l); err != nil {
		return withHint(err, "use another --home, or remove %s if you really mean to start over", l.Dir)
	}
	return nil
}

// createHome makes l a home for a (lifecycle.CreateHome: all or nothing).
func createHome(l home.Layout, a *ca.Authority, pw []byte) error {
	err := lifecycle.CreateHome(l, a, pw)
	if errors.Is(err, home.ErrUnsafe) {
		return withHint(err, "give --home a directory of your own, e.g. %s", filepath.Join(l.Dir, "daskca"))
	}
	return err
}
