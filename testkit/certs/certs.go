// Package certs makes throw-away certificate authorities and certificates for tests of DESIGN §12's TLS
// settings, with crypto/x509 (no openssl): ECDSA P-256 keys, PEM files written where the test says.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
	serial  int64
}

// NewCA makes a self-signed CA named name, valid for a day.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: key, serial: 1}, nil
}

// Pair is an issued certificate and its key, PEM-encoded.
type Pair struct{ CertPEM, KeyPEM []byte }

// Issue signs a certificate for server and client use, with names as IP SANs when they parse as IP
// addresses, DNS SANs otherwise; the first name is the common name.
func (ca *CA) Issue(names ...string) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if len(names) > 0 {
		tmpl.Subject = pkix.Name{CommonName: names[0]}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Files are the paths WriteFiles wrote.
type Files struct{ CA, Cert, Key string }

// WriteFiles writes the CA's certificate and p into dir as <prefix>ca.pem, <prefix>cert.pem, <prefix>key.pem
// (mode 0600), replacing them atomically when they exist (a rename, as a Secret volume update does).
func (ca *CA) WriteFiles(dir, prefix string, p Pair) (Files, error) {
	f := Files{
		CA:   filepath.Join(dir, prefix+"ca.pem"),
		Cert: filepath.Join(dir, prefix+"cert.pem"),
		Key:  filepath.Join(dir, prefix+"key.pem"),
	}
	for path, data := range map[string][]byte{f.CA: ca.CertPEM, f.Cert: p.CertPEM, f.Key: p.KeyPEM} {
		if err := WriteAtomic(path, data); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}

// WriteAtomic writes data to path through a temporary file and a rename.
func WriteAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

// NewFiles makes a CA named "test CA", issues a certificate for names and writes both into dir (WriteFiles
// with no prefix): the usual start of a TLS test.
func NewFiles(dir string, names ...string) (*CA, Files, error) {
	ca, err := NewCA("test CA")
	if err != nil {
		return nil, Files{}, err
	}
	pair, err := ca.Issue(names...)
	if err != nil {
		return nil, Files{}, err
	}
	f, err := ca.WriteFiles(dir, "", pair)
	return ca, f, err
}
