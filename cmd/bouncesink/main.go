// Command bouncesink is a bounce sink for senders of bulk mail: it receives
// bounces, auto-replies and complaints over SMTP, classifies them, keeps a
// suppression list, and answers mailing software over an HTTP API.
//
//	bouncesink serve [--config FILE] [--smtp ADDR] [--http ADDR] [--db PATH]
//	bouncesink classify [--json] [--rcpt ADDR] FILE...
//	bouncesink check [--api URL] [--token TOKEN] ADDR...
//	bouncesink compact [--config FILE] [--db PATH]
//	bouncesink export [--format csv|jsonl] [--api URL [--token TOKEN] | --db PATH] [--output FILE]
//	bouncesink import [--source NAME] [--format csv|jsonl] [--api URL] [--token TOKEN] FILE
//	bouncesink lift --note TEXT [--dry-run] [FILTER FLAGS] [--api URL] [--token TOKEN]
//	bouncesink verp sign|verify [--config FILE] ADDR...
//	bouncesink backup [--api URL [--token TOKEN] | --db PATH] FILE
//	bouncesink migrate --from bbolt:PATH|postgres:DSN --to postgres:DSN|bbolt:PATH
package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `usage:
  bouncesink serve [--config FILE] [--smtp ADDR] [--http ADDR] [--db PATH]
      run the SMTP sink and the HTTP API (defaults: SMTP 127.0.0.1:2525,
      HTTP 127.0.0.1:8025, database ./data/bouncesink.db)
  bouncesink classify [--json] [--rcpt ADDR] FILE...
      classify messages offline, without a database; "-" reads stdin
  bouncesink check [--api URL] [--token TOKEN] ADDR...
      ask a running server whether addresses are suppressed;
      exit 0 if none is, 1 if any is, 2 on error
  bouncesink reclassify [--config FILE] [--db PATH] [--quiet]
      re-run the classifier over every stored message and rebuild
      recipient state and suppressions (stop the server first)
  bouncesink compact [--config FILE] [--db PATH]
      rewrite the database file without its free pages, giving back the
      space pruning freed (stop the server first)
  bouncesink export [--format csv|jsonl] [--api URL [--token TOKEN] | --db PATH] [--output FILE]
      write the whole suppression list, from a running server or a database
      (FILE is created readable by its owner only)
  bouncesink import [--source NAME] [--format csv|jsonl] [--api URL] [--token TOKEN] FILE
      send a suppression list (our export, or SES, SendGrid, Mailgun or
      Postmark CSV) to a running server; exit 1 if rows were rejected
  bouncesink lift --note TEXT [--dry-run] [--reason R] [--class C] [--domain D]
          [--since T] [--until T] [--q S] [--source S] [--detail D]
          [--decoder D] [--rule R] [--api URL] [--token TOKEN]
      lift every suppression the filter selects on a running server (the
      bulk undo of an over-suppression); --dry-run counts and samples them
  bouncesink verp sign [--config FILE] [--return-path ADDR] RECIPIENT...
      print the signed return path for each recipient ([verp] keys)
  bouncesink verp verify [--config FILE] RETURN-PATH...
      check signed return paths; exit 0 if all are valid, 1 if not
  bouncesink backup [--api URL [--token TOKEN] | --db PATH] FILE
      write a consistent copy of the bbolt database to FILE, from a running
      server or a stopped one's file; the copy is checked before it is kept
  bouncesink migrate --from bbolt:PATH|postgres:DSN --to postgres:DSN|bbolt:PATH [--resume]
      copy a whole store to another engine and verify the copy by counts
      (stop the servers first)

Commands that call the API read the token from --token or $BOUNCESINK_TOKEN.
Run "bouncesink COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stderr)
	case "classify":
		return cmdClassify(args[1:], stdin, stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "reclassify":
		return cmdReclassify(args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(args[1:], stdout, stderr)

	case "compact":
		return cmdCompact(args[1:], stdout, stderr)
	case "export":
		return cmdExport(args[1:], stdout, stderr)
	case "import":
		return cmdImport(args[1:], stdin, stdout, stderr)
	case "lift":
		return cmdLift(args[1:], stdout, stderr)
	case "verp":
		return cmdVERP(args[1:], stdout, stderr, time.Now)
	case "migrate":
		return cmdMigrate(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bouncesink: unknown command %q\n\n%s", args[0], usage)
	return 2
}
