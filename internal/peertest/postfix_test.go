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

// postfixMainCf is Postfix's main.cf: its files in the unpacked package
// ({{P}}), its queue and logs in the private directory ({{D}}), the
// recipients' domains routed to their MX by address (texthash:
// transport, no DNS), and the shortened queue timers.
const postfixMainCf = `compatibility_level = 3.6
myhostname = ` + mtaHostname + `
mydomain = example.net
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
queue_directory = {{D}}/queue
data_directory = {{D}}/data
command_directory = {{P}}/usr/sbin
daemon_directory = {{P}}/usr/lib/postfix/sbin
shlib_directory = {{P}}/usr/lib/postfix
meta_directory = {{P}}/etc/postfix
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={{P}}/usr/lib/postfix
maillog_file_prefixes = {{D}}
maillog_file = {{D}}/maillog
alias_maps =
alias_database =
smtp_dns_support_level = disabled
smtp_tls_security_level = none
transport_maps = texthash:{{D}}/transport
delay_warning_time = {{WARN}}
maximal_queue_lifetime = {{LIFETIME}}
bounce_queue_lifetime = {{LIFETIME}}
queue_run_delay = {{RETRY}}
minimal_backoff_time = {{RETRY}}
maximal_backoff_time = {{RETRY}}
`

// postfixMasterCf lists the services Postfix needs to take mail over SMTP
// and relay it, none chrooted.
const postfixMasterCf = `127.0.0.1:{{PORT}} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// startPostfix runs Debian's Postfix, unpacked under unpackedRoot, as its
// master daemon in the foreground with a private configuration directory
// (master -c); newsletters come in over SMTP on a loopback port.
func startPostfix(t *testing.T, mxPort, sinkAddr string) (*mta, string) {
	p := filepath.Join(unpackedRoot(), "postfix")
	master := filepath.Join(p, "usr/lib/postfix/sbin/master")
	if why := missingMTA("Postfix", "bash .ci/peer-mtas unpacks it", []string{master}, []string{"postfix", "postdrop"}); why != "" {
		return nil, why
	}
	d := privateDir(t, "postfix")
	// The queue's directories as postfix-script's check would make them
	// (Postfix's postfix-files).
	mkdirs(t, d,
		dirSpec{"data", 0o700, "postfix", ""},
		dirSpec{"queue", 0o755, "", ""},
		dirSpec{"queue/pid", 0o755, "", ""},
		dirSpec{"queue/public", 0o710, "postfix", "postdrop"},
		dirSpec{"queue/maildrop", 0o730, "postfix", "postdrop"},
	)
	for _, q := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		mkdirs(t, d, dirSpec{"queue/" + q, 0o700, "postfix", "root"})
	}
	port := freePort(t)
	var transport strings.Builder
	_, sinkPort, _ := net.SplitHostPort(sinkAddr)
	fmt.Fprintf(&transport, "%s smtp:[127.0.0.1]:%s\n", sinkDomain, sinkPort)
	for _, r := range mxRoutes() {
		fmt.Fprintf(&transport, "%s smtp:[%s]:%s\n", r.domain, r.ip, mxPort)
	}
	repl := strings.NewReplacer("{{P}}", p, "{{D}}", d, "{{PORT}}", port,
		"{{WARN}}", secs(warnAfter), "{{LIFETIME}}", secs(lifetime), "{{RETRY}}", secs(retryEvery))
	for name, data := range map[string]string{
		"main.cf":   repl.Replace(postfixMainCf),
		"master.cf": repl.Replace(postfixMasterCf),
		"transport": transport.String(),
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := "127.0.0.1:" + port
	dm := startDaemon(t, d, addr, nil, "env", "LD_LIBRARY_PATH="+filepath.Join(p, "usr/lib/postfix"), master, "-d", "-c", d)
	return &mta{
		name:   "postfix",
		submit: addr,
		queued: func() (int, error) {
			return countFiles(filepath.Join(d, "queue"), func(rel string) bool {
				q, _, _ := strings.Cut(rel, string(filepath.Separator))
				switch q {
				case "incoming", "active", "deferred", "maildrop", "hold":
					return true
				}
				return false
			})
		},
		logs: func() string { return readLogs(filepath.Join(d, "maillog")) + dm.output() },
		wrote: func(raw []byte) string {
			for _, want := range []string{
				"This is the mail system at host " + mtaHostname + ".",
				"Content-Type: multipart/report; report-type=delivery-status;",
				"(Postfix)",
			} {
				if !bytes.Contains(raw, []byte(want)) {
					return fmt.Sprintf("no %q", want)
				}
			}
			return ""
		},
	}, ""
}
