package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/enrol"
)

type enrollOpts struct {
	server, token, tokenFile, role, name string
	dns, ips                             []string
	keyType, dir, pathPrefix, scheduler  string
	renew, watch                         bool
}

func newEnrollCmd(g *globalOpts) *cobra.Command {
	o := &enrollOpts{}
	cmd := &cobra.Command{
		Use:   "enroll --server URL --token T --name NAME --dir DIR | enroll --renew --dir DIR",
		Short: "Get this host's certificate from daskca serve (key made here), or renew it",
		Long: `Enroll generates a key on this host (mode 0600; it never leaves), sends a
certificate request with a token from daskca token create, and writes into
DIR: cert.pem, key.pem, ca.pem, crl.pem (when the CA publishes one),
dask.yaml and dask.env for the role, and enrol.state (where to renew). The
server is trusted through the CA root fingerprint inside the token, so no CA
file is needed first. It prints one line.

--renew gets a new certificate for the same identity and names, with a new
key, authenticating with the current certificate (no token); a revoked,
superseded or expired certificate cannot renew. --renew --watch renews
nothing at start: it keeps running and renews at two thirds of each
certificate's lifetime (with jitter; at once if that is past), writing the
files atomically.

--path-prefix is where Dask will see DIR (a container mount, say): the
emitted config names files under it. The token may also come from
--token-file or $DASKCA_TOKEN, which keeps it out of the process list.`,
		Example: `  daskca enroll --server https://ca.dask.internal:8443 --token-file /run/secrets/token \
      --name "$(hostname -s)" --dns "$(hostname -f)" --dir "$TMPDIR/dask-tls"
  daskca enroll --renew --dir /etc/dask-tls --watch`,
		Args: exactArgs(0, "--server URL --token T --name NAME --dir DIR"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runEnroll(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "enrolment server, https://HOST:PORT (renewal: default the one in DIR/enrol.state)")
	f.StringVar(&o.token, "token", "", "enrolment token (visible in the process list; prefer --token-file)")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the enrolment token")
	f.StringVar(&o.role, "role", "", "role expected (default: the token's)")
	f.StringVar(&o.name, "name", "", "endpoint name, e.g. the short host name")
	f.StringSliceVar(&o.dns, "dns", nil, "DNS name for the certificate (repeatable)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP address for the certificate (repeatable)")
	f.StringVar(&o.keyType, "key-type", string(ca.ECP256), "key type: "+keyTypeList())
	f.StringVar(&o.dir, "dir", "", "directory for the files (made 0700)")
	f.StringVar(&o.pathPrefix, "path-prefix", "", "directory where Dask sees DIR (default DIR)")
	f.StringVar(&o.scheduler, "scheduler", "", "scheduler address for the emitted config, tls://HOST:PORT")
	f.BoolVar(&o.renew, "renew", false, "renew the certificate in DIR with itself")
	f.BoolVar(&o.watch, "watch", false, "with --renew: keep running and renew at 2/3 of each lifetime")
	return cmd
}

func runEnroll(cmd *cobra.Command, g *globalOpts, o *enrollOpts) error {
	if o.dir == "" {
		return usageError("--dir DIR is required")
	}
	if o.watch && !o.renew {
		return usageError("--watch goes with --renew (enroll first, then run --renew --watch)")
	}
	if o.renew {
		return runRenewEnrolled(cmd, o)
	}
	switch {
	case o.server == "":
		return usageError("--server https://HOST:PORT is required")
	case o.name == "":
		return usageError("--name NAME is required")
	}
	kt, err := ca.ParseKeyType(o.keyType)
	if err != nil {
		return usageError("--key-type: %v", err)
	}
	tok, err := readToken(g, o)
	if err != nil {
		return err
	}
	is, err := enrol.Enrol(cmd.Context(), enrol.Request{Server: o.server, Token: tok, Role: o.role,
		Name: o.name, DNS: o.dns, IPs: o.ips, KeyType: kt})
	if err != nil {
		return enrollError(err)
	}
	st := enrol.State{Server: o.server, Role: is.Role, Name: is.Name, PathPrefix: o.pathPrefix, Scheduler: o.scheduler}
	if err := enrol.WriteDir(o.dir, is, st); err != nil {
		return err
	}
	return printEnrolled(cmd, "enrolled", o.dir, is)
}

func runRenewEnrolled(cmd *cobra.Command, o *enrollOpts) error {
	if !o.watch {
		is, err := enrol.RenewDir(cmd.Context(), o.dir, o.server, nil)
		if err != nil {
			return enrollError(err)
		}
		return printEnrolled(cmd, "renewed", o.dir, is)
	}
	// --watch renews when due, not at start: a restarted sidecar must not
	// renew every time.
	if _, _, _, err := enrol.ReadDir(o.dir); err != nil {
		return err
	}
	return enrol.Watch(cmd.Context(), o.dir, o.server, func(is *enrol.Issued, err error) {
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "daskca: renewal failed, will retry: %v\n", err)
			return
		}
		_ = printEnrolled(cmd, "renewed", o.dir, is)
	})
}

func printEnrolled(cmd *cobra.Command, what, dir string, is *enrol.Issued) error {
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s %s/%s serial %s, expires %s; files in %s\n",
		what, is.Role, is.Name, is.Serial, is.NotAfter.UTC().Format(time.RFC3339), dir)
	return err
}

// readToken takes the token from --token, --token-file or $DASKCA_TOKEN.
func readToken(g *globalOpts, o *enrollOpts) (string, error) {
	switch {
	case o.token != "" && o.tokenFile != "":
		return "", usageError("give --token or --token-file, not both")
	case o.token != "":
		return o.token, nil
	case o.tokenFile != "":
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case g.getenv("DASKCA_TOKEN") != "":
		return g.getenv("DASKCA_TOKEN"), nil
	}
	return "", usageError("a token is required: --token, --token-file or $DASKCA_TOKEN (see daskca token create)")
}

func enrollError(err error) error {
	var re *enrol.RefusedError
	switch {
	case errors.As(err, &re) && re.Body.Code == enrol.CodeToken:
		return withHint(err, "create a new token with daskca token create on the CA host")
	case errors.As(err, &re) && re.Body.Code == enrol.CodeRateLimited:
		return withHint(err, "too many failed attempts from this host; wait and check the token")
	case errors.Is(err, enrol.ErrBadToken):
		return withHint(err, "pass the whole line daskca token create printed")
	case errors.Is(err, enrol.ErrExpired):
		return withHint(err, "run daskca enroll with a new token")
	}
	return err
}
