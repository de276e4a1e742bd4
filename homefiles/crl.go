package homefiles

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// CRLCounter is the inventory counter that numbers CRLs.
const CRLCounter = "crl-number"

// Published is what the CRLs in the home's crl.pem say.
type Published struct {
	Highest uint64                // the highest CRL number in the file
	Revoked map[string]Revocation // by serial, lower-case hex
}

// Revocation is one entry of a published CRL.
type Revocation struct {
	At     time.Time
	Reason int    // RFC 5280 reason code
	Number uint64 // the number of the CRL that lists it
}

// ReadPublished reads the home's crl.pem. Every CRL in it must be signed by
// a CA certificate of as (ErrForeign otherwise), so a planted file revokes
// nothing. A missing file is an empty Published.
func ReadPublished(l home.Layout, as Authorities) (Published, error) {
	p := Published{Revoked: map[string]Revocation{}}
	crls, err := readCRLs(l.CRL())
	if err != nil {
		return p, err
	}
	for _, c := range crls {
		if !as.signedCRL(c) {
			return p, fmt.Errorf("%s: the CRL of %q is not signed by a CA of this home: %w", l.CRL(), c.Issuer.String(), ErrForeign)
		}
		n := c.Number.Uint64()
		p.Highest = max(p.Highest, n)
		for _, e := range c.RevokedCertificateEntries {
			p.Revoked[e.SerialNumber.Text(16)] = Revocation{At: e.RevocationTime, Reason: e.ReasonCode, Number: n}
		}
	}
	return p, nil
}

func (as Authorities) signedCRL(c *x509.RevocationList) bool {
	for _, a := range as {
		if c.CheckSignatureFrom(a) == nil {
			return true
		}
	}
	return false
}

// readCRLs parses the PEM CRLs of path; a missing file has none.
func readCRLs(path string) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*x509.RevocationList
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if c.Number == nil || c.Number.Sign() < 0 || !c.Number.IsUint64() {
			return nil, fmt.Errorf("%s: CRL number %v out of range", path, c.Number)
		}
		out = append(out, c)
	}
	return out, nil
}

// CRLFloor is the number every next CRL of the home must exceed, whatever
// the inventory's counter says: the highest of the high-water mark
// (home.Layout.CRLNumber) and the numbers of the CRLs in crl.pem. An
// inventory restored from an older backup counts from an older number;
// this does not.
func CRLFloor(l home.Layout) (uint64, error) {
	n, err := readHighWater(l)
	if err != nil {
		return 0, err
	}
	crls, err := readCRLs(l.CRL())
	if err != nil {
		return 0, fmt.Errorf("reading the CRL numbers published: %w", err)
	}
	for _, c := range crls {
		n = max(n, c.Number.Uint64())
	}
	return n, nil
}

// NextCRLNumber takes the next CRL number from the inventory s, above
// CRLFloor, and records it as the home's high-water mark before returning
// it, so no CRL number is ever signed twice, even across a restore.
func NextCRLNumber(l home.Layout, s *store.Store) (uint64, error) {
	floor, err := CRLFloor(l)
	if err != nil {
		return 0, err
	}
	n, err := s.NextCounterAbove(CRLCounter, floor)
	if err != nil {
		return 0, err
	}
	if err := fsutil.WriteFile(l.CRLNumber(), []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("recording CRL number %d: %w", n, err)
	}
	return n, nil
}

func readHighWater(l home.Layout) (uint64, error) {
	data, err := os.ReadFile(l.CRLNumber())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: not a CRL number: %w", l.CRLNumber(), err)
	}
	return n, nil
}

// checkCRL compares the published CRLs with the inventory: a certificate a
// CRL lists must be revoked in the inventory (else the inventory would
// un-revoke it at the next daskca crl), and the inventory's CRL counter
// should not be behind the numbers published.
func checkCRL(l home.Layout, s *store.Store, as Authorities, rep *Report) error {
	p, err := ReadPublished(l, as)
	if err != nil {
		rep.problem("%v", err)
		return nil
	}
	for _, d := range Unrevoked(s, p) {
		rep.problem("%s", d)
	}
	floor, err := CRLFloor(l)
	if err != nil {
		rep.problem("%v", err)
		return nil
	}
	n, err := s.Counter(CRLCounter)
	if err != nil {
		return err
	}
	if n < floor {
		rep.note(fmt.Sprintf("the inventory's CRL counter (%d) is behind the highest CRL number published (%d), as after a restore: the next daskca crl signs CRL #%d", n, floor, floor+1))
	}
	return nil
}

// Unrevoked lists, as sentences, the certificates the published CRLs p
// revoke that the inventory s does not hold as revoked.
func Unrevoked(s *store.Store, p Published) []string {
	serials := make([]string, 0, len(p.Revoked))
	for serial := range p.Revoked {
		serials = append(serials, serial)
	}
	slices.Sort(serials)
	var out []string
	for _, serial := range serials {
		r := p.Revoked[serial]
		rec, err := s.Cert(serial)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out = append(out, fmt.Sprintf("serial %s is revoked in crl.pem (CRL #%d) but is not in the inventory (an older inventory restored?): the next daskca crl would drop it; restore the newer inventory kept aside as inventory.db.before-restore-*", serial, r.Number))
		case err != nil:
			out = append(out, fmt.Sprintf("serial %s of crl.pem: %v", serial, err))
		case rec.Status != store.Revoked:
			out = append(out, fmt.Sprintf("%s/%s (serial %s) is revoked in crl.pem (CRL #%d) but %s in the inventory: the next daskca crl would un-revoke it; run daskca revoke %s", rec.Role, rec.Name, serial, r.Number, rec.Status, serial))
		}
	}
	return out
}
