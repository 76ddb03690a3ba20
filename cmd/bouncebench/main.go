// Command bouncebench measures bouncesink: SMTP ingestion against a
// server that discards what it receives, and the HTTP lookups against a
// store of a million recipients. It prints messages or requests per second,
// latency percentiles and the server's Go heap.
//
//	bouncebench smtp [-n 20000] [-c 50] [--compare | --same-recipient | --discard | --target ADDR]
//	bouncebench fill --db PATH [-n 1000000]
//	bouncebench prune --db PATH [-n 1000000] [--rounds 1]
//	bouncebench retention [--days 100] [--per-day 1000]
//	bouncebench check --db PATH [--addresses 100000] [--repeat 5]
//	bouncebench lookup --db PATH [--rate 5000] [--duration 10s]
//	bouncebench serve [--db PATH | --discard]
//	bouncebench postgres [--dir DIR]
//
// Unless given --target or --api, the commands start the server
// themselves, as a child process ("bouncebench serve", assembled from the
// same packages as "bouncesink serve"), so that the heap figures are the
// server's alone and the load client's own allocations are not in them.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  bouncebench smtp [-n 20000] [-c 50] [--compare | --same-recipient | --discard | --target ADDR]
      send N generated bounces over C SMTP connections; --compare runs the
      discard server and the full sink back to back and prints the ratio;
      --same-recipient runs the sink with bounces of distinct recipients,
      then with bounces all naming one, and prints the ratio
  bouncebench fill --db PATH [-n 1000000]
      write N recipients (every tenth suppressed) straight into a store
  bouncebench prune --db PATH [-n 1000000] [--rounds 1]
      SMTP latency idle, then while the server prunes N expired raw
      messages (the store is filled first if PATH does not exist)
  bouncebench retention [--days 100] [--per-day 1000]
      record that many days of classified bounces, prune with the default
      retention and print the bytes each stored bounce takes
  bouncebench check --db PATH [--addresses 100000] [--repeat 5]
      time POST /v1/check with a send list against that store
  bouncebench lookup --db PATH [--rate 5000] [--duration 10s]
      GET /v1/suppressions/ADDR at a fixed rate; latency percentiles
  bouncebench serve [--db PATH | --discard]
      the server the other commands start: the sink assembled in-process
      (store, ingest, smtpd, api) or a go-smtp server discarding each body
  bouncebench postgres [--dir DIR] [-c NAME=VALUE]...
      run a throwaway PostgreSQL server (fsync on) until interrupted and
      print its postgres:DSN, which every --db above takes instead of a PATH

Run "bouncebench COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) int{
		"smtp": cmdSMTP, "fill": cmdFill, "prune": cmdPrune, "retention": cmdRetention, "check": cmdCheck, "lookup": cmdLookup, "serve": cmdServe,
		"postgres": cmdPostgres,
	}
	if cmd, ok := cmds[args[0]]; ok {
		return cmd(args[1:], stdout, stderr)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bouncebench: unknown command %q\n\n%s", args[0], usage)
	return 2
}
