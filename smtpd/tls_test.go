package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// selfSigned returns a server certificate for host and a pool that trusts it.
func selfSigned(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func TestSTARTTLS(t *testing.T) {
	cert, pool := selfSigned(t, "sink.example.com")
	opts := returnPaths
	opts.Hostname = "sink.example.com"
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	opts.MaxCommands = 6
	m := &memory{}
	_, addr := start(t, m, opts)

	if ok, _ := dial(t, addr).Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	c, err := smtp.DialStartTLS(addr, &tls.Config{RootCAs: pool, ServerName: "sink.example.com"})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	if m.count() != 1 {
		t.Fatalf("delivered %d, want 1", m.count())
	}
	state, ok := c.TLSConnectionState()
	if !ok || !state.HandshakeComplete || state.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %+v, %v", state, ok)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS still advertised inside TLS")
	}

	// The limits hold inside TLS too: commands are counted there as well.
	for i := 0; i < 10 && err == nil; i++ {
		err = c.Noop()
	}
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 421 {
		t.Errorf("NOOPs over TLS ended with %v, want a 421 once over MaxCommands", err)
	}
}

func TestNoSTARTTLSWithoutCertificate(t *testing.T) {
	_, addr := start(t, &memory{}, returnPaths)
	c := rawDial(t, addr)
	if reply := c.cmd(t, "EHLO mta.example.net", "250"); strings.Contains(reply, "STARTTLS") {
		t.Errorf("EHLO = %q", reply)
	}
	c.cmd(t, "STARTTLS", "502")
}

// A client whose handshake stalls is cut off by the idle timeout.
func TestStalledHandshake(t *testing.T) {
	cert, _ := selfSigned(t, "sink.example.com")
	opts := returnPaths
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	opts.IdleTimeout = 200 * time.Millisecond
	_, addr := start(t, &memory{}, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	c.cmd(t, "STARTTLS", "220")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server still holds the connection of a stalled handshake")
			}
			return // closed, whatever the server said in plain text first
		}
	}
}
