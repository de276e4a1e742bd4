package enrol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The HTTP API (docs/enrollment.md). Bodies are JSON, at most MaxBody bytes.
const (
	PathEnrol = "/v1/enrol" // POST EnrolRequest -> Response; a token pays
	PathRenew = "/v1/renew" // POST RenewRequest -> Response; the client certificate pays
	MaxBody   = 64 << 10    // a CSR of an RSA-4096 key is under 2 KiB
)

// EnrolRequest asks for a first certificate with a token.
type EnrolRequest struct {
	Token string `json:"token"`
	Role  string `json:"role,omitempty"` // if set, must be the token's role
	CSR   string `json:"csr"`            // PEM CERTIFICATE REQUEST: CN = endpoint name, SANs = DNS names and IPs
}

// RenewRequest asks for a new certificate for the client certificate's
// identity and names, for the new key in CSR.
type RenewRequest struct {
	CSR string `json:"csr"`
}

// Response is the answer to both requests.
type Response struct {
	Role        string    `json:"role"`
	Name        string    `json:"name"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
	Certificate string    `json:"certificate"`   // PEM: the leaf, then its chain
	CA          string    `json:"ca"`            // PEM: the trust bundle (Dask's tls.ca-file)
	CRL         string    `json:"crl,omitempty"` // PEM: the CA's CRL when one is published
}

// ErrorBody is the body of every 4xx and 5xx answer.
type ErrorBody struct {
	Error string `json:"error"` // one line, safe to show (never holds a token)
	Code  string `json:"code"`  // stable: see the Code* constants
}

// Error codes.
const (
	CodeBadRequest  = "bad_request"
	CodeToken       = "token"
	CodeScope       = "scope"
	CodeCSR         = "csr"
	CodeRenew       = "renew"
	CodeRateLimited = "rate_limited"
	CodeInternal    = "internal"
	CodeCAChanged   = "ca_changed" // the CA was rotated since the server started: restart it
	CodeCRL         = "crl"        // the server cannot read the CA's CRL: republish it
)

// RefusedError is a refusal by the server, as the client sees it.
type RefusedError struct {
	Status int
	Body   ErrorBody
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused by the enrolment server (%d %s): %s", e.Status, e.Body.Code, e.Body.Error)
}

// decodeJSON reads exactly one JSON object of type T with no unknown
// fields from r, which the caller has bounded.
func decodeJSON[T any](r io.Reader) (T, error) {
	var v T
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return v, fmt.Errorf("request body: %w", jsonError(err))
	}
	if d.More() {
		return v, errors.New("request body: more than one JSON value")
	}
	if _, err := d.Token(); err != io.EOF {
		return v, errors.New("request body: data after the JSON value")
	}
	return v, nil
}

// jsonError keeps JSON errors to one line without echoing input.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q has the wrong type", te.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("incomplete JSON")
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		// Not quoted: a client that sent its token as a key would find it
		// in the audit log.
		return errors.New("unknown field (the fields are token, role and csr; csr for renewal)")
	}
	return errors.New("invalid JSON")
}
