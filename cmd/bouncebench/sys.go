package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes what the figures were measured on.
func machine() string {
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), load average %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadavg())
}

// loadavg returns the 1, 5 and 15 minute load averages where the system
// says (Linux), so that a reader can tell a busy machine's figures.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// cpuTime returns the user and system CPU time a process has used so far,
// from /proc/PID/stat (Linux; pid 0 is this process), and false where the
// system does not say.
func cpuTime(pid int) (time.Duration, bool) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count fields
	// from after it. utime and stime are fields 14 and 15 of the line.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticks = 100 // USER_HZ, 100 on every Linux architecture Go runs on
	return time.Duration(utime+stime) * time.Second / ticks, true
}

// cpuMeter measures the CPU a load costs the server and the client.
type cpuMeter struct {
	pid            int
	server, client time.Duration
	ok             bool
}

func startCPU(serverPid int) cpuMeter {
	m := cpuMeter{pid: serverPid}
	if serverPid == 0 {
		return m // in process: the two cannot be told apart
	}
	var ok1, ok2 bool
	m.server, ok1 = cpuTime(serverPid)
	m.client, ok2 = cpuTime(0)
	m.ok = ok1 && ok2
	return m
}

// line says how much CPU each message cost the server and the client
// since startCPU; it also returns the server's, in µs (0 if unknown).
func (m cpuMeter) line(messages int) (string, float64) {
	server, ok1 := cpuTime(m.pid)
	client, ok2 := cpuTime(0)
	if !m.ok || !ok1 || !ok2 || messages == 0 {
		return "CPU per message: unknown (needs a child server on Linux)", 0
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(messages) }
	return fmt.Sprintf("CPU per message: server %.0f µs, load client %.0f µs (user+system, from /proc)",
		per(server-m.server), per(client-m.client)), per(server - m.server)
}

// writeBytes returns the bytes a process has caused to be written to
// storage so far, from /proc/PID/io (Linux), and false where the system
// does not say.
func writeBytes(pid int) (int64, bool) {
	if pid == 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
