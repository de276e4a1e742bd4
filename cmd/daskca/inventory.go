package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/homefiles"
)

func newInventoryCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory check",
		Short: "Check the inventory and the issued files",
		Args:  exactArgs(0, "SUBCOMMAND"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newInventoryCheckCmd(g))
	return cmd
}

type inventoryCheckOpts struct {
	output string
}

func newInventoryCheckCmd(g *globalOpts) *cobra.Command {
	o := &inventoryCheckOpts{}
	cmd := &cobra.Command{
		Use:   "check [-o json]",
		Short: "Verify every record, index, the audit chain, CA signatures and the files in place",
		Long: `Check reads the whole home without changing it and verifies:
  - the inventory file: its pages, every record, every index entry, the
    record count and the hash chain of the audit log;
  - every recorded certificate: it is the one its record describes and
    carries a valid signature of a CA of this home;
  - every active certificate's files: cert.pem starts with the recorded
    certificate, key.pem holds its key and is readable by its owner only,
    nothing is cut short, and no key.pem lacks its cert.pem.
Unfinished work that re-running the interrupted command completes (files of
a renewal not yet in place, temporary files) is listed as notes. It exits 1
when it finds a problem.`,
		Example: `  daskca inventory check
  daskca inventory check -o json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runInventoryCheck(cmd, g, o) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runInventoryCheck(cmd *cobra.Command, g *globalOpts, o *inventoryCheckOpts) error {
	if err := checkFormat(o.output, "text", "json"); err != nil {
		return err
	}
	l, s, err := g.openHome(true)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := homefiles.Check(l, s)
	if err != nil {
		return caError(err, l)
	}
	w := cmd.OutOrStdout()
	if o.output == "json" {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(w, "problem:", p)
		}
		for _, n := range rep.Notes {
			fmt.Fprintln(w, "note:", n)
		}
		if rep.NotesOmitted > 0 {
			fmt.Fprintf(w, "note: ... and %d more\n", rep.NotesOmitted)
		}
		fmt.Fprintf(w, "%s: %d records, %d audit events, %d certificates signed by this CA, files of %d active certificates checked\n",
			rep.Inventory, rep.Records, rep.Events, rep.Verified, rep.Active)
	}
	if rep.OK() {
		return nil
	}
	return withHint(fmt.Errorf("%w: %d", homefiles.ErrProblems, len(rep.Problems)+rep.Omitted),
		"re-issue endpoints whose files are wrong (daskca issue --force); if records are damaged, restore the inventory from a backup (daskca restore FILE)")
}
