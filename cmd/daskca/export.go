package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/snippet"
)

type exportOpts struct {
	snippetOpts
	dir            string
	tarball, force bool
}

func newExportCmd(g *globalOpts) *cobra.Command {
	o := &exportOpts{}
	cmd := &cobra.Command{
		Use:   "export NAME|ROLE/NAME|SERIAL --dir DIR",
		Short: "Write a ready-to-copy bundle for one host: TLS files, daskca's Dask plugin, dask.yaml and dask.env",
		Long: `Write everything one host needs into DIR: ca.pem, tls.crt and tls.key (or
tls.pem with --combined), crl.pem when the home has published a CRL (a copy:
ship it again after daskca revoke or daskca crl), daskca_plugin.py (daskca's
Dask plugin; --no-plugin leaves it out), and dask.yaml and dask.env pointing
at those files where they will live on the host (--path-prefix, default
DIR), the plugin wired into the preload keys of the role's processes. With --tar the bundle is one DIR/ROLE-NAME.tar.gz instead,
keeping the files' modes.`,
		Example: `  daskca export node07 --dir ./node07 --path-prefix /etc/dask/tls --scheduler tls://sched01.dask.internal:8786
  daskca export sched01 --dir . --tar --path-prefix /etc/dask/tls`,
		Args: exactArgs(1, "NAME|ROLE/NAME|SERIAL --dir DIR"),
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory to write the bundle into (created 0700)")
	cmd.Flags().StringVar(&o.prefix, "path-prefix", "", "directory where the files will be on the target host (default: DIR)")
	cmd.Flags().BoolVar(&o.tarball, "tar", false, "write DIR/ROLE-NAME.tar.gz instead of loose files")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite existing files")
	o.bind(cmd.Flags())
	return cmd
}

func runExport(cmd *cobra.Command, g *globalOpts, o *exportOpts, name string) error {
	if o.dir == "" {
		return usageError("export needs --dir DIR")
	}
	if err := checkOutDir("--dir", o.dir); err != nil {
		return err
	}
	so, err := o.options()
	if err != nil {
		return err
	}
	l, rec, err := g.findActive(name)
	if err != nil {
		return err
	}
	m, err := material(l, rec, o.combined)
	if err != nil {
		return err
	}
	prefix := o.prefix
	if prefix == "" {
		if prefix, err = filepath.Abs(o.dir); err != nil {
			return err
		}
	}
	files, err := snippet.Bundle(identity.Role(rec.Role), rec.Name, prefix, o.withPlugin(m), so)
	if err != nil {
		return err
	}
	if !o.tarball {
		if err := snippet.WriteDir(o.dir, files, o.force); errors.Is(err, fsutil.ErrExists) {
			return withHint(err, "pass --force to overwrite")
		} else if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files for %s/%s to %s\n", len(files), rec.Role, rec.Name, o.dir)
		return nil
	}
	top := rec.Role + "-" + rec.Name
	out := filepath.Join(o.dir, top+".tar.gz")
	if !o.force && fileExists(out) {
		return withHint(fmt.Errorf("%s: %w", out, fsutil.ErrExists), "pass --force to overwrite")
	}
	var buf bytes.Buffer
	if err := snippet.WriteTarGz(&buf, top, files, g.now()); err != nil {
		return err
	}
	if err := fsutil.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
	return nil
}
