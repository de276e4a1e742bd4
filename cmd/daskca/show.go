package main

import (
	"github.com/spf13/cobra"

	"github.com/daskca/daskca/issue"
)

func newShowCmd(g *globalOpts) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME|ROLE/NAME|SERIAL",
		Short: "Show one certificate of the inventory",
		Example: `  daskca show node07
  daskca show worker/node07 -o json
  daskca show 3f2a9c... -o pem | openssl x509 -noout -text`,
		Args: exactArgs(1, "NAME|ROLE/NAME|SERIAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "text", "json", "pem"); err != nil {
				return err
			}
			_, s, err := g.openHome(true)
			if err != nil {
				return err
			}
			defer s.Close()
			rec, err := issue.Find(s, args[0])
			if err != nil {
				return err
			}
			if output == "pem" {
				_, err := cmd.OutOrStdout().Write(issue.CertPEM(rec))
				return err
			}
			return printInfo(cmd, output, issue.NewInfo(rec, g.now()))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or pem")
	return cmd
}
