package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/store"
)

func newBackupCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the inventory to FILE while daskca keeps working",
		Long: `Backup copies the inventory in one read transaction, so the copy is consistent
even while other daskca commands wait to write. FILE is written 0600,
synced, and must not exist; the copy is then verified (pages, records,
indexes, audit chain). The CA directory is not included: keep a copy of
$DASKCA_HOME/ca (its keys are encrypted) with the backup.`,
		Example: `  daskca backup /backups/daskca-$(date +%F).db
  daskca restore /backups/daskca-2026-03-01.db`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error { return runBackup(cmd, g, args[0]) },
	}
}

func runBackup(cmd *cobra.Command, g *globalOpts, file string) error {
	if file == "" {
		return usageError("backup needs a file name")
	}
	if err := checkParentDir("backup", file); err != nil {
		return err
	}
	l, s, err := g.openHome(true)
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.BackupFile(file)
	if errors.Is(err, store.ErrExists) {
		return withHint(fmt.Errorf("%s exists", file), "choose a new file name; a backup never overwrites another")
	}
	if err != nil {
		return err
	}
	if err := store.VerifyFile(file); err != nil {
		return fmt.Errorf("the backup does not verify: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote a verified backup of %s (%d bytes) to %s\n", l.Inventory(), n, file)
	return nil
}

type restoreOpts struct {
	forget bool
}

func newRestoreCmd(g *globalOpts) *cobra.Command {
	o := &restoreOpts{}
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the inventory with a backup, keeping revocations and the current one aside",
		Long: `Restore replaces the inventory with a backup made by daskca backup. It refuses
a file that is not a sound inventory, or one holding a certificate that no
CA of this home signed.

A restore never un-revokes. Every revocation made since the backup is
carried into the restored inventory: the revoked certificates of the
current inventory, and every entry of the CRLs the home has published
(crl.pem). If crl.pem revokes a certificate that neither the backup nor the
current inventory holds, restore refuses: --forget-revocations goes ahead
anyway, and the next CRL no longer lists those certificates. CRL numbers
never go back either: the next daskca crl continues above the highest
number the home has published.

The replaced inventory is kept beside it as inventory.db.before-restore-TIME;
the swap is one rename, so a crash leaves the old or the new inventory.
Certificates issued after the backup was taken are not in it: daskca
inventory check then reports their files.`,
		Example: `  daskca restore /backups/daskca-2026-03-01.db
  daskca inventory check`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd, g, o, args[0]) },
	}
	cmd.Flags().BoolVar(&o.forget, "forget-revocations", false, "restore even if crl.pem revokes certificates no inventory holds (they leave the CRL)")
	return cmd
}

func runRestore(cmd *cobra.Command, g *globalOpts, o *restoreOpts, file string) error {
	if file == "" {
		return usageError("restore needs a file name")
	}
	l, err := g.layout()
	if err != nil {
		return err
	}
	if !fileExists(l.CADir()) {
		return withHint(fmt.Errorf("no daskca CA in %s", l.Dir), "restore the CA directory first, or pass --home")
	}
	r, err := homefiles.Restore(l, file, homefiles.RestoreOptions{Now: g.now(), Actor: g.actor, ForgetRevocations: o.forget})
	if err != nil {
		return restoreError(err, l.Inventory())
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "restored %d records and %d audit events from %s\n", r.Records, r.Events, file)
	if r.Carried+r.Imported > 0 {
		fmt.Fprintf(w, "carried %d revocation(s) made since the backup into it (%d revoked certificate(s) copied from the current inventory)\n", r.Carried+r.Imported, r.Imported)
	}
	if len(r.Forgotten) > 0 {
		fmt.Fprintf(w, "forgot %d revocation(s) of crl.pem that no inventory holds (--forget-revocations)\n", len(r.Forgotten))
	}
	if r.Aside != "" {
		fmt.Fprintf(w, "the previous inventory is kept at %s\n", r.Aside)
	}
	return nil
}

func restoreError(err error, inv string) error {
	switch {
	case errors.Is(err, homefiles.ErrUnrevoke):
		return withHint(err, "restore a newer backup, or the inventory kept aside by an earlier restore; --forget-revocations restores anyway and drops them from the next CRL; nothing was changed")
	case errors.Is(err, homefiles.ErrForeign):
		return withHint(err, "restore a backup of this home's inventory; nothing was changed")
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrSchema):
		return withHint(err, "the backup is damaged or not an inventory; nothing was changed")
	case errors.Is(err, store.ErrLocked):
		return withHint(err, "another daskca process is using %s; wait for it to finish and retry", inv)
	}
	return err
}
