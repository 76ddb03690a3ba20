package crashtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/bouncesink/bouncesink/internal/testbin"
)

// server is one run of "bouncesink serve", from start to its death.
type server struct {
	cmd    *exec.Cmd
	ready  chan struct{} // closed once it logged its listen addresses
	exited chan struct{} // closed once the process is gone
	smtp   string        // valid after ready
	killed atomic.Bool
	err    error // Wait's result, valid after exited
}

// launch starts bouncesink serve on loopback ports the kernel picks, with
// the store that args name; the server's log (read for its addresses, no
// sleep) is appended to logw.
func launch(bin string, args []string, logw *tail) (*server, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logw.add(line)
			if s.smtp == "" {
				if addr, _, ok := testbin.Started(line); ok {
					s.smtp = addr
					close(s.ready)
				}
			}
		}
		io.Copy(io.Discard, stderr)
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// kill sends SIGKILL and waits for the process to be gone (and so for its
// file lock to be released).
func (s *server) kill() {
	s.killed.Store(true)
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// diedOnItsOwn reports an exit that was not our SIGKILL.
func (s *server) diedOnItsOwn() error {
	select {
	case <-s.exited:
	default:
		return nil
	}
	if s.killed.Load() {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return fmt.Errorf("bouncesink exited by itself: %v", ee)
	}
	return fmt.Errorf("bouncesink exited by itself (%v)", s.err)
}

// tail keeps the last lines of every server's log, for a failure report.
type tail struct {
	mu    sync.Mutex
	lines []string
	f     *os.File
}

func newTail(path string) (*tail, error) {
	f, err := os.Create(path)
	return &tail{f: f}, err
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.f, line)
	t.lines = append(t.lines, line)
	if len(t.lines) > 200 {
		t.lines = t.lines[len(t.lines)-100:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	for _, l := range t.lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}
