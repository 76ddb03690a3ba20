// Package pgtest runs a throwaway PostgreSQL server for tests and
// benchmarks: initdb and pg_ctl from Debian's postgresql package, a data
// directory in a temporary directory, a free port on 127.0.0.1, run as
// the postgres user when the caller is root (PostgreSQL refuses to run as
// root). Where the binaries are missing, tests skip, saying so, or fail
// when CI=true: .ci/run installs them.
//
// BOUNCESINK_TEST_DSN, when set, names a server to use instead.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir  string // data directory, empty for a server we did not start
	bin  string
	cred *syscall.Credential
	base string   // DSN of its postgres database
	args []string // of pg_ctl start
	n    atomic.Int64
}

// Options configure Start.
type Options struct {
	// Durable keeps fsync on, as a production server has it; without it
	// the server skips its fsyncs (tests, where durability is not under
	// test, run faster).
	Durable bool
	// Settings are more -c settings, name=value.
	Settings []string
}

// BinDir returns the directory of initdb and pg_ctl, or an error saying
// what is missing: Debian keeps them in /usr/lib/postgresql/VERSION/bin
// (the newest wins), other systems in the PATH.
func BinDir() (string, error) {
	binDirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(binDirs)
	binDirs = append(binDirs, "/usr/local/bin", "/usr/bin", "/usr/local/pgsql/bin")
	for _, d := range binDirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server programs (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin, " +
		"/usr/local/bin or /usr/bin; install Debian's postgresql package")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// Start initialises a data directory under dir (which must exist and,
// when the caller is root, be reachable by the postgres user: not under a
// test's private t.TempDir) and starts a server on it. Stop it with Stop.
func Start(dir string, o Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: filepath.Join(dir, "pgdata"), bin: bin}
	sock := filepath.Join(dir, "sock")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{dir, sock} {
			if err := os.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	if out, err := c.run("initdb", "-D", c.dir, "-U", "bouncesink", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	opts := []string{"-p", strconv.Itoa(port), "-k", sock, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !o.Durable {
		opts = append(opts, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	for _, s := range o.Settings {
		opts = append(opts, "-c", s)
	}
	c.args = []string{"-D", c.dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", strings.Join(opts, " "), "start"}
	if err := c.StartAgain(); err != nil {
		return nil, err
	}
	c.base = fmt.Sprintf("postgres://bouncesink@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c, nil
}

func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartAgain starts a server that Stop stopped, on the same port.
func (c *Cluster) StartAgain() error {
	if out, err := c.run("pg_ctl", c.args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.dir), "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server, if Start started it.
func (c *Cluster) Stop() error {
	if c == nil || c.dir == "" {
		return nil
	}
	if out, err := c.run("pg_ctl", "-D", c.dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// DSN returns the DSN of the server's postgres database.
func (c *Cluster) DSN() string { return c.base }

// NewDatabase creates an empty database and returns its DSN.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("bouncesink_%d_%d", os.Getpid(), c.n.Add(1))
	conn, err := pgx.Connect(ctx, c.base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return withDatabase(c.base, name), nil
}

// NewSchema creates an empty schema in the postgres database and returns
// a DSN whose search_path is that schema: cheaper than a database, for
// the many stores of a test suite.
func (c *Cluster) NewSchema(ctx context.Context) (string, error) {
	name := fmt.Sprintf("s%d_%d", os.Getpid(), c.n.Add(1))
	conn, err := pgx.Connect(ctx, c.base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", err
	}
	return c.base + "&search_path=" + name, nil
}

func withDatabase(dsn, name string) string {
	i := strings.Index(dsn, "/postgres?")
	return dsn[:i] + "/" + name + dsn[i+len("/postgres"):]
}

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
	sharedDir  string
)

// Database returns the DSN of a new, empty database on the shared server
// (Shared), failing the test if it cannot make one.
func Database(t testing.TB) string {
	t.Helper()
	dsn, err := Shared(t).NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Shared returns the test binary's server, starting it on first use; the
// package's TestMain stops it with StopShared. Without PostgreSQL the test
// skips, saying why, or fails when CI=true.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		if dsn := os.Getenv("BOUNCESINK_TEST_DSN"); dsn != "" {
			shared = &Cluster{base: dsn}
			return
		}
		if _, sharedErr = BinDir(); sharedErr != nil {
			return
		}
		if sharedDir, sharedErr = os.MkdirTemp("", "bouncesink-pg-"); sharedErr != nil {
			return
		}
		shared, sharedErr = Start(sharedDir, Options{})
	})
	if sharedErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is needed in CI: %v", sharedErr)
		}
		t.Skipf("skipping: no PostgreSQL to test against: %v", sharedErr)
	}
	return shared
}

// Main runs a package's tests and then StopShared, and exits with their
// result: the TestMain of a package that uses Shared.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the server Shared started, if any, and removes its
// directory. Call it from TestMain after m.Run (Main does).
func StopShared() {
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

// Wait waits until the server at dsn answers, at most d.
func Wait(ctx context.Context, dsn string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
