package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// target is the server a load runs against: a child process, a server
// in this process, or one running elsewhere.
type target struct {
	smtp, http string
	desc       string // for the report
	heapServed bool   // /debug/bench/heap answers
	inProcess  bool   // its heap includes the load client's
	pid        int    // the child process, if the server is one
	stop       func() error
}

// serverFlags choose where the server of a command runs.
type serverFlags struct {
	inProcess bool
	logLevel  string
	logPath   string
	profile   string
	memprof   string
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.inProcess, "inprocess", false, "run the server in this process rather than as a child (its heap figure then includes the load client)")
	fs.StringVar(&f.logLevel, "log-level", "info", "server log `level` (info is bouncesink's default: a line per connection and per message)")
	fs.StringVar(&f.logPath, "log", "", "server log `file` (default: a new file in the temporary directory)")
	fs.StringVar(&f.profile, "cpuprofile", "", "write the child server's CPU profile to `file`")
	fs.StringVar(&f.memprof, "memprofile", "", "write the child server's allocation profile to `file` when it stops")
}

// start runs the server o describes, as f says.
func (f *serverFlags) start(o serveOptions) (*target, error) {
	if f.logPath == "" {
		lf, err := os.CreateTemp("", "bouncebench-server-*.log")
		if err != nil {
			return nil, err
		}
		lf.Close()
		f.logPath = lf.Name()
	}
	what := "full sink (smtpd, classify, store: 250 once the message is on disk; the HTTP API)"
	if o.Discard {
		what = "discard server (go-smtp, body read into io.Discard)"
	}
	if f.inProcess {
		return f.startInProcess(o, what)
	}
	return f.spawn(o, what)
}

func (f *serverFlags) startInProcess(o serveOptions, what string) (*target, error) {
	if err := o.LogLevel.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(f.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	o.Log = lf
	o.SMTP, o.HTTP = "127.0.0.1:0", "127.0.0.1:0"
	s, err := startServer(o)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &target{
		smtp: s.smtpAddr, http: s.httpAddr, heapServed: true, inProcess: true,
		desc: what + ", in this process; log " + f.logPath,
		stop: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return errors.Join(s.stop(ctx), lf.Close())
		},
	}, nil
}

// spawn starts "bouncebench serve" as a child and waits for its "ready".
func (f *serverFlags) spawn(o serveOptions, what string) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--parent", "--log-level", f.logLevel, "--log", f.logPath}
	if f.profile != "" {
		args = append(args, "--cpuprofile", f.profile)
	}
	if f.memprof != "" {
		args = append(args, "--memprofile", f.memprof)
	}
	if o.Discard {
		args = append(args, "--discard")
	} else {
		args = append(args, "--db", o.DB)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{heapServed: true, pid: cmd.Process.Pid, desc: fmt.Sprintf("%s, child process %d; log %s", what, cmd.Process.Pid, f.logPath)}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "smtp":
			t.smtp = v
		case "http":
			t.http = v
		}
		if k == "ready" {
			break
		}
	}
	if t.smtp == "" || t.http == "" {
		stdin.Close()
		return nil, fmt.Errorf("server did not start: %v", cmd.Wait())
	}
	go io.Copy(io.Discard, stdout)
	t.stop = func() error {
		stdin.Close() // the child's signal to shut down
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			return fmt.Errorf("server did not stop in a minute; killed: %v", <-done)
		}
	}
	return t, nil
}

// childEnv marks a child started by spawn; the tests' TestMain runs
// the serve command when it is set.
const childEnv = "BOUNCEBENCH_CHILD"

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// resetHeap starts the server's heap maxima over.
func (t *target) resetHeap() error {
	if !t.heapServed {
		return nil
	}
	resp, err := httpClient.Post("http://"+t.http+"/debug/bench/heap/reset", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// commits reads the sink's group commit figures.
func (t *target) commits() (commitCounts, error) {
	var c commitCounts
	if !t.heapServed {
		return c, errors.New("not a bench server")
	}
	resp, err := httpClient.Get("http://" + t.http + "/debug/bench/commits")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, errors.New(resp.Status)
	}
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

// heapLine says what the server's Go heap was during the load.
func (t *target) heapLine() string {
	if !t.heapServed {
		return "server heap: unknown (external server; start it with bouncebench serve to see it)"
	}
	resp, err := httpClient.Get("http://" + t.http + "/debug/bench/heap")
	if err != nil {
		return "server heap: " + err.Error()
	}
	defer resp.Body.Close()
	var h heapStats
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return "server heap: " + err.Error()
	}
	note := "server process alone"
	if t.inProcess {
		note = "server and load client share this process"
	}
	return fmt.Sprintf("server heap max: HeapInuse %.1f MiB, HeapAlloc %.1f MiB (runtime.MemStats every 50ms, %d samples, %d GCs; %s)",
		mib(h.HeapInuseMax), mib(h.HeapAllocMax), h.Samples, h.NumGC, note)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
