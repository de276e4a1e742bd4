package enrol

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/daskca/daskca/ca"
)

// clientTimeout bounds one request of the client, handshake included;
// handshakeTimeout bounds its TCP connection and TLS handshake.
const (
	clientTimeout    = 60 * time.Second
	handshakeTimeout = 15 * time.Second
)

// Request is what an enrolling host asks for.
type Request struct {
	Server  string     // https://HOST:PORT
	Token   string     // as printed by daskca token create
	Role    string     // optional: checked against the token's
	Name    string     // the endpoint name
	DNS     []string   // DNS SANs
	IPs     []string   // IP SANs
	KeyType ca.KeyType // zero: ca.ECP256
}

// Issued is a certificate the server gave, with the key it is for.
type Issued struct {
	Response
	Key   crypto.Signer
	Leaf  *x509.Certificate
	Chain []byte // PEM, as Response.Certificate
}

// Enrol generates a key here, sends a CSR with the token and checks what
// comes back: the server must present a chain to the root the token names,
// the certificate must be for this key and name and chain to the bundle it
// sent, and the bundle must hold that root. The key never leaves.
func Enrol(ctx context.Context, r Request) (*Issued, error) {
	tok, err := ParseToken(r.Token)
	if err != nil {
		return nil, err
	}
	u, err := serverURL(r.Server)
	if err != nil {
		return nil, err
	}
	key, err := ca.GenerateKey(r.KeyType)
	if err != nil {
		return nil, err
	}
	csr, err := makeCSR(key, r.Name, r.DNS, r.IPs)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(EnrolRequest{Token: tok.String(), Role: r.Role, CSR: string(csr)})
	resp, err := post(ctx, pinnedConfig(tok.Root, u.Hostname()), u, PathEnrol, body)
	if err != nil {
		return nil, err
	}
	return checkIssued(resp, key, r.Name, &tok.Root)
}

// Renewal is what a host renewing its certificate needs.
type Renewal struct {
	Server string           // https://HOST:PORT
	Cert   tls.Certificate  // the current certificate and key
	Roots  *x509.CertPool   // the trust bundle (the current ca.pem)
	Name   string           // the endpoint name, checked in the answer
	Now    func() time.Time // zero: time.Now
}

// ErrExpired is returned when the current certificate can no longer renew.
var ErrExpired = errors.New("the current certificate has expired; enrol again with a token")

// Renew asks for a certificate with the same identity and names for a new
// key of the same type, authenticating with the current one over mutual
// TLS.
func Renew(ctx context.Context, r Renewal) (*Issued, error) {
	u, err := serverURL(r.Server)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(r.Cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("the current certificate: %w", err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if !now().Before(leaf.NotAfter) {
		return nil, fmt.Errorf("%w (it expired at %s)", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := ca.GenerateKey(ca.KeyTypeOf(leaf.PublicKey))
	if err != nil {
		return nil, err
	}
	csr, err := makeCSR(key, r.Name, nil, nil)
	if err != nil {
		return nil, err
	}
	cert := r.Cert
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: r.Roots, ServerName: u.Hostname(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	}
	body, _ := json.Marshal(RenewRequest{CSR: string(csr)})
	resp, err := post(ctx, cfg, u, PathRenew, body)
	if err != nil {
		return nil, err
	}
	return checkIssued(resp, key, r.Name, nil)
}

func serverURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("server %q: expected https://HOST:PORT", s)
	}
	return u, nil
}

// pinnedConfig trusts a server whose chain ends in the root with the
// SHA-256 root and whose certificate is for host: the token's root
// fingerprint replaces a CA file.
func pinnedConfig(root [32]byte, host string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified by VerifyConnection against the pinned root
		VerifyConnection: func(cs tls.ConnectionState) error {
			pool, inter := x509.NewCertPool(), x509.NewCertPool()
			found := false
			for _, c := range cs.PeerCertificates[1:] {
				if sha256.Sum256(c.Raw) == root && c.IsCA {
					pool.AddCert(c)
					found = true
				} else {
					inter.AddCert(c)
				}
			}
			if !found {
				return errors.New("the server's chain does not end in the CA root the token names (wrong server or wrong token)")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: pool, Intermediates: inter, DNSName: host,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("the server's certificate: %w", err)
			}
			return nil
		},
	}
}

// post sends body to path over a new TLS connection made with cfg and
// reads the answer. A host makes one request per connection and one
// connection per run, so it speaks HTTP/1.1 on the connection itself (the
// standard library's request writer and response reader) rather than
// through a pooling transport and its goroutines.
func post(ctx context.Context, cfg *tls.Config, u *url.URL, path string, body []byte) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // the server closes the connection after answering
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	hctx, hcancel := context.WithTimeout(ctx, handshakeTimeout)
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(hctx, "tcp", addr)
	hcancel()
	if err != nil {
		return Response{}, fmt.Errorf("contacting the enrolment server: %w", err)
	}
	defer conn.Close()
	// Cancelling ctx, or its deadline, unblocks reads and writes.
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })()
	var out bytes.Buffer
	out.Grow(len(body) + 512) // the request line and headers
	if err = req.Write(&out); err == nil {
		_, err = conn.Write(out.Bytes())
	}
	if err != nil {
		return Response{}, fmt.Errorf("contacting the enrolment server: %w", ctxErr(ctx, err))
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), req)
	if err != nil {
		return Response{}, fmt.Errorf("reading the enrolment server's answer: %w", ctxErr(ctx, err))
	}
	defer res.Body.Close()
	data, err := readAnswer(res)
	if err != nil {
		return Response{}, fmt.Errorf("reading the enrolment server's answer: %w", ctxErr(ctx, err))
	}
	if res.StatusCode != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb = ErrorBody{Code: CodeInternal, Error: http.StatusText(res.StatusCode)}
		}
		return Response{}, &RefusedError{Status: res.StatusCode, Body: eb}
	}
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return Response{}, fmt.Errorf("the enrolment server's answer is not valid JSON")
	}
	return resp, nil
}

// maxAnswer bounds the answer a client reads.
const maxAnswer = 1 << 20

// readAnswer reads a response body of at most maxAnswer bytes, in one
// allocation when the server sent its length.
func readAnswer(res *http.Response) ([]byte, error) {
	if n := res.ContentLength; n >= 0 && n <= maxAnswer {
		data := make([]byte, n)
		_, err := io.ReadFull(res.Body, data)
		return data, err
	}
	return io.ReadAll(io.LimitReader(res.Body, maxAnswer))
}

// ctxErr is err, or the context's error when that is why I/O failed.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// checkIssued checks an answer against the key and name asked for and, if
// root is set, that the bundle holds that root.
func checkIssued(resp Response, key crypto.Signer, name string, root *[32]byte) (*Issued, error) {
	certs, err := parseCerts([]byte(resp.Certificate))
	if err != nil || len(certs) == 0 {
		return nil, errors.New("the enrolment server sent no valid certificate")
	}
	bundle, err := parseCerts([]byte(resp.CA))
	if err != nil || len(bundle) == 0 {
		return nil, errors.New("the enrolment server sent no valid CA bundle")
	}
	leaf := certs[0]
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	if !bytes.Equal(pub, leaf.RawSubjectPublicKeyInfo) {
		return nil, errors.New("the enrolment server sent a certificate for another key")
	}
	if leaf.Subject.CommonName != name {
		return nil, fmt.Errorf("the enrolment server sent a certificate for %q, not %q", leaf.Subject.CommonName, name)
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	pinned := root == nil
	for _, c := range bundle {
		pool.AddCert(c)
		pinned = pinned || sha256.Sum256(c.Raw) == *root
	}
	if !pinned {
		return nil, errors.New("the CA bundle the server sent does not hold the root the token names")
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("the certificate sent does not chain to the CA bundle: %w", err)
	}
	return &Issued{Response: resp, Key: key, Leaf: leaf, Chain: []byte(resp.Certificate)}, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return out, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// makeCSR returns a PEM certificate request for key, with name as CN and
// dns and ips as subject alternative names.
func makeCSR(key crypto.Signer, name string, dns, ips []string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: dns}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("--ip %q is not an IP address", s)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("making the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
