// Package localca makes a throwaway certificate authority and one server
// certificate it signs, for the servers that stand in for Discord on this
// machine (discordtest, voicetest). Nothing is written to disk: the keys live
// as long as the Authority, and a client trusts the server through Pool (Go)
// or PEM (NODE_EXTRA_CA_CERTS for Node.js).
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

var (
	errNoHosts    = errors.New("localca: no host names for the server certificate")
	errNoValidity = errors.New("localca: validity must be positive")
)

// Config describes the authority and its server certificate.
type Config struct {
	// Name is the authority's common name, shown by clients that reject it.
	Name string
	// Hosts are the DNS names of the server certificate; the first is also
	// its common name. 127.0.0.1 and ::1 are always included as IP names.
	Hosts []string
	// Validity is how long both certificates stay valid from now (they
	// are also valid from an hour ago, for clocks slightly behind).
	Validity time.Duration
}

// Authority is a certificate authority made at run time and the server
// certificate it signed.
type Authority struct {
	cert *x509.Certificate
	pem  []byte
	pool *x509.CertPool
	leaf tls.Certificate
}

// New makes an authority with a fresh P-256 key and signs a server
// certificate for cfg.Hosts and the loopback addresses.
func New(cfg Config) (*Authority, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errNoHosts
	}
	if cfg.Validity <= 0 {
		return nil, errNoValidity
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cfg.Name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(cfg.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cfg.Hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(cfg.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     append([]string(nil), cfg.Hosts...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	a := &Authority{
		cert: caCert,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool: x509.NewCertPool(),
		leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
	a.pool.AddCert(caCert)
	return a, nil
}

// Certificate returns the authority's own certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// PEM returns the authority's certificate in PEM form (for
// NODE_EXTRA_CA_CERTS).
func (a *Authority) PEM() []byte { return a.pem }

// Pool returns a pool trusting only this authority. It is shared: callers
// must not add to it.
func (a *Authority) Pool() *x509.CertPool { return a.pool }

// Leaf returns the server certificate and its private key.
func (a *Authority) Leaf() tls.Certificate { return a.leaf }

// ServerConfig returns a server TLS configuration presenting the server
// certificate, TLS 1.2 at the least.
func (a *Authority) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{a.leaf}, MinVersion: tls.VersionTLS12}
}
