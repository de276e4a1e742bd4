package lifecycle

import (
	"fmt"
	"strings"
)

// Reason is a revocation reason by its RFC 5280 (section 5.3.1) name.
type Reason string

// The reasons revoke accepts. certificateHold is left out: a hold can be
// lifted, and daskca's revocations are final. cACompromise and aACompromise
// concern CA and attribute certificates, not endpoint leaves.
const (
	Unspecified          Reason = "unspecified"
	KeyCompromise        Reason = "keyCompromise"
	AffiliationChanged   Reason = "affiliationChanged"
	Superseded           Reason = "superseded"
	CessationOfOperation Reason = "cessationOfOperation"
	PrivilegeWithdrawn   Reason = "privilegeWithdrawn"
)

// reasonCodes are the CRLReason values of RFC 5280.
var reasonCodes = map[Reason]int{
	Unspecified:          0,
	KeyCompromise:        1,
	AffiliationChanged:   3,
	Superseded:           4,
	CessationOfOperation: 5,
	PrivilegeWithdrawn:   9,
}

// Reasons lists the accepted reasons in CRLReason order.
var Reasons = []Reason{Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation, PrivilegeWithdrawn}

// ParseReason reads a reason name, ignoring case ("keycompromise" is
// KeyCompromise). The empty string is Unspecified.
func ParseReason(s string) (Reason, error) {
	if s == "" {
		return Unspecified, nil
	}
	for _, r := range Reasons {
		if strings.EqualFold(s, string(r)) {
			return r, nil
		}
	}
	names := make([]string, len(Reasons))
	for i, r := range Reasons {
		names[i] = string(r)
	}
	return "", fmt.Errorf("%w %q (use one of %s)", ErrUnknownReason, s, strings.Join(names, ", "))
}

// Code returns the CRLReason value of r; an unknown reason is 0
// (unspecified), which a CRL entry leaves out.
func (r Reason) Code() int { return reasonCodes[r] }

// retires reports whether a certificate revoked for r has left service, so
// that status does not count it as revoked and still in use.
func (r Reason) retires() bool { return r == CessationOfOperation || r == Superseded }
