package peertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sendmailMc is the m4 source of Sendmail's sendmail.cf, built with the
// unpacked sendmail-cf's macros ({{P}}); ‘ stands for m4's open quote,
// which a Go raw string cannot hold. Its queue, pid and status files are
// in the private directory ({{D}}); it listens on a loopback port only
// (no MSA on 587); it looks up no DNS for sender domains; it delivers
// and takes mail whatever the load average (the machine may be busy,
// and by default it only queues past 8 per CPU); and it routes
// the recipients' domains by address through the mailers mx and sink,
// each with its port.
const sendmailMc = `divert(-1)
include(‘{{P}}/usr/share/sendmail/cf/m4/cf.m4')
divert(0)dnl
VERSIONID(‘bouncesink peertest')dnl
OSTYPE(‘linux')dnl
define(‘QUEUE_DIR', ‘{{D}}/mqueue')dnl
define(‘STATUS_FILE', ‘{{D}}/statistics')dnl
define(‘ALIAS_FILE', ‘{{D}}/aliases')dnl
define(‘confPID_FILE', ‘{{D}}/sendmail.pid')dnl
define(‘confCW_FILE', ‘-o {{D}}/local-host-names')dnl
define(‘confSERVICE_SWITCH_FILE', ‘{{D}}/service.switch')dnl
define(‘confHOST_STATUS_DIRECTORY', ‘')dnl
define(‘confDOMAIN_NAME', ‘` + mtaHostname + `')dnl
define(‘confDONT_PROBE_INTERFACES', ‘True')dnl
define(‘confBIND_OPTS', ‘-DNSRCH -DEFNAMES')dnl
define(‘confTO_IDENT', ‘0')dnl
define(‘confTO_QUEUEWARN', ‘{{WARN}}')dnl
define(‘confTO_QUEUERETURN', ‘{{LIFETIME}}')dnl
define(‘confDELIVERY_MODE', ‘background')dnl
define(‘confDEF_USER_ID', ‘mail:mail')dnl
define(‘confQUEUE_LA', ‘1000')dnl
define(‘confREFUSE_LA', ‘1000')dnl
define(‘confDONT_BLAME_SENDMAIL', ‘GroupWritableDirPathSafe')dnl
FEATURE(‘nocanonify')dnl
FEATURE(‘accept_unresolvable_domains')dnl
FEATURE(‘no_default_msa')dnl
DAEMON_OPTIONS(‘Port={{PORT}}, Addr=127.0.0.1, Name=MTA')dnl
MAILER(‘smtp')dnl
MAILER_DEFINITIONS
Mmx,	P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\r\n, L=990, T=DNS/RFC822/SMTP, A=TCP $h {{MXPORT}}
Msink,	P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\r\n, L=990, T=DNS/RFC822/SMTP, A=TCP $h {{SINKPORT}}
LOCAL_RULE_0
include(‘{{D}}/routes')
`

// startSendmail runs Debian's Sendmail, unpacked under unpackedRoot, as a
// daemon in the foreground (-bD) that runs its queue every retryEvery,
// with a sendmail.cf that m4 builds from sendmailMc.
func startSendmail(t *testing.T, mxPort, sinkAddr string) (*mta, string) {
	p := filepath.Join(unpackedRoot(), "sendmail")
	bin := filepath.Join(p, "usr/libexec/sendmail/sendmail")
	cfm4 := filepath.Join(p, "usr/share/sendmail/cf/m4/cf.m4")
	if why := missingMTA("Sendmail", "bash .ci/peer-mtas unpacks it and installs m4", []string{bin, cfm4, "/usr/bin/m4"}, []string{"mail"}); why != "" {
		return nil, why
	}
	d := privateDir(t, "sendmail")
	mkdirs(t, d, dirSpec{"mqueue", 0o700, "", ""})
	port := freePort(t)
	_, sinkPort, _ := net.SplitHostPort(sinkAddr)
	// Rules of ruleset 0 (parse): "user<@domain.>" goes to mailer mx at
	// the domain's address; the tab parts the pattern from the result.
	var routes strings.Builder
	rule := func(mailer, domain, ip string) {
		fmt.Fprintf(&routes, "R$* < @ %s $* > $*\t$#%s $@ [%s] $: $1 < @ %s > $3\n", domain, mailer, ip, domain)
	}
	rule("sink", sinkDomain, "127.0.0.1")
	for _, r := range mxRoutes() {
		rule("mx", r.domain, r.ip)
	}
	mc := strings.NewReplacer("‘", "`", "{{P}}", p, "{{D}}", d, "{{PORT}}", port, "{{MXPORT}}", mxPort, "{{SINKPORT}}", sinkPort,
		"{{WARN}}", secs(warnAfter), "{{LIFETIME}}", secs(lifetime)).Replace(sendmailMc)
	for name, data := range map[string]string{
		"sendmail.mc":      mc,
		"routes":           routes.String(),
		"aliases":          "",
		"local-host-names": "",
		"service.switch":   "hosts files\naliases files\n",
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cf := filepath.Join(d, "sendmail.cf")
	out, err := exec.Command("m4", filepath.Join(d, "sendmail.mc")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("m4 sendmail.mc: %v\n%s", err, stderr)
	}
	if err := os.WriteFile(cf, out, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	dm := startDaemon(t, d, addr, nil, bin, "-C", cf, "-bD", "-q"+secs(retryEvery))
	return &mta{
		name:   "sendmail",
		submit: addr,
		queued: func() (int, error) {
			return countFiles(filepath.Join(d, "mqueue"), func(rel string) bool { return strings.HasPrefix(rel, "qf") })
		},
		// Sendmail logs to syslog alone; its queue listing stands in.
		logs: func() string {
			q, _ := exec.Command(bin, "-C", cf, "-bp").CombinedOutput()
			return dm.output() + "--- sendmail -bp\n" + string(q)
		},
		wrote: func(raw []byte) string {
			for _, want := range []string{
				"Content-Type: multipart/report; report-type=delivery-status;",
				"by " + mtaHostname + " (8.",
			} {
				if !bytes.Contains(raw, []byte(want)) {
					return fmt.Sprintf("no %q", want)
				}
			}
			return ""
		},
	}, ""
}
