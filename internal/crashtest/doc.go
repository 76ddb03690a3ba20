// Package crashtest proves that bouncesink loses nothing it acknowledged.
// Its test builds the bouncesink binary, serves from a temporary database,
// and kills the server with SIGKILL at random moments (restarting it each
// time) while clients send bounces over SMTP; then it checks the database:
// every message answered 250 is stored with its verdicts, no message is half
// applied, and bbolt's own consistency check passes.
//
// CI runs a small round (a few dozen kills). For a longer run:
//
//	BOUNCESINK_CRASH_KILLS=500 BOUNCESINK_CRASH_CONNS=16 go test -run Crash -v -timeout 30m ./internal/crashtest
package crashtest
