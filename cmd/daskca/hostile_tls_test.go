package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// acceptedTLS12 are the TLS 1.2 suites a scheduler accepts by default, by
// the key type of its certificate: ECDHE key exchange with AES-GCM or
// ChaCha20-Poly1305, nothing else.
var acceptedTLS12 = map[string][]string{
	"ec-p256":  {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"},
	"rsa-2048": {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"},
}

// tls13Suites are every TLS 1.3 suite OpenSSL can offer; Go implements the
// first three, which are all AEAD with forward secrecy.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"}

// sClient is openssl s_client against one running scheduler, presenting a
// client certificate of the scheduler's CA.
type sClient struct {
	openssl, addr   string
	cert, key, ca   string
	sched           *runProc
	refusedLogLines int // "connection refused ... tls handshake" lines seen so far
}

// handshake runs one s_client handshake with args and reports whether it
// completed, with what s_client printed. A refusal must be the scheduler's:
// it must log the failed TLS handshake (refusalsLogged checks the count),
// so a client that never sent a ClientHello cannot pass for a refusal.
func (s *sClient) handshake(t *testing.T, args ...string) (ok bool, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runWait)
	defer cancel()
	full := append([]string{"s_client", "-connect", strings.TrimPrefix(s.addr, "tls://"), "-brief",
		"-cert", s.cert, "-key", s.key, "-CAfile", s.ca}, args...)
	cmd := exec.CommandContext(ctx, s.openssl, full...)
	cmd.Stdin = strings.NewReader("")
	b, err := cmd.CombinedOutput()
	out = strings.ReplaceAll(string(b), "\x00", "")
	if ctx.Err() != nil {
		t.Fatalf("openssl %s hung for %v:\n%s", strings.Join(full, " "), runWait, out)
	}
	ok = err == nil && strings.Contains(out, "CONNECTION ESTABLISHED")
	if ok {
		return true, out
	}
	for _, clientSide := range []string{"no ciphers available", "no protocols available", "Error getting password"} {
		if strings.Contains(out, clientSide) {
			t.Fatalf("openssl %s could not offer what was asked:\n%s", strings.Join(full, " "), out)
		}
	}
	s.refusedLogLines++
	return false, out
}

// refusalsLogged waits until the scheduler has logged (one by one, or
// counted in its rate-limited summaries) as many failed TLS handshakes as
// handshake saw refused.
func (s *sClient) refusalsLogged(t *testing.T) {
	t.Helper()
	waitUntil(t, "the scheduler to log every refused handshake", func() bool {
		return countLines(s.sched.out.String(), "connection refused", "tls handshake") >= s.refusedLogLines
	})
}

// field returns the value s_client -brief printed for name.
func field(out, name string) string {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// suiteArgs are the s_client arguments that offer one TLS 1.2 suite alone:
// at security level 0 so that OpenSSL offers weak suites at all, with a
// pre-shared key or an SRP login for the suites that need one.
func suiteArgs(suite string) []string {
	args := []string{"-tls1_2", "-cipher", suite + "@SECLEVEL=0"}
	switch {
	case strings.Contains(suite, "PSK"):
		args = append(args, "-psk", "1a2b3c4d5e6f7081")
	case strings.HasPrefix(suite, "SRP"):
		args = append(args, "-srpuser", "dask", "-srppass", "pass:not-the-password")
	}
	return args
}

// opensslSuites lists the TLS 1.2-capable suites OpenSSL knows
// (`openssl ciphers -v ALL` at security level 0: everything but TLS 1.3).
func opensslSuites(t *testing.T, openssl string) []string {
	t.Helper()
	out, err := exec.Command(openssl, "ciphers", "-v", "ALL:COMPLEMENTOFALL@SECLEVEL=0").Output()
	if err != nil {
		t.Fatal(err)
	}
	var suites []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] != "TLSv1.3" && !slices.Contains(suites, f[0]) {
			suites = append(suites, f[0])
		}
	}
	if len(suites) < 50 {
		t.Fatalf("openssl lists only %d suites:\n%s", len(suites), out)
	}
	return suites
}

// TestRunTLSFromOutside checks what a running `daskca run scheduler`
// negotiates with openssl s_client, one protocol version and one suite at a
// time, with an ECDSA and an RSA scheduler certificate: TLS 1.0 and 1.1
// refused, 1.2 and 1.3 accepted; of every TLS 1.2 suite OpenSSL knows only
// the ECDHE AES-GCM and ChaCha20-Poly1305 suites of the certificate's key
// type accepted; the TLS 1.3 suites Go implements accepted.
func TestRunTLSFromOutside(t *testing.T) {
	testtier.Full(t, "openssl")
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed to check the scheduler from outside: apt-get install -y openssl")
	}
	h := newRunHome(t, t.TempDir(), "Outside CA")
	mustCLI(t, h.home, "issue", "scheduler", "schedrsa", "--key-type", "rsa-2048", "--dns", "localhost",
		"--ip", "127.0.0.1", "--password-file", h.pw)
	y := mustCLI(t, h.home, "config", "schedrsa", "--format", "yaml")
	if err := os.WriteFile(h.config("schedrsa"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	suites := opensslSuites(t, openssl)
	cert, key, ca := h.files("client", "alice")
	for keyType, name := range map[string]string{"ec-p256": "sched", "rsa-2048": "schedrsa"} {
		t.Run(keyType, func(t *testing.T) {
			sched, addr := startRunScheduler(t, h.bin, h.config(name))
			s := &sClient{openssl: openssl, addr: addr, cert: cert, key: key, ca: ca, sched: sched}
			checkVersions(t, s)
			accepted := checkTLS12Suites(t, s, suites, acceptedTLS12[keyType])
			checkTLS13Suites(t, s)
			s.refusalsLogged(t)
			t.Logf("%s: %d TLS 1.2 suites offered one by one, accepted %v", keyType, len(suites), accepted)
		})
	}
}

func checkVersions(t *testing.T, s *sClient) {
	t.Helper()
	for _, v := range []struct {
		flag, name string
		accept     bool
	}{{"-tls1", "TLSv1", false}, {"-tls1_1", "TLSv1.1", false}, {"-tls1_2", "TLSv1.2", true}, {"-tls1_3", "TLSv1.3", true}} {
		ok, out := s.handshake(t, v.flag, "-cipher", "ALL@SECLEVEL=0")
		if ok != v.accept {
			t.Errorf("%s: handshake completed = %v, want %v:\n%s", v.name, ok, v.accept, out)
		}
		if ok && field(out, "Protocol version") != v.name {
			t.Errorf("%s: negotiated %q", v.name, field(out, "Protocol version"))
		}
		if !ok && !strings.Contains(out, "alert protocol version") {
			t.Errorf("%s refused without a protocol_version alert:\n%s", v.name, out)
		}
	}
}

// checkTLS12Suites offers each suite alone and returns those accepted,
// failing the test unless they are exactly want.
func checkTLS12Suites(t *testing.T, s *sClient, suites, want []string) []string {
	t.Helper()
	var accepted []string
	for _, suite := range suites {
		ok, out := s.handshake(t, suiteArgs(suite)...)
		if !ok {
			continue
		}
		accepted = append(accepted, suite)
		if got := field(out, "Ciphersuite"); got != suite {
			t.Errorf("offered %s alone, negotiated %q", suite, got)
		}
	}
	slices.Sort(accepted)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(accepted, want) {
		t.Errorf("TLS 1.2 suites accepted: %v\nwant exactly: %v", accepted, want)
	}
	return accepted
}

func checkTLS13Suites(t *testing.T, s *sClient) {
	t.Helper()
	for i, suite := range tls13Suites {
		ok, out := s.handshake(t, "-tls1_3", "-ciphersuites", suite)
		if want := i < 3; ok != want {
			t.Errorf("TLS 1.3 %s: handshake completed = %v, want %v:\n%s", suite, ok, want, out)
		}
		if ok && field(out, "Ciphersuite") != suite {
			t.Errorf("offered %s alone, negotiated %q", suite, field(out, "Ciphersuite"))
		}
	}
}
