package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/config"
)

// With tls configured herald serves HTTPS on its listen address.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	certFile, keyFile, pool := selfSigned(t)
	cfg.TLS = &config.TLS{CertFile: certFile, KeyFile: keyFile}
	d := start(t, cfg)
	d.base = "https://" + d.m.Addr()
	d.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if r := d.post(docsEvents(t)[0]); r.code != http.StatusOK {
		t.Fatalf("POST over TLS: %d %s", r.code, r.body)
	}
	if got := d.events(); len(got) != 1 {
		t.Errorf("/api/events has %d events, want 1", len(got))
	}
	// Plain HTTP on the TLS port is refused.
	if resp, err := http.Get("http://" + d.m.Addr() + "/healthz"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200 on the TLS port")
		}
		resp.Body.Close()
	}
}

// A missing certificate stops Run with an error naming TLS.
func TestServeTLSMissingCert(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.TLS = &config.TLS{CertFile: filepath.Join(t.TempDir(), "nope.crt"), KeyFile: "nope.key"}
	m := NewMain(cfg, discardLogger())
	err := m.Run(t.Context())
	m.Close()
	if err == nil {
		t.Fatal("Run succeeded without a certificate")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to a temporary
// directory and returns their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
