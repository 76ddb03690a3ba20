package peertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eximPath is where Debian's exim4 packages (exim4-daemon-light) put Exim.
const eximPath = "/usr/sbin/exim4"

// eximUser is the account Debian's Exim runs as once it drops root; it
// must be able to write the spool and log directories.
const eximUser = "Debian-exim"

// recipientDomain is the domain of the newsletter's recipients, served by
// the fake MX.
const recipientDomain = "example.org"

// requireExim skips the test where Exim cannot run, except in CI, where a
// missing Exim means .ci/run failed to install it.
func requireExim(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(eximPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("exim4 is missing at %s in CI: .ci/run should have installed it (apt-get install exim4-daemon-light)", eximPath)
		}
		t.Skipf("exim4 is not installed at %s (apt-get install exim4-daemon-light); skipping the test against a real MTA", eximPath)
	}
	if os.Geteuid() != 0 {
		// Exim keeps the root privilege it needs to deliver with a private
		// configuration (-C) only when root calls it.
		t.Skipf("exim4 with a private configuration needs root (uid %d); skipping the test against a real MTA (CI runs as root)", os.Geteuid())
	}
}

// exim runs Debian's Exim with a private configuration: its own spool and
// log directories and routes to the fake MX and the sink. It never
// touches the system's Exim, its queue or port 25.
type exim struct {
	conf string // the configuration file
	dir  string // holds conf, spool/ and log/
}

// eximConf routes the recipients' domain to the fake MX and the
// return-path domain to the sink, both on loopback by address, so there is
// no DNS (self = send and allow_localhost: those hosts are this machine).
// No other domain has a route: Exim fails such an address as "Unrouteable
// address", as its dnslookup router would a domain that does not exist.
//
// The retry section is empty, so Exim gives up on the first failure,
// temporary (4xx) or not, and bounces at once ("If there are no retry
// rules ... temporary errors are treated as permanent", Exim's spec,
// chapter 32); delay_warning is off. A 5xx is never retried in any case.
const eximConf = `
primary_hostname = mta.example.net
qualify_domain = example.net
spool_directory = {{DIR}}/spool
log_file_path = {{DIR}}/log/%slog
log_selector = +smtp_confirmation +received_recipients
keep_environment =
delay_warning =
disable_ipv6 = true
tls_advertise_hosts =

begin routers

sink:
  driver = manualroute
  domains = ` + sinkDomain + `
  route_list = * "<+ [127.0.0.1]:{{SINKPORT}}"
  self = send
  transport = remote_smtp
  no_more

recipients:
  driver = manualroute
  domains = ` + recipientDomain + `
  route_list = * "<+ [127.0.0.1]:{{MXPORT}}"
  self = send
  transport = remote_smtp
  no_more

begin transports

remote_smtp:
  driver = smtp
  allow_localhost
  hosts_avoid_tls = *

begin retry
`

// newExim writes the configuration for the fake MX at mxAddr and the sink
// at sinkAddr (host:port) in a fresh directory that Exim's account can
// write.
func newExim(t *testing.T, mxAddr, sinkAddr string) *exim {
	t.Helper()
	u, err := user.Lookup(eximUser)
	if err != nil {
		t.Fatalf("Exim's account %s: %v (the exim4 packages create it)", eximUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir: its parent is open to root alone, and Exim writes
	// its spool and logs as eximUser.
	dir, err := os.MkdirTemp("", "bouncesink-peertest-exim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s cannot enter %s (mode %v) to reach Exim's spool: set TMPDIR to a directory that every user may enter", eximUser, p, fi.Mode())
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, d := range []string{"spool", "log"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	conf := strings.NewReplacer("{{DIR}}", dir, "{{MXPORT}}", port(mxAddr), "{{SINKPORT}}", port(sinkAddr)).Replace(eximConf)
	e := &exim{conf: filepath.Join(dir, "exim.conf"), dir: dir}
	if err := os.WriteFile(e.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// lostPrivilege is Exim's notice (on stderr and in its panic log) that a
// process it re-executes with -C runs as eximUser, not root: expected, as
// that is all delivering over SMTP needs.
const lostPrivilege = "exim user lost privilege for using -C option"

// send submits msg on the command line with envelope sender from and
// delivers it in the foreground (-odi): Exim returns once the message and
// any bounce it caused are delivered or failed. Then the queue must be
// empty: a bounce the sink did not take with 250 would still be in it.
func (e *exim) send(t *testing.T, from string, to []string, msg []byte) {
	t.Helper()
	args := append([]string{"-C", e.conf, "-odi", "-oi", "-f", from}, to...)
	out, err := e.run(msg, args...)
	if err != nil {
		t.Fatalf("exim4 %s: %v\n%s\n%s", strings.Join(args, " "), err, out, e.logs())
	}
	if out != "" {
		t.Logf("exim4 %s said: %s", strings.Join(args, " "), out)
	}
	out, err = e.run(nil, "-C", e.conf, "-bpc")
	if err != nil || out != "0" {
		queue, _ := e.run(nil, "-C", e.conf, "-bp")
		t.Fatalf("after sending to %s, exim4 -bpc: %q (%v), want an empty queue:\n%s\n%s", to, out, err, queue, e.logs())
	}
}

// run runs Exim with args and stdin, and returns what it printed less
// the lostPrivilege notices.
func (e *exim) run(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(eximPath, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var keep []string
	for line := range strings.Lines(string(out)) {
		if !strings.Contains(line, lostPrivilege) {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "")), err
}

// logs returns Exim's main, reject and panic logs, for a failure report.
func (e *exim) logs() string {
	var b strings.Builder
	for _, name := range []string{"mainlog", "rejectlog", "paniclog"} {
		data, err := os.ReadFile(filepath.Join(e.dir, "log", name))
		if err == nil {
			fmt.Fprintf(&b, "--- exim %s\n%s", name, data)
		}
	}
	return b.String()
}

// newsletter is a message as a mailing list sends it to rcpt.
func newsletter(rcpt string) []byte {
	now := time.Now()
	return fmt.Appendf(nil, "From: Newsletter <news@news.example.com>\nTo: <%s>\nSubject: Our November news\n"+
		"Date: %s\nMessage-ID: <%d.%s@news.example.com>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"+
		"Hello,\n\nthis is the newsletter.\n",
		rcpt, now.Format(time.RFC1123Z), now.UnixNano(), strings.ReplaceAll(rcpt, "@", "."))
}
