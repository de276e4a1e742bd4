package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/snippet"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// snippetOpts are the flags shared by config and export.
type snippetOpts struct {
	scheduler string
	prefix    string
	minTLS    string
	ciphers   string
	combined  bool
	noPlugin  bool
}

func (o *snippetOpts) bind(f *pflag.FlagSet) {
	f.StringVar(&o.scheduler, "scheduler", "", "scheduler address, e.g. tls://sched01.dask.internal:8786")
	f.StringVar(&o.minTLS, "min-tls", "1.2", "minimum TLS version: 1.2 or 1.3")
	f.StringVar(&o.ciphers, "ciphers", "", "OpenSSL cipher string restricting TLS 1.2 suites (TLS 1.3 suites are not restricted)")
	f.BoolVar(&o.combined, "combined", false, "use one PEM file holding certificate chain and key, and no key file")
	f.BoolVar(&o.noPlugin, "no-plugin", false, "leave daskca's Dask plugin out: no preload keys, no daskca_plugin.py (Dask then checks no roles, no CRL, reloads nothing)")
}

// withPlugin adds daskca's Dask plugin to the material, unless --no-plugin.
func (o *snippetOpts) withPlugin(m snippet.Material) snippet.Material {
	if !o.noPlugin {
		m.Plugin = daskplugin.Render()
	}
	return m
}

func (o *snippetOpts) options() (snippet.Options, error) {
	v, err := strconv.ParseFloat(o.minTLS, 64)
	if err != nil || v != 1.2 && v != 1.3 {
		return snippet.Options{}, usageError("--min-tls %q: use 1.2 or 1.3", o.minTLS)
	}
	so := snippet.Options{Scheduler: o.scheduler, MinTLS: v, Ciphers: o.ciphers}
	if err := so.Check(); err != nil {
		return so, usageError("%v", err)
	}
	return so, nil
}

var configFormats = []string{"yaml", "env", "cli", "python", "k8s-secret", "json"}

type configOpts struct {
	snippetOpts
	format string
}

func newConfigCmd(g *globalOpts) *cobra.Command {
	o := &configOpts{}
	cmd := &cobra.Command{
		Use:   "config NAME|ROLE/NAME|SERIAL",
		Short: "Print the Dask configuration that uses a certificate",
		Long: `Print what Dask needs to use a certificate of the inventory:
  yaml        a file for ~/.config/dask/, /etc/dask/ or $DASK_CONFIG
  env         DASK_* variables as shell export lines
  cli         the dask scheduler / dask worker command line (not for clients)
  python      a distributed.Security(...) object named security
  k8s-secret  a Kubernetes Secret with the files, and the pod spec to use it
  json        all of the above in one object
Paths are those of the files in the home, or under --path-prefix where the
files will live on the target host (see daskca export).

Every form wires in daskca's Dask plugin, which enforces peer roles, the
CRL and live reload of certificates inside real Dask: the preload keys of
the role's processes (distributed.scheduler.preload; distributed.worker.preload
and distributed.nanny.preload; distributed.client.preload) point at
daskca_plugin.py. Without --path-prefix that is the home's copy, which this
command writes (or refreshes) at HOME/daskca_plugin.py; with --path-prefix
it is PREFIX/daskca_plugin.py, where daskca export and the k8s-secret form
put it. The cli form passes --preload, and --preload-nanny for workers:
dask worker ignores distributed.nanny.preload from the configuration. The
python form sets the preload with dask.config.set, to run before the Client
is created. --no-plugin leaves all of this out.

Once the home has a CRL (daskca crl, daskca revoke), yaml, env, json and
k8s-secret also set daskca.crl-file: the home's crl.pem, or PREFIX/crl.pem
with --path-prefix (the python form too, with the plugin). The plugin and
daskca's transport reload it and refuse revoked peers.`,
		Example: `  daskca config sched01 --format cli --scheduler tls://sched01.dask.internal:8786
  daskca config node07 --format yaml --scheduler tls://sched01.dask.internal:8786 > ~/.config/dask/tls.yaml
  daskca config alice --format python --path-prefix /etc/dask/tls
  daskca config node07 --format k8s-secret --path-prefix /etc/dask/tls | kubectl apply -f -`,
		Args: exactArgs(1, "NAME|ROLE/NAME|SERIAL"),
		RunE: func(cmd *cobra.Command, args []string) error { return runConfig(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "yaml", "one of yaml, env, cli, python, k8s-secret, json")
	cmd.Flags().StringVar(&o.prefix, "path-prefix", "", "directory where the files will be on the target host (default: where they are in the home)")
	o.bind(cmd.Flags())
	return cmd
}

func runConfig(cmd *cobra.Command, g *globalOpts, o *configOpts, query string) error {
	if !contains(configFormats, o.format) {
		return usageError("--format %q: choose one of yaml, env, cli, python, k8s-secret, json", o.format)
	}
	so, err := o.options()
	if err != nil {
		return err
	}
	l, rec, err := g.findActive(query)
	if err != nil {
		return err
	}
	role := identity.Role(rec.Role)
	ep, err := localEndpoint(l, rec, &o.snippetOpts)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch o.format {
	case "yaml":
		y, err := snippet.YAML(ep, so)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	case "env":
		_, err := fmt.Fprint(w, snippet.Env(ep, so))
		return err
	case "cli":
		s, err := snippet.CLI(ep, so)
		if err != nil {
			return withHint(err, "use --format python for clients; give the scheduler with --scheduler tls://HOST:8786")
		}
		_, err = fmt.Fprint(w, s)
		return err
	case "python":
		_, err := fmt.Fprint(w, snippet.Python(ep, so))
		return err
	case "k8s-secret":
		prefix := o.prefix
		if prefix == "" {
			prefix = "/etc/dask/tls"
		}
		m, err := material(l, rec, o.combined)
		if err != nil {
			return err
		}
		s, err := snippet.K8sSecret(role, rec.Name, prefix, o.withPlugin(m), so)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(w, s)
		return err
	}
	return configJSON(cmd, ep, so)
}

// configJSON prints every form in one object, for scripts.
func configJSON(cmd *cobra.Command, ep snippet.Endpoint, so snippet.Options) error {
	y, err := snippet.YAML(ep, so)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, v := range snippet.Config(ep, so).Env() {
		env[v.Name] = v.Value
	}
	out := map[string]any{
		"name": ep.Name, "role": string(ep.Role),
		"ca_file": ep.CAFile, "cert_file": ep.CertFile, "key_file": ep.KeyFile, "crl_file": ep.CRLFile,
		"plugin_file": ep.Plugin, "yaml": string(y), "env": env, "python": snippet.Python(ep, so),
	}
	if cli, err := snippet.CLI(ep, so); err == nil {
		out["cli"] = cli
	}
	return writeJSON(cmd.OutOrStdout(), out)
}

// findActive resolves a query to an active certificate of the inventory.
func (g *globalOpts) findActive(query string) (home.Layout, store.Record, error) {
	l, s, err := g.openHome(true)
	if err != nil {
		return l, store.Record{}, err
	}
	defer s.Close()
	rec, err := issue.Find(s, query)
	if err != nil {
		return l, rec, err
	}
	if rec.Enrolled() {
		return l, rec, withHint(fmt.Errorf("%s/%s (serial %s) was enrolled: its key and files are on its host", rec.Role, rec.Name, rec.Serial),
			"use dask.yaml or dask.env in the directory daskca enroll wrote on that host")
	}
	if st := issue.StatusOf(rec, g.now()); st != issue.StatusActive {
		return l, rec, withHint(fmt.Errorf("%s/%s (serial %s) is %s", rec.Role, rec.Name, rec.Serial, st),
			"issue a new certificate for it first")
	}
	return l, rec, nil
}

// localEndpoint gives the endpoint's file paths: under --path-prefix, or the
// files in the home (writing the combined file there when asked for). When
// the home has published a CRL, the endpoint gets it as daskca.crl-file:
// the home's crl.pem itself, or PREFIX/crl.pem where export puts its copy.
// Unless --no-plugin, the endpoint gets daskca's Dask plugin: PREFIX's
// copy, or the home's, written here when missing or outdated.
func localEndpoint(l home.Layout, rec store.Record, o *snippetOpts) (snippet.Endpoint, error) {
	role := identity.Role(rec.Role)
	hasCRL := fileExists(l.CRL())
	if o.prefix != "" {
		ep := snippet.Files(role, rec.Name, o.prefix, o.combined)
		if hasCRL {
			ep = ep.WithCRL(o.prefix)
		}
		if !o.noPlugin {
			ep = ep.WithPlugin(o.prefix)
		}
		return ep, nil
	}
	ep := snippet.Endpoint{Role: role, Name: rec.Name, CAFile: rec.CAFile, CertFile: rec.CertFile, KeyFile: rec.KeyFile}
	if hasCRL {
		ep.CRLFile = l.CRL()
	}
	if !o.noPlugin {
		if err := daskplugin.Ensure(l.Plugin()); err != nil {
			return ep, err
		}
		ep.Plugin = l.Plugin()
	}
	if !o.combined {
		return ep, nil
	}
	m, err := material(l, rec, true)
	if err != nil {
		return ep, err
	}
	p := l.Endpoint(rec.Role, rec.Name).Combined
	if err := fsutil.WriteFile(p, m.Cert, 0o600); err != nil {
		return ep, err
	}
	ep.CertFile, ep.KeyFile = p, ""
	return ep, nil
}

// material reads an endpoint's files, checked (homefiles.ReadEndpoint: no
// links, the key matches the certificate, the CA's own bundle), and the CRL
// if one was published, from the home.
func material(l home.Layout, rec store.Record, combined bool) (snippet.Material, error) {
	var m snippet.Material
	f, err := homefiles.ReadEndpoint(l, rec)
	if errors.Is(err, fs.ErrNotExist) {
		return m, withHint(err, "the files of %s/%s are missing from the home; issue it again with --force", rec.Role, rec.Name)
	}
	if err != nil {
		return m, withHint(err, "nothing was shipped; check with daskca inventory check, and re-issue it with daskca issue %s %s --force", rec.Role, rec.Name)
	}
	m.CA, m.Cert, m.Key = f.CA, f.Cert, f.Key
	if combined {
		m.Cert, m.Key = snippet.Combined(m.Cert, m.Key), nil
	}
	if fileExists(l.CRL()) {
		if m.CRL, _, err = fsutil.ReadRegular(l.CRL()); err != nil {
			return m, err
		}
	}
	return m, nil
}
