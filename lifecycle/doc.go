// Package lifecycle keeps the certificates of a daskca home alive after
// they are issued: renewal, revocation and CRLs, the health of the whole
// inventory, and the phased rotation of the CA itself.
//
// # Files and inventory in step
//
// Renewal and the re-issue of a rotation replace certificates through
// issue's one pipeline (issue.Issuer.PlanReissue, then IssueBulk): keys and
// signatures on every core, files staged in pending directories, batches
// recorded in one inventory transaction each (the new records supersede
// and link the old ones), files renamed into place afterwards, key before
// certificate; issue.Issuer.Recover, which the pipeline and every writing
// command run first, finishes what a crash left. A renewal run also
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
// The phase is kept in the inventory. issue and abort re-issue in batches
// and record the phase after the last one, so that a crash leaves the old
// phase with part of the certificates re-issued, and re-running the phase
// re-issues the rest. Directories are then moved to match the phase; every
// rotation command first moves them to match the recorded phase, so
// re-running a phase after a crash completes it.
package lifecycle
