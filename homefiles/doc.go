// Package homefiles is a daskca home's files as the inventory and the CA
// describe them: it checks a home as a whole, checks a pending directory
// before crash recovery places its files (CheckPending), reads an
// endpoint's files for export (ReadEndpoint) and the published CRLs, and
// restores the inventory from a backup.
//
// The store package checks the inventory file on its own terms: pages,
// records, indexes and the audit chain. This package adds what needs the
// rest of the home: every recorded certificate must be what its record says
// and carry a valid signature of a CA certificate of this home (the CA in
// use, one in rotation, or a retired one), and every active certificate's
// files must be in place: the certificate file starting with the recorded
// certificate, the key file holding its private key and readable by the
// owner alone, no file cut short, no key without its certificate.
//
// Restore replaces the inventory with a backup only after the backup has
// passed the same checks against this home's CA, swaps the file in with
// one rename, and keeps the replaced inventory beside it.
package homefiles
