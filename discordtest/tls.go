package discordtest

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/quaverbot/quaver/internal/localca"
)

// authority is a throw-away certificate authority and the server
// certificate it signed for 127.0.0.1, localhost and Discord's host names.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	leaf    tls.Certificate
}

func newAuthority() (*authority, error) {
	a, err := localca.New(localca.Config{
		Name:     "discordtest local CA",
		Hosts:    []string{"discord.com", "localhost", "discordapp.com", "gateway.discord.gg"},
		Validity: 7 * 24 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	return &authority{cert: a.Certificate(), certPEM: a.PEM(), leaf: a.Leaf()}, nil
}

func (a *authority) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}
