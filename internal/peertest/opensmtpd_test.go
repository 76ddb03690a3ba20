package peertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startOpenSMTPD runs Debian's OpenSMTPD, unpacked under unpackedRoot, in
// the foreground (smtpd -d) with a private smtpd.conf. Its spool
// (/var/spool/smtpd), chroot (/var/lib/opensmtpd/empty) and control
// socket (/run/smtpd.sock) are compiled in, so private directories are
// bound over /var/spool, /var/lib and /run in its mount namespace.
func startOpenSMTPD(t *testing.T, mxPort, sinkAddr string) (*mta, string) {
	p := filepath.Join(unpackedRoot(), "opensmtpd")
	smtpd := filepath.Join(p, "usr/sbin/smtpd")
	if why := missingMTA("OpenSMTPD", "bash .ci/peer-mtas unpacks it", []string{smtpd}, []string{"opensmtpd", "opensmtpq"}); why != "" {
		return nil, why
	}
	d := privateDir(t, "opensmtpd")
	mkdirs(t, d,
		dirSpec{"var-spool", 0o755, "", ""},
		dirSpec{"var-lib/opensmtpd/empty", 0o755, "", ""},
		dirSpec{"run", 0o755, "", ""},
	)
	port := freePort(t)
	_, sinkPort, _ := net.SplitHostPort(sinkAddr)
	var conf strings.Builder
	fmt.Fprintf(&conf, "queue ttl %s\nbounce warn-interval %s\nlisten on 127.0.0.1 port %s\n", secs(lifetime), secs(warnAfter), port)
	fmt.Fprintf(&conf, "action \"sink\" relay host smtp+notls://127.0.0.1:%s\nmatch from local for domain %q action \"sink\"\n", sinkPort, sinkDomain)
	for i, r := range mxRoutes() {
		fmt.Fprintf(&conf, "action \"mx%d\" relay host smtp+notls://%s:%s\nmatch from local for domain %q action \"mx%d\"\n", i, r.ip, mxPort, r.domain, i)
	}
	cf := filepath.Join(d, "smtpd.conf")
	if err := os.WriteFile(cf, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	dm := startDaemon(t, d, addr, [][2]string{
		{filepath.Join(d, "var-spool"), "/var/spool"},
		{filepath.Join(d, "var-lib"), "/var/lib"},
		{filepath.Join(d, "run"), "/run"},
	}, smtpd, "-d", "-f", cf)
	spool := filepath.Join(d, "var-spool/smtpd")
	return &mta{
		name:   "opensmtpd",
		submit: addr,
		queued: func() (int, error) {
			return countFiles(spool, func(rel string) bool {
				q, _, _ := strings.Cut(rel, string(filepath.Separator))
				return q == "queue" || q == "incoming"
			})
		},
		logs: dm.output,
		wrote: func(raw []byte) string {
			for _, want := range []string{
				"This is the MAILER-DAEMON, please DO NOT REPLY to this email.",
				"Content-Type: message/delivery-status",
				"(OpenSMTPD)",
			} {
				if !bytes.Contains(raw, []byte(want)) {
					return fmt.Sprintf("no %q", want)
				}
			}
			return ""
		},
		// Its report of a message it gave up on names no reply: "rcpt:
		// Envelope expired".
		expiredText: "Envelope expired",
	}, ""
}
