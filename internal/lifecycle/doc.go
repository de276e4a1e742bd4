// Package lifecycle keeps the certificates of a daskca home alive after
// they are issued: renewal, revocation and CRLs, the health of the whole
// inventory, and the phased rotation of the CA itself.
//
// # Files and inventory in step
//
// Every operation that replaces a certificate follows one order, so that a
// crash at any point leaves something the next run can finish:
//
//  1. sign the new certificate and write all its files, synced, into a
//     pending directory beside the endpoint's files
//     (certs/<role>/<name>/.pending-<serial>/, see home.Layout.PendingDir);
//  2. commit one inventory transaction recording the new certificate,
//     marking the old one superseded and linking the two, with audit events;
//  3. rename the pending files over the endpoint's files (key before
//     certificate) and remove the pending directory.
//
// Recover, which every writing operation runs first, finishes step 3 for a
// pending directory whose serial the inventory holds as active, and removes
// one whose serial it does not (a crash before step 2). A renewal run also
// records which certificates it set out to renew before it starts, so that
// re-running it after a crash renews what was left and nothing twice.
//
// # Time
//
// Decisions that depend on time (the renewal window, what status reports)
// are pure functions taking the time as an argument; Manager.Now injects it.
//
// # CA rotation
//
// A rotation moves every endpoint from the CA in use (old) to a new one
// without a moment in which two endpoints distrust each other:
//
//	begin   create the new CA in ca-next/; every bundle written now holds
//	        the old and the new root (ca.OverlapFile)
//	issue   the new CA becomes the signing CA (ca/, the old one moves to
//	        ca-previous/) and every active leaf is re-issued under it
//	finish  once no unexpired active leaf depends on the old CA, bundles
//	        hold the new root alone and the old CA is retired
//	abort   leaves re-issued under the new CA go back to the old one, which
//	        signs again alone; the new CA is retired
//
// The phase is kept in the inventory and changes in the same transaction
// as the certificates a phase issues. Directories are then moved to match
// the phase; every rotation command first moves them to match the recorded
// phase, so re-running a phase after a crash completes it.
package lifecycle
