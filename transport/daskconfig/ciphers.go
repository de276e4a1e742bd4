package daskconfig

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Cipher strings.
//
// distributed.comm.tls.ciphers is an OpenSSL cipher string that Dask hands to
// ssl.SSLContext.set_ciphers. It restricts TLS 1.2 only: TLS 1.3 suites are
// never restricted, in Dask or here, and all three TLS 1.3 suites are AEAD
// with forward secrecy.
//
// This package accepts only TLS 1.2 suites that are AEAD and have forward
// secrecy, which in Go are the six ECDHE suites with AES-GCM or
// ChaCha20-Poly1305; they are also the default when no string is set.
//
// Accepted in a string, separated by ':', ',' or spaces:
//   - the six OpenSSL names, e.g. ECDHE-ECDSA-AES128-GCM-SHA256;
//   - the aliases ALL, DEFAULT, HIGH, TLSv1.2, ECDHE, EECDH, kECDHE, kEECDH,
//     ECDH, aECDSA, ECDSA, aRSA, AESGCM, AES, AES128, AES256, CHACHA20 and
//     FIPS, each meaning its members among those six (checked against
//     `openssl ciphers`);
//   - "A+B" for the suites in both A and B; "!X" and "-X" to remove X;
//     "+X" (move to end) and "@STRENGTH"/"@SECLEVEL=n", which change only
//     the order, and Go does not use the order.
//
// Names and aliases of secure suites that Go does not implement (DHE-*,
// ARIA, CAMELLIA, CCM, ...) and the TLS 1.3 names select nothing, as OpenSSL
// skips names it lacks, so Mozilla's "intermediate" string works. Insecure
// choices (NULL, anonymous, export, RC4, DES, 3DES, MD5, CBC, RSA key
// exchange without forward secrecy, PSK, SRP, DSS) are refused when selected
// and allowed when excluded (!RC4). Anything unknown is an error, so a typo
// is never silently dropped; a string that selects nothing is an error.

type cipherSuite struct {
	id   uint16
	name string   // OpenSSL name
	tags []string // aliases it belongs to, beyond allSuiteAliases
}

var tls12Suites = []cipherSuite{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", []string{"aECDSA", "ECDSA", "AESGCM", "AES", "AES128", "FIPS"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", []string{"aRSA", "AESGCM", "AES", "AES128", "FIPS"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", []string{"aECDSA", "ECDSA", "AESGCM", "AES", "AES256", "FIPS"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", []string{"aRSA", "AESGCM", "AES", "AES256", "FIPS"}},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, "ECDHE-ECDSA-CHACHA20-POLY1305", []string{"aECDSA", "ECDSA", "CHACHA20"}},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, "ECDHE-RSA-CHACHA20-POLY1305", []string{"aRSA", "CHACHA20"}},
}

// allSuiteAliases contain every suite above.
var allSuiteAliases = []string{"ALL", "DEFAULT", "HIGH", "TLSv1.2", "ECDHE", "EECDH", "kECDHE", "kEECDH", "ECDH"}

// refusedAliases select only insecure suites; the value says why.
var refusedAliases = map[string]string{
	"NULL": "no encryption", "eNULL": "no encryption", "aNULL": "no authentication",
	"ADH": "no authentication", "AECDH": "no authentication",
	"EXP": "export grade", "EXPORT": "export grade", "LOW": "weak", "MEDIUM": "weak",
	"RC4": "RC4 is broken", "DES": "DES is broken", "3DES": "3DES is weak (Sweet32)", "MD5": "MD5 is broken",
	"SHA1": "CBC with HMAC-SHA1", "SHA": "CBC with HMAC-SHA1",
	"RSA": "RSA key exchange has no forward secrecy", "kRSA": "RSA key exchange has no forward secrecy",
	"PSK": "pre-shared keys, not certificates", "SRP": "passwords, not certificates",
	"DSS": "DSA certificates", "aDSS": "DSA certificates",
}

// unimplementedAliases name secure suites Go does not implement, or suites
// selected through other names; they select nothing here.
var unimplementedAliases = map[string]bool{
	"DH": true, "DHE": true, "EDH": true, "kDHE": true, "kEDH": true,
	"ARIA": true, "ARIA128": true, "ARIA256": true, "CAMELLIA": true, "AESCCM": true, "AESCCM8": true,
	"SEED": true, "IDEA": true, "SHA256": true, "SHA384": true, "SUITEB128": true, "SUITEB192": true,
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
}

// DefaultCipherSuites returns the TLS 1.2 suites used when no cipher string
// is set: all six ECDHE AEAD suites.
func DefaultCipherSuites() []uint16 {
	out := make([]uint16, len(tls12Suites))
	for i, s := range tls12Suites {
		out[i] = s.id
	}
	return out
}

// ParseCiphers maps an OpenSSL cipher string to Go TLS 1.2 suite IDs (see
// the comment at the top of ciphers.go for what is accepted). It also
// returns the names that selected nothing because Go does not implement
// them. Errors wrap ErrBadCipher and name the offending cipher. The result
// is in a fixed order; Go does not use the order.
func ParseCiphers(s string) (ids []uint16, skipped []string, err error) {
	chosen := map[uint16]bool{}
	removed := map[uint16]bool{}
	tokens := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	for _, tok := range tokens {
		if strings.HasPrefix(tok, "@") {
			continue // @STRENGTH, @SECLEVEL=n: ordering and OpenSSL policy only
		}
		op := byte(0)
		if strings.ContainsRune("!-+", rune(tok[0])) {
			op, tok = tok[0], tok[1:]
		}
		set, skip, err := cipherTerm(tok, op == 0)
		if err != nil {
			return nil, nil, err
		}
		skipped = append(skipped, skip...)
		for id := range set {
			switch op {
			case 0:
				chosen[id] = true
			case '!', '-':
				removed[id] = true
			}
		}
	}
	for _, st := range tls12Suites {
		if chosen[st.id] && !removed[st.id] {
			ids = append(ids, st.id)
		}
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%w: %q selects no TLS 1.2 cipher suite usable here "+
			"(use e.g. ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256, or leave ciphers unset)", ErrBadCipher, s)
	}
	return ids, skipped, nil
}

// cipherTerm resolves "A+B+..." to the suites in every part. selecting is
// false for exclusions, where insecure names are welcome.
func cipherTerm(term string, selecting bool) (map[uint16]bool, []string, error) {
	var result map[uint16]bool
	var skipped []string
	for _, part := range strings.Split(term, "+") {
		set, skip, err := cipherName(part, selecting)
		if err != nil {
			return nil, nil, err
		}
		if skip {
			skipped = append(skipped, part)
		}
		if result == nil {
			result = set
			continue
		}
		for id := range result {
			if !set[id] {
				delete(result, id)
			}
		}
	}
	return result, skipped, nil
}

// cipherName resolves one name or alias. skip reports a known name that
// selects nothing because Go lacks it.
func cipherName(name string, selecting bool) (set map[uint16]bool, skip bool, err error) {
	set = map[uint16]bool{}
	for _, st := range tls12Suites {
		if name == st.name || contains(allSuiteAliases, name) || contains(st.tags, name) {
			set[st.id] = true
		}
	}
	if len(set) > 0 {
		return set, false, nil
	}
	if why := insecureReason(name); why != "" {
		if selecting {
			return nil, false, fmt.Errorf("%w: %q is refused: %s (remove it, or exclude it with !%s; "+
				"ECDHE-ECDSA-AES128-GCM-SHA256 and ECDHE-RSA-AES128-GCM-SHA256 are safe choices)", ErrBadCipher, name, why, name)
		}
		return set, false, nil
	}
	if unimplementedAliases[name] || unimplementedName(name) {
		return set, selecting, nil
	}
	if strings.HasPrefix(name, "TLS_") {
		return nil, false, fmt.Errorf("%w: %q is an IANA name; Dask's OpenSSL wants OpenSSL names such as "+
			"ECDHE-ECDSA-AES128-GCM-SHA256", ErrBadCipher, name)
	}
	return nil, false, fmt.Errorf("%w: unknown cipher or alias %q (see `openssl ciphers -v`; "+
		"supported: ECDHE-{ECDSA,RSA}-AES{128-GCM-SHA256,256-GCM-SHA384}, ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305, HIGH, ECDHE, AESGCM, CHACHA20)",
		ErrBadCipher, name)
}

// insecureReason classifies OpenSSL suite names and aliases that select
// insecure suites; it returns "" for anything else.
func insecureReason(name string) string {
	if why, ok := refusedAliases[name]; ok {
		return why
	}
	if !looksLikeSuite(name) {
		return ""
	}
	aead := strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20") || strings.Contains(name, "CCM")
	switch {
	case strings.Contains(name, "NULL"):
		return "no encryption"
	case strings.HasPrefix(name, "EXP"):
		return "export grade"
	case strings.HasPrefix(name, "ADH") || strings.HasPrefix(name, "AECDH"):
		return "no authentication"
	case strings.Contains(name, "RC4"):
		return "RC4 is broken"
	case strings.Contains(name, "DES"):
		return "DES and 3DES are weak (Sweet32)"
	case strings.Contains(name, "MD5"):
		return "MD5 is broken"
	case strings.Contains(name, "PSK") || strings.Contains(name, "SRP"):
		return "not certificate based"
	case strings.Contains(name, "DSS"):
		return "DSA certificates"
	case !aead:
		return "CBC mode (MAC-then-encrypt, padding-oracle attacks); use an AES-GCM or CHACHA20 suite"
	case !strings.HasPrefix(name, "ECDHE-") && !strings.HasPrefix(name, "DHE-"):
		return "RSA key exchange has no forward secrecy"
	}
	return ""
}

// unimplementedName reports secure OpenSSL suite names Go lacks: DHE,
// ARIA, CAMELLIA and CCM suites with forward secrecy.
func unimplementedName(name string) bool {
	return looksLikeSuite(name) && insecureReason(name) == "" &&
		(strings.HasPrefix(name, "DHE-") || strings.Contains(name, "ARIA") ||
			strings.Contains(name, "CAMELLIA") || strings.Contains(name, "CCM"))
}

// looksLikeSuite reports whether name has the shape of an OpenSSL suite
// name: upper-case words joined by '-', with a cipher in them.
func looksLikeSuite(name string) bool {
	if !strings.Contains(name, "-") {
		return false
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	for _, c := range []string{"AES", "CHACHA", "RC4", "DES", "NULL", "CAMELLIA", "ARIA", "SEED", "IDEA"} {
		if strings.Contains(name, c) {
			return true
		}
	}
	return false
}
