package voicetest

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/quaverbot/quaver/internal/localca"
)

// CA is a certificate authority made at test time. Servers sharing one CA
// can be trusted by a client with one pool (a voice-server move between two
// Server instances then needs no new trust).
type CA struct {
	a *localca.Authority
}

// NewCA makes a CA and a leaf certificate for localhost, 127.0.0.1 and ::1.
func NewCA() (*CA, error) {
	a, err := localca.New(localca.Config{
		Name:     "quaver voicetest CA",
		Hosts:    []string{"localhost"},
		Validity: 24 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	return &CA{a: a}, nil
}

// PEM returns the CA certificate in PEM form (for NODE_EXTRA_CA_CERTS).
func (ca *CA) PEM() []byte { return ca.a.PEM() }

// Pool returns a pool trusting only this CA (for voice.Config.RootCAs).
func (ca *CA) Pool() *x509.CertPool { return ca.a.Pool() }

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.a.Certificate() }

func (ca *CA) serverConfig() *tls.Config { return ca.a.ServerConfig() }
