package peertest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mtaHostname is the name every MTA gives itself (HELO, Reporting-MTA,
// the From of its bounces).
const mtaHostname = "mta.example.net"

// The MTAs' queue timers, shortened from days to seconds so that a 4xx
// gets its delay warning and its final report within a minute or so:
// warn once a message is warnAfter old, give up once it is lifetime old,
// and retry every retryEvery. A warning needs a retry between warnAfter
// and lifetime: the wide gap leaves room for a busy machine.
const (
	warnAfter  = 5 * time.Second
	lifetime   = 60 * time.Second
	retryEvery = 5 * time.Second
)

// secs writes d as whole seconds with an "s", which every MTA's
// configuration reads.
func secs(d time.Duration) string { return fmt.Sprintf("%ds", int(d/time.Second)) }

// mta is a real MTA running for the test, with its own configuration,
// queue and loopback ports.
type mta struct {
	name   string
	submit string // host:port where it takes the newsletters over SMTP
	// queued counts the messages (bounces included) still in its queue.
	queued func() (int, error)
	// logs returns its logs, for a failure report.
	logs func() string
	// wrote returns "" if raw is a bounce this MTA wrote, else what it
	// lacks.
	wrote func(raw []byte) string
	// expiredText is what it writes in place of the last reply in a final
	// report of a message it gave up on ("" if it quotes the reply).
	expiredText string
	// extra are recipients it fails by itself.
	extra []extra
}

// unpackedRoot is where .ci/peer-mtas unpacks the MTAs that cannot be
// installed beside Exim (Debian's MTA packages conflict with one another):
// PACKAGE/ holds the package's files as under /. BOUNCESINK_PEERTEST_MTAS
// names another place.
func unpackedRoot() string {
	if d := os.Getenv("BOUNCESINK_PEERTEST_MTAS"); d != "" {
		return d
	}
	return "/opt/bouncesink-peertest"
}

// missingMTA says why an MTA cannot run here, "" if it can: a file it
// needs is missing, an account it runs as does not exist, or the test is
// not root (each MTA starts as root with a private configuration, then
// drops to its accounts). install says how to set it up.
func missingMTA(name, install string, files, accounts []string) string {
	var missing []string
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	for _, a := range accounts {
		if _, err := user.Lookup(a); err != nil {
			if _, err := user.LookupGroup(a); err != nil {
				missing = append(missing, "account "+a)
			}
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Sprintf("%s is missing %s (%s)", name, strings.Join(missing, ", "), install)
	case os.Geteuid() != 0:
		return fmt.Sprintf("%s with a private configuration needs root (uid %d)", name, os.Geteuid())
	}
	return ""
}

// privateDir makes a directory for an MTA's configuration, queue and
// logs, open for its unprivileged accounts to enter. Not t.TempDir: its
// parent is open to root alone.
func privateDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bouncesink-peertest-"+name+"-")
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
			t.Fatalf("%s's accounts cannot enter %s (mode %v) to reach its queue: set TMPDIR to a directory that every user may enter", name, p, fi.Mode())
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return dir
}

// dirSpec is a directory of an MTA's queue: its path (relative to the
// MTA's private directory), mode, owner and group ("" for root; group ""
// for the owner's group).
type dirSpec struct {
	path         string
	mode         os.FileMode
	owner, group string
}

// mkdirs makes each directory under dir with its mode and owner.
func mkdirs(t *testing.T, dir string, dirs ...dirSpec) {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			t.Fatal(err)
		}
		uid, gid := lookupIDs(t, d.owner, d.group)
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
}

// lookupIDs returns the uid of owner and the gid of group (owner's group
// when group is ""); root's for "".
func lookupIDs(t *testing.T, owner, group string) (int, int) {
	t.Helper()
	uid, gid := 0, 0
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Sscan(g.Gid, &gid)
	}
	return uid, gid
}

// freePort returns a loopback port nobody listens on now, for an MTA's
// SMTP listener.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// daemon is an MTA's main process, started by startDaemon.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	out    bytes.Buffer // its stdout and stderr
}

func (d *daemon) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

type lockedWriter struct{ d *daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.out.Write(p)
}

// startDaemon runs argv in the foreground in a mount and UTS namespace of
// its own (unshare(1)), where its host name is mtaHostname and
// /etc/resolv.conf names a resolver on loopback that is not there, so no
// DNS query leaves the machine; each of binds (source, target) is bound
// over a system directory there, seen by this MTA alone. It waits until
// the MTA listens on listen, and stops it (its whole process group) when
// the test ends.
func startDaemon(t *testing.T, dir, listen string, binds [][2]string, argv ...string) *daemon {
	t.Helper()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sh strings.Builder
	fmt.Fprintf(&sh, "set -e\nhostname %s\nmount --bind %s /etc/resolv.conf\n", mtaHostname, resolv)
	// Some MTAs (OpenSMTPD) name themselves after /etc/mailname, which an
	// installed MTA's package writes.
	if _, err := os.Stat("/etc/mailname"); err == nil {
		mailname := filepath.Join(dir, "mailname")
		if err := os.WriteFile(mailname, []byte(mtaHostname+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sh, "mount --bind %s /etc/mailname\n", mailname)
	}
	for _, b := range binds {
		fmt.Fprintf(&sh, "mount --bind %s %s\n", b[0], b[1])
	}
	fmt.Fprintf(&sh, "exec %s\n", strings.Join(argv, " "))
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte(sh.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{exited: make(chan struct{})}
	d.cmd = exec.Command("unshare", "--mount", "--uts", "sh", script)
	d.cmd.Stdout, d.cmd.Stderr = lockedWriter{d}, lockedWriter{d}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("unshare: %v (util-linux)", err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("%s exited at start (%v):\n%s", argv[0], d.cmd.ProcessState, d.output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s a minute after start:\n%s", argv[0], listen, d.output())
		}
	}
}

// stop sends SIGTERM to the daemon's process group (the MTA and the
// processes it started), and SIGKILL to what is left after ten seconds.
func (d *daemon) stop(t *testing.T) {
	pgid := -d.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		t.Logf("%s still running 10s after SIGTERM; killing it", d.cmd.Args)
	}
	// Children that outlive the main process (a delivery in progress)
	// are in its group too.
	syscall.Kill(pgid, syscall.SIGKILL)
}

// countFiles counts the regular files under root whose path (relative to
// root) keep accepts; a missing root holds none.
func countFiles(root string, keep func(rel string) bool) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if e.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			if keep(rel) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// readLogs concatenates files for a failure report.
func readLogs(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			fmt.Fprintf(&b, "--- %s\n%s", f, data)
		}
	}
	return b.String()
}
