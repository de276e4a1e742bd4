package main

import (
	"github.com/spf13/cobra"

	"github.com/daskca/daskca/issue"
)

type showOpts struct {
	output string
}

func newShowCmd(g *globalOpts) *cobra.Command {
	o := &showOpts{}
	cmd := &cobra.Command{
		Use:   "show NAME|ROLE/NAME|SERIAL",
		Short: "Show one certificate of the inventory",
		Example: `  daskca show node07
  daskca show worker/node07 -o json
  daskca show 3f2a9c... -o pem | openssl x509 -noout -text`,
		Args: exactArgs(1, "NAME|ROLE/NAME|SERIAL"),
		RunE: func(cmd *cobra.Command, args []string) error { return runShow(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text, json or pem")
	return cmd
}

func runShow(cmd *cobra.Command, g *globalOpts, o *showOpts, name string) error {
	if err := checkFormat(o.output, "text", "json", "pem"); err != nil {
		return err
	}
	_, s, err := g.openHome(true)
	if err != nil {
		return err
	}
	defer s.Close()
	rec, err := issue.Find(s, name)
	if err != nil {
		return err
	}
	if o.output == "pem" {
		_, err := cmd.OutOrStdout().Write(issue.CertPEM(rec))
		return err
	}
	return printInfo(cmd, o.output, issue.NewInfo(rec, g.now()))
}
