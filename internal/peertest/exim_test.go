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

// eximPath is where Debian's exim4 packages (exim4-daemon-light) put Exim.
const eximPath = "/usr/sbin/exim4"

// eximUser is the account Debian's Exim runs as once it drops root; it
// must be able to write the spool and log directories.
const eximUser = "Debian-exim"

// eximConf makes Exim a daemon on a loopback port ({{PORT}}) that relays
// what 127.0.0.1 sends: the return-path domain to the sink and the
// recipients' domains to their MX, by address, so there is no DNS
// (self = send and allow_localhost: those hosts are this machine). No
// other domain has a route: Exim fails such an address as "Unrouteable
// address", as its dnslookup router would a domain that does not exist.
//
// The retry rule retries every {{RETRY}} for {{LIFETIME}}, then gives up
// ("retry timeout exceeded"); delay_warning warns after {{WARN}}, and
// again after an hour, which the lifetime never reaches.
// A 5xx is never retried.
const eximConf = `
primary_hostname = ` + mtaHostname + `
qualify_domain = example.net
spool_directory = {{DIR}}/spool
log_file_path = {{DIR}}/log/%slog
pid_file_path = {{DIR}}/exim.pid
log_selector = +smtp_confirmation +received_recipients
keep_environment =
disable_ipv6 = true
tls_advertise_hosts =
local_interfaces = <; 127.0.0.1.{{PORT}}
acl_smtp_rcpt = acl_rcpt
delay_warning = {{WARN}}:1h

begin acl

acl_rcpt:
  accept hosts = 127.0.0.1
  deny

begin routers

sink:
  driver = manualroute
  domains = ` + sinkDomain + `
  route_list = * 127.0.0.1
  self = send
  transport = sink_smtp
  no_more

recipients:
  driver = manualroute
  route_list = {{ROUTES}}
  self = send
  transport = mx_smtp
  no_more

begin transports

sink_smtp:
  driver = smtp
  port = {{SINKPORT}}
  allow_localhost
  hosts_avoid_tls = *

mx_smtp:
  driver = smtp
  port = {{MXPORT}}
  allow_localhost
  hosts_avoid_tls = *

begin retry

* * F,{{LIFETIME}},{{RETRY}}
`

// lostPrivilege is Exim's notice (on stderr and in its panic log) that a
// process it re-executes with -C runs as eximUser, not root: expected, as
// that is all delivering over SMTP needs.
const lostPrivilege = "exim user lost privilege for using -C option"

// startExim runs Debian's Exim as a daemon in the foreground (-bdf) that
// runs its queue every retryEvery, with a private configuration (-C),
// spool and logs. It never touches the system's Exim, its queue or port
// 25.
func startExim(t *testing.T, mxPort, sinkAddr string) (*mta, string) {
	if why := missingMTA("Exim", "apt-get install exim4-daemon-light", []string{eximPath}, []string{eximUser}); why != "" {
		return nil, why
	}
	d := privateDir(t, "exim")
	mkdirs(t, d, dirSpec{"spool", 0o750, eximUser, ""}, dirSpec{"log", 0o750, eximUser, ""})
	port := freePort(t)
	_, sinkPort, _ := net.SplitHostPort(sinkAddr)
	var routes []string
	for _, r := range mxRoutes() {
		routes = append(routes, r.domain+" "+r.ip)
	}
	conf := strings.NewReplacer("{{DIR}}", d, "{{PORT}}", port, "{{MXPORT}}", mxPort, "{{SINKPORT}}", sinkPort,
		"{{ROUTES}}", strings.Join(routes, " ; "),
		"{{WARN}}", secs(warnAfter), "{{LIFETIME}}", secs(lifetime), "{{RETRY}}", secs(retryEvery)).Replace(eximConf)
	cf := filepath.Join(d, "exim.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	dm := startDaemon(t, d, addr, nil, eximPath, "-C", cf, "-bdf", "-q"+secs(retryEvery))
	return &mta{
		name:   "exim",
		submit: addr,
		queued: func() (int, error) {
			return countFiles(filepath.Join(d, "spool/input"), func(rel string) bool { return strings.HasSuffix(rel, "-H") })
		},
		logs: func() string {
			var keep []string
			for line := range strings.Lines(dm.output()) {
				if !strings.Contains(line, lostPrivilege) {
					keep = append(keep, line)
				}
			}
			return readLogs(filepath.Join(d, "log/mainlog"), filepath.Join(d, "log/rejectlog"), filepath.Join(d, "log/paniclog")) + strings.Join(keep, "")
		},
		wrote: func(raw []byte) string {
			for _, want := range []string{
				"This message was created automatically by mail delivery software.",
				"Content-Type: multipart/report; report-type=delivery-status;",
				"(Exim ",
			} {
				if !bytes.Contains(raw, []byte(want)) {
					return fmt.Sprintf("no %q", want)
				}
			}
			return ""
		},
		// No route to the domain: Exim's own failure, no remote server and
		// no SMTP code ("Unrouteable address", Status 5.0.0). The reason is
		// not checked: with a real dnslookup router this text means the
		// domain does not resolve.
		extra: []extra{{rcpt: "exim@nowhere.example", class: "hard", text: "Unrouteable address"}},
	}, ""
}
