// Package crashtest proves that bouncesink loses nothing it acknowledged.
// Its tests build the bouncesink binary, serve from a temporary database,
// and kill the server with SIGKILL at random moments (restarting it each
// time) while clients send bounces over SMTP; then they check the database:
// every message answered 250 is stored with its verdicts, no message is half
// applied, a retransmission counts once, the audit trail has no gap.
// TestCrashLosesNothing runs on a bbolt file (and runs bbolt's own
// consistency check at the end); TestCrashLosesNothingPostgres runs the
// same load and checks on PostgreSQL (a throwaway cluster from
// internal/pgtest; without PostgreSQL it skips, saying so, or fails when
// CI=true).
//
// CI runs a small round (a few dozen kills each). For a longer run:
//
//	BOUNCESINK_CRASH_KILLS=500 BOUNCESINK_CRASH_CONNS=16 go test -run Crash -v -timeout 30m ./internal/crashtest
package crashtest
