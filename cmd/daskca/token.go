package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/enrol"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

func newTokenCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke enrolment tokens for daskca enroll",
		Long: `Enrolment tokens let a host get its own certificate from daskca serve with
daskca enroll, its key made on the host. A token carries 256 random bits and
the SHA-256 fingerprint of the CA root, so the host needs no CA file first.
The inventory keeps only a hash of it, its scope, its uses left and its expiry.`,
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

type tokenCreateOpts struct {
	name, names, ipRange string
	ttl, validity        time.Duration
	uses                 int
	output               string
}

func newTokenCreateCmd(g *globalOpts) *cobra.Command {
	o := &tokenCreateOpts{}
	cmd := &cobra.Command{
		Use:   "create ROLE [--name NAME | --names PATTERN]",
		Short: "Create a token and print it",
		Long: `Create prints one token on stdout (-o json: with its id, scope and expiry).
Without --name or --names the token allows any endpoint name of the role.
--names takes a shell pattern (*, ?, [a-z]); DNS names asked for must be the
endpoint name or names under it, IPs must lie in --ip-range (none without it).
The token is shown once: keep it secret, as a password.`,
		Example: `  daskca token create worker --names 'node*' --uses 40 --ttl 1h
  daskca token create worker --name node07 --ip-range 10.0.1.0/24 --validity 12h
  TOKEN=$(daskca token create client --name alice)`,
		Args: exactArgs(1, "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error { return runTokenCreate(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "the one endpoint name the token allows")
	f.StringVar(&o.names, "names", "", "a pattern of endpoint names the token allows, e.g. 'node*'")
	f.StringVar(&o.ipRange, "ip-range", "", "CIDR prefix the IP SANs must lie in (default: no IPs)")
	f.Var(durationValue(&o.ttl), "ttl", "how long the token can be used (default 15m)")
	f.IntVar(&o.uses, "uses", 1, "how many certificates the token pays for")
	f.Var(durationValue(&o.validity), "validity", "lifetime of the certificates (default 365d)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// tokenJSON is a token's -o json form; Token only when just created.
type tokenJSON struct {
	Token    string    `json:"token,omitempty"`
	ID       string    `json:"id"`
	Role     string    `json:"role"`
	Name     string    `json:"name,omitempty"`
	Names    string    `json:"names,omitempty"`
	IPRange  string    `json:"ip_range,omitempty"`
	Scope    string    `json:"scope"`
	Uses     int       `json:"uses"`
	UsesLeft int       `json:"uses_left"`
	Validity string    `json:"validity,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Status   string    `json:"status"`
}

func tokenInfo(t store.TokenRecord, now time.Time) tokenJSON {
	st := "usable"
	if err := t.Usable(now); err != nil {
		switch {
		case errors.Is(err, store.ErrTokenRevoked):
			st = "revoked"
		case errors.Is(err, store.ErrTokenExpired):
			st = "expired"
		default:
			st = "used"
		}
	}
	v := ""
	if t.Validity > 0 {
		v = t.Validity.String()
	}
	return tokenJSON{ID: t.ID, Role: t.Role, Name: t.Name, Names: t.Names, IPRange: t.IPRange, Scope: t.Scope(),
		Uses: t.Uses, UsesLeft: t.UsesLeft, Validity: v, Created: t.Created, Expires: t.Expires, Status: st}
}

func runTokenCreate(cmd *cobra.Command, g *globalOpts, o *tokenCreateOpts, roleArg string) error {
	role, err := identity.ParseRole(roleArg)
	if err != nil {
		return usageError("%v", err)
	}
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	if o.uses < 1 {
		return usageError("--uses %d: give 1 or more", o.uses)
	}
	spec := enrol.TokenSpec{Role: role, Name: o.name, Names: o.names, IPRange: o.ipRange,
		TTL: o.ttl, Uses: o.uses, Validity: o.validity}
	l, err := g.initializedLayout()
	if err != nil {
		return err
	}
	pub, err := ca.LoadPublic(l.CADir())
	if err != nil {
		return caError(err, l)
	}
	s, err := g.openStore(l, false)
	if err != nil {
		return err
	}
	defer s.Close()
	tok, rec, err := enrol.CreateToken(s, pub.Root, spec, g.now(), g.actor)
	if errors.Is(err, enrol.ErrTokenSpec) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	if o.output == "json" {
		j := tokenInfo(rec, g.now())
		j.Token = tok.String()
		return writeJSON(cmd.OutOrStdout(), j)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), tok.String())
	return err
}

type tokenListOpts struct {
	output string
}

func newTokenListCmd(g *globalOpts) *cobra.Command {
	o := &tokenListOpts{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens: id, scope, uses left, expiry, status (never the token)",
		Args:  exactArgs(0, ""),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runTokenList(cmd, g, o) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runTokenList(cmd *cobra.Command, g *globalOpts, o *tokenListOpts) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	_, s, err := g.openHome(true)
	if err != nil {
		return err
	}
	defer s.Close()
	var all []tokenJSON
	if err := s.Tokens(func(t store.TokenRecord) error {
		all = append(all, tokenInfo(t, g.now()))
		return nil
	}); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if o.output == "json" {
		if all == nil {
			all = []tokenJSON{}
		}
		return writeJSON(w, all)
	}
	fmt.Fprintf(w, "%-16s  %-8s  %-9s  %-20s  %s\n", "ID", "STATUS", "USES LEFT", "EXPIRES", "SCOPE")
	for _, t := range all {
		fmt.Fprintf(w, "%-16s  %-8s  %4d/%-4d  %-20s  %s\n", t.ID, t.Status, t.UsesLeft, t.Uses,
			t.Expires.UTC().Format(time.RFC3339), t.Scope)
	}
	return nil
}

func newTokenRevokeCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: it can pay for no more certificates",
		Args:  exactArgs(1, "ID"),
		RunE:  func(cmd *cobra.Command, args []string) error { return runTokenRevoke(cmd, g, args[0]) },
	}
}

func runTokenRevoke(cmd *cobra.Command, g *globalOpts, id string) error {
	_, s, err := g.openHome(false)
	if err != nil {
		return err
	}
	defer s.Close()
	if tok, err := enrol.ParseToken(id); err == nil {
		id = tok.ID // the whole token was given: never echo it
	}
	t, err := s.RevokeToken(id, g.actor)
	switch {
	case errors.Is(err, store.ErrTokenUnknown):
		return withHint(err, "see the ids with daskca token list")
	case err != nil:
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s (%s, %d uses left)\n", t.ID, t.Scope(), t.UsesLeft)
	return err
}
