// Package testbin builds the project's binaries for tests that run them as
// separate processes (internal/crashtest, internal/peertest), and reads
// the listen addresses from the server's log.
package testbin

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// Bouncesink compiles cmd/bouncesink into dir, without -race, as it ships,
// and returns the binary's path. The caller's package must sit two levels
// below the repository root, as internal/* does.
func Bouncesink(t testing.TB, dir string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "bouncesink")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/bouncesink")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bouncesink: %v\n%s", err, out)
	}
	return bin
}

var (
	reStarted = regexp.MustCompile(`msg="?bouncesink started`)
	reSMTP    = regexp.MustCompile(` smtp=(\S+)`)
	reHTTP    = regexp.MustCompile(` http=(\S+)`)
)

// Started reads the SMTP and HTTP listen addresses (host:port) from the
// "bouncesink started" line that bouncesink serve logs once both listen;
// ok is false for any other line.
func Started(line string) (smtp, http string, ok bool) {
	if !reStarted.MatchString(line) {
		return "", "", false
	}
	m, h := reSMTP.FindStringSubmatch(line), reHTTP.FindStringSubmatch(line)
	if m == nil || h == nil {
		return "", "", false
	}
	return m[1], h[1], true
}
