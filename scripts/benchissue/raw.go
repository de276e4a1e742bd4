package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func runRaw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	n := fs.Int("n", 20000, "certificates to make")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines")
	dir := fs.String("dir", "", "if set, also write each certificate's files under this directory (see writeFiles)")
	_ = fs.Parse(args)
	if *dir != "" {
		if err := os.WriteFile(filepath.Join(*dir, "ca.pem"), []byte("bundle\n"), 0o644); err != nil {
			return err
		}
	}
	caCert, caKey, err := newCA()
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	start := time.Now()
	for range *workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(*n); i = next.Add(1) {
				if err := leaf(caCert, caKey, int(i), *dir); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	what := "raw"
	if *dir != "" {
		what = "raw + files"
	}
	fmt.Printf("%s: %d certificates in %.2fs on %d workers: %.0f certs/s\n", what, *n, el.Seconds(), *workers, float64(*n)/el.Seconds())
	return nil
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Raw CA", Organization: []string{"Raw CA"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// leaf makes the i-th certificate of daskca's worker profile and its PEM,
// and writes its files under dir unless dir is empty.
func leaf(caCert *x509.Certificate, caKey *ecdsa.PrivateKey, i int, dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	ski := sha1.Sum(pub) // key identifier as go.step.sm/crypto computes it
	name := fmt.Sprintf("node%05d", i)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"worker"}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{name + ".dask.internal"},
		IPAddresses:           []net.IP{net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4()},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: "bench-ca", Path: "/dask/worker/" + name}},
		SubjectKeyId:          ski[:], AuthorityKeyId: caCert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	c := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	if dir == "" {
		return nil
	}
	return writeFiles(dir, name, c, k)
}

// writeFiles is the least a certificate's files cost: the endpoint's
// directory, cert.pem and key.pem written straight into it, and ca.pem as
// a hard link of one file. Nothing is synced, staged or recorded, so a
// crash can leave any of it half done: a floor for file writing, not a way
// to issue.
func writeFiles(dir, name string, cert, key []byte) error {
	d := filepath.Join(dir, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "cert.pem"), cert, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "key.pem"), key, 0o600); err != nil {
		return err
	}
	return os.Link(filepath.Join(dir, "ca.pem"), filepath.Join(d, "ca.pem"))
}
