package enrol

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// handleEnrol answers POST /v1/enrol: a token and a CSR give a certificate.
func (s *Server) handleEnrol(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if s.limitedAnswer(w, addr) {
		return
	}
	req, rerr := readBody[EnrolRequest](w, r)
	fl := s.flightOf(r)
	defer fl.land()
	var tokenID, role, name string
	var resp Response
	if rerr == nil {
		tokenID, role, name, resp, rerr = s.enrol(fl, req, addr)
	}
	if rerr != nil {
		s.refused(fl, w, addr, rerr, store.Refusal{Role: role, Name: name, TokenID: tokenID, Client: addr})
		return
	}
	s.logf("enrolled %s/%s serial %s with token %s from %s", resp.Role, resp.Name, resp.Serial, tokenID, addr)
	writeJSON(w, http.StatusOK, resp)
}

// enrol decides and carries out one enrolment. It returns what it learnt
// of the request for the audit log even when refusing.
func (s *Server) enrol(fl *flight, req EnrolRequest, addr string) (tokenID, role, name string, _ Response, _ *RefusedError) {
	tok, err := ParseToken(req.Token)
	if err != nil {
		return "", "", "", Response{}, refusal(http.StatusUnauthorized, CodeToken, "invalid token")
	}
	tokenID = tok.ID
	t, err := s.token(tok.ID)
	switch {
	case errors.Is(err, store.ErrTokenUnknown):
		return tokenID, "", "", Response{}, refusal(http.StatusUnauthorized, CodeToken, "invalid token")
	case err != nil:
		s.logf("reading token %s: %v", tok.ID, err)
		return tokenID, "", "", Response{}, refusal(http.StatusInternalServerError, CodeInternal, "internal error")
	case !t.MatchSecret(tok.Hash()):
		return tokenID, "", "", Response{}, refusal(http.StatusUnauthorized, CodeToken, "invalid token")
	case tok.Root != s.root:
		return tokenID, "", "", Response{}, refusal(http.StatusUnauthorized, CodeToken, "the token names another CA root")
	}
	role = t.Role
	if s.stale.Load() {
		return tokenID, role, "", Response{}, caChanged()
	}
	crl, rerr := s.crl()
	if rerr != nil {
		return tokenID, role, "", Response{}, rerr
	}
	if err := t.Usable(s.now()); err != nil {
		return tokenID, role, "", Response{}, refusal(http.StatusUnauthorized, CodeToken, "%v", err)
	}
	f, err := parseCSR(req.CSR)
	if err != nil {
		return tokenID, role, "", Response{}, refusal(http.StatusBadRequest, CodeCSR, "%v", err)
	}
	name = f.name
	if err := checkScope(t, req.Role, f); err != nil {
		code := CodeScope
		if errors.Is(err, ErrCSR) {
			code = CodeCSR
		}
		return tokenID, role, name, Response{}, refusal(http.StatusForbidden, code, "%v", err)
	}
	ireq := issue.Request{Role: identity.Role(t.Role), Name: f.name, DNS: f.dns, IPs: f.ips, Validity: t.Validity}
	rec, chain, rerr := s.sign(ireq, f)
	if rerr != nil {
		return tokenID, role, name, Response{}, rerr
	}
	if err := s.record(fl, store.Enrolment{Record: rec, TokenID: tok.ID, Client: addr}); err != nil {
		return tokenID, role, name, Response{}, storeRefusal(err)
	}
	return tokenID, role, name, s.response(rec, chain, crl), nil
}

// sign signs through the issuer, turning its refusals into answers.
func (s *Server) sign(req issue.Request, f csrFacts) (store.Record, []byte, *RefusedError) {
	rec, chain, err := s.is.SignPublicKey(req, f.csr.PublicKey)
	switch {
	case err == nil:
		return rec, chain, nil
	case errors.Is(err, ca.ErrNameConstraint):
		return rec, nil, refusal(http.StatusForbidden, CodeScope, "%v", err)
	case errors.Is(err, ca.ErrOutlivesIssuer):
		return rec, nil, refusal(http.StatusForbidden, CodeScope, "%v", err)
	case errors.Is(err, issue.ErrInvalidName), errors.Is(err, issue.ErrInvalidDNS),
		errors.Is(err, issue.ErrInvalidIP), errors.Is(err, issue.ErrWeakKey):
		return rec, nil, refusal(http.StatusBadRequest, CodeCSR, "%v", err)
	}
	s.logf("signing %s/%s: %v", req.Role, req.Name, err)
	return rec, nil, refusal(http.StatusInternalServerError, CodeInternal, "internal error")
}

// storeRefusal turns a per-request decision of the group commit into an
// answer.
func storeRefusal(err error) *RefusedError {
	switch {
	case errors.Is(err, store.ErrGuard):
		return caChanged()
	case errors.Is(err, store.ErrTokenUnknown), errors.Is(err, store.ErrTokenExpired),
		errors.Is(err, store.ErrTokenRevoked), errors.Is(err, store.ErrTokenUsedUp):
		return refusal(http.StatusUnauthorized, CodeToken, "%v", err)
	case errors.Is(err, store.ErrAlreadyRevoked), errors.Is(err, store.ErrSuperseded),
		errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
		return refusal(http.StatusForbidden, CodeRenew, "%v", err)
	}
	return refusal(http.StatusInternalServerError, CodeInternal, "internal error recording the certificate")
}

// handleRenew answers POST /v1/renew: the client certificate asks for a new
// certificate with the same identity and names for a new key.
func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if s.limitedAnswer(w, addr) {
		return
	}
	ref := store.Refusal{Client: addr}
	req, rerr := readBody[RenewRequest](w, r)
	fl := s.flightOf(r)
	defer fl.land()
	var resp Response
	if rerr == nil {
		resp, rerr = s.renew(fl, r, req, &ref)
	}
	if rerr != nil {
		s.refused(fl, w, addr, rerr, ref)
		return
	}
	s.logf("renewed %s/%s: serial %s replaces %s, from %s", resp.Role, resp.Name, resp.Serial, ref.Serial, addr)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) renew(fl *flight, r *http.Request, req RenewRequest, ref *store.Refusal) (Response, *RefusedError) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return Response{}, refusal(http.StatusUnauthorized, CodeRenew, "renewal needs the current certificate as TLS client certificate")
	}
	cur := r.TLS.VerifiedChains[0][0]
	id, err := identity.FromCertificate(cur)
	if err != nil {
		return Response{}, refusal(http.StatusForbidden, CodeRenew, "the client certificate is not a daskca endpoint certificate")
	}
	ref.Role, ref.Name, ref.Serial = string(id.Role), id.Name, issue.SerialString(cur)
	if s.stale.Load() {
		return Response{}, caChanged()
	}
	crl, rerr := s.crl()
	if rerr != nil {
		return Response{}, rerr
	}
	f, err := parseCSR(req.CSR)
	if err != nil {
		return Response{}, refusal(http.StatusBadRequest, CodeCSR, "%v", err)
	}
	if err := sameNames(cur, id, f); err != nil {
		return Response{}, refusal(http.StatusForbidden, CodeScope, "%v", err)
	}
	ireq := issue.Request{Role: id.Role, Name: id.Name, DNS: cur.DNSNames, IPs: ipStrings(cur),
		Validity: cur.NotAfter.Sub(cur.NotBefore) - issue.Backdate}
	if ireq.Validity <= 0 {
		ireq.Validity = cur.NotAfter.Sub(cur.NotBefore)
	}
	rec, chain, rerr := s.sign(ireq, f)
	if rerr != nil {
		return Response{}, rerr
	}
	if err := s.record(fl, store.Enrolment{Record: rec, Renews: ref.Serial, Client: ref.Client}); err != nil {
		return Response{}, storeRefusal(err)
	}
	return s.response(rec, chain, crl), nil
}

// limitedAnswer answers 429 if addr has used up its failed attempts.
func (s *Server) limitedAnswer(w http.ResponseWriter, addr string) bool {
	limited, wait, first := s.limiter.limited(addr, s.now())
	if !limited {
		return false
	}
	if first {
		s.refuse(nil, store.Refusal{Client: addr, Reason: "too many failed attempts: rate limited"})
		s.logf("rate limiting %s", addr)
	}
	secs := int(wait/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, ErrorBody{Code: CodeRateLimited,
		Error: "too many failed attempts from " + addr + "; retry in " + strconv.Itoa(secs) + "s"})
	return true
}

// refused records and answers a refusal, and counts it against addr.
func (s *Server) refused(fl *flight, w http.ResponseWriter, addr string, e *RefusedError, f store.Refusal) {
	if e.Status < 500 {
		s.limiter.fail(addr, s.now())
	}
	f.Reason = e.Body.Error
	s.refuse(fl, f)
	what := "a request"
	if f.Role != "" || f.Name != "" {
		what = f.Role + "/" + f.Name
	}
	if f.TokenID != "" {
		what += " with token " + f.TokenID
	}
	s.logf("refused %s from %s: %s", what, addr, e.Body.Error)
	writeJSON(w, e.Status, e.Body)
}

// readBody reads a bounded JSON body.
func readBody[T any](w http.ResponseWriter, r *http.Request) (T, *RefusedError) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	v, err := decodeJSON[T](r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return v, refusal(http.StatusRequestEntityTooLarge, CodeBadRequest, "request body larger than %d bytes", MaxBody)
		}
		return v, refusal(http.StatusBadRequest, CodeBadRequest, "%v", err)
	}
	return v, nil
}

// writeJSON answers with v as JSON. The body is encoded first so that the
// answer goes out with its length, headers and body in one TLS record
// rather than chunked over several writes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":"internal","error":"internal error"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// sameNames checks that a renewal asks for what the current certificate
// has: its name (CN), its role (OU, if given), its DNS names and IPs (if
// the CSR names any; none means the same), and a new key.
func sameNames(cur *x509.Certificate, id identity.ID, f csrFacts) error {
	switch {
	case f.name != id.Name:
		return fmt.Errorf("%w: a renewal keeps the name %s (the CSR asks for %s)", ErrScope, id.Name, f.name)
	case f.role != "" && f.role != string(id.Role):
		return fmt.Errorf("%w: a renewal keeps the role %s", ErrScope, id.Role)
	case len(f.dns)+len(f.ips) > 0 && (!sameSet(f.dns, cur.DNSNames) || !sameSet(f.ips, ipStrings(cur))):
		return fmt.Errorf("%w: a renewal keeps the DNS names and IPs of the current certificate", ErrScope)
	}
	pub, err := x509.MarshalPKIXPublicKey(f.csr.PublicKey)
	if err == nil && bytes.Equal(pub, cur.RawSubjectPublicKeyInfo) {
		return fmt.Errorf("%w: a renewal needs a new key", ErrScope)
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
