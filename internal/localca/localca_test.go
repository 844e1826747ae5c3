package localca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newTestAuthority(t *testing.T) *Authority {
	t.Helper()
	a, err := New(Config{Name: "localca test", Hosts: []string{"example.test", "localhost"}, Validity: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// handshake runs a TLS handshake over loopback TCP: the server presents
// srv's certificate, the client trusts roots and asks for serverName.
func handshake(t *testing.T, srv *Authority, roots *x509.CertPool, serverName string) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc, err := ln.Accept()
		if err != nil {
			return
		}
		s := tls.Server(sc, srv.ServerConfig())
		_ = s.HandshakeContext(ctx)
		_ = s.Close()
	}()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}}
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		_ = c.Close()
	}
	<-done
	return err
}

func TestHandshake(t *testing.T) {
	a := newTestAuthority(t)
	other := newTestAuthority(t)
	tests := []struct {
		name       string
		roots      *x509.CertPool
		serverName string
		ok         bool
	}{
		{"first host", a.Pool(), "example.test", true},
		{"second host", a.Pool(), "localhost", true},
		{"IPv4 loopback", a.Pool(), "127.0.0.1", true},
		{"IPv6 loopback", a.Pool(), "::1", true},
		{"name not in certificate", a.Pool(), "discord.com", false},
		{"another authority's pool", other.Pool(), "localhost", false},
		{"system roots only", nil, "localhost", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, a, tc.roots, tc.serverName)
			if tc.ok && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("handshake succeeded; want a verification failure")
			}
		})
	}
}

func TestCertificates(t *testing.T) {
	before := time.Now()
	a := newTestAuthority(t)
	ca := a.Certificate()
	if !ca.IsCA || ca.Subject.CommonName != "localca test" {
		t.Fatalf("authority certificate: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	block, rest := pem.Decode(a.PEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("PEM does not hold exactly one certificate: %q", a.PEM())
	}
	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Equal(ca) {
		t.Fatal("PEM holds a different certificate from Certificate()")
	}

	leaf, err := x509.ParseCertificate(a.Leaf().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "example.test" {
		t.Errorf("server certificate CN = %q, want the first host", leaf.Subject.CommonName)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("server certificate not signed by the authority: %v", err)
	}
	for _, c := range []*x509.Certificate{ca, leaf} {
		if !c.NotBefore.Before(before) {
			t.Errorf("%s: NotBefore %v is not before creation", c.Subject.CommonName, c.NotBefore)
		}
		if want := before.Add(2 * time.Hour); c.NotAfter.Before(want.Add(-time.Second)) || c.NotAfter.After(want.Add(time.Minute)) {
			t.Errorf("%s: NotAfter %v, want about %v", c.Subject.CommonName, c.NotAfter, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no hosts", Config{Name: "x", Validity: time.Hour}, errNoHosts},
		{"zero validity", Config{Name: "x", Hosts: []string{"localhost"}}, errNoValidity},
		{"negative validity", Config{Name: "x", Hosts: []string{"localhost"}, Validity: -time.Hour}, errNoValidity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}
