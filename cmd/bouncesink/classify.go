package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/verp"
)

// verdictLine is one line of "bouncesink classify --json". The keys up to
// remote_mta, their order and their meaning are a public interface; new
// keys may only be added after them.
type verdictLine struct {
	File         string  `json:"file"`      // the path as given, "-" for stdin
	Recipient    *string `json:"recipient"` // null when the message names none
	Class        string  `json:"class"`
	Reason       string  `json:"reason"`
	Status       string  `json:"status"`
	SMTPCode     int     `json:"smtp_code"`
	Action       string  `json:"action"`
	Diagnostic   string  `json:"diagnostic"`
	RemoteMTA    string  `json:"remote_mta"`
	ReportingMTA string  `json:"reporting_mta"`
	FeedbackType string  `json:"feedback_type"`
	Decoder      string  `json:"decoder"`
	Rule         string  `json:"rule"`
	Detail       string  `json:"detail"`
}

func newVerdictLine(file string, v classify.Verdict) verdictLine {
	l := verdictLine{
		File: file, Class: string(v.Class), Reason: string(v.Reason), Status: v.Status,
		SMTPCode: v.SMTPCode, Action: v.Action, Diagnostic: v.Diagnostic, RemoteMTA: v.RemoteMTA,
		ReportingMTA: v.ReportingMTA, FeedbackType: v.FeedbackType,
		Decoder: v.Evidence.Decoder, Rule: v.Evidence.Rule, Detail: v.Evidence.Detail,
	}
	if v.Recipient != "" {
		l.Recipient = &v.Recipient
	}
	return l
}

// cmdClassify classifies files offline. It exits 2 when a file cannot be
// read (after classifying the others) or on a usage error.
func cmdClassify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink classify [--json] [--rcpt ADDR] FILE...   (\"-\" reads stdin)")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print one JSON object per verdict and line")
	rcpt := fs.String("rcpt", "", "the envelope recipient the message came to, e.g. `bounces+alice=example.org@bounce.example.com`; its VERP tag names the recipient when the message does not")
	sep := fs.String("verp-separator", "+", "VERP separator of --rcpt")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	in := classify.Input{EnvelopeRecipient: *rcpt, Now: time.Now()}
	in.VERPRecipient, _ = verp.Decode(*rcpt, *sep)

	out := newVerdictWriter(stdout, *asJSON)
	status := 0
	for _, file := range fs.Args() {
		raw, err := readInput(file, stdin)
		if err != nil {
			fmt.Fprintln(stderr, "bouncesink classify:", err)
			status = 2
			continue
		}
		verdicts := classify.Classify(raw, in)
		if len(verdicts) == 0 { // the contract promises one; print one regardless
			verdicts = []classify.Verdict{{Class: classify.Unknown, Reason: classify.ReasonUnknown}}
		}
		for _, v := range verdicts {
			out.write(newVerdictLine(file, v))
		}
	}
	if err := out.flush(); err != nil {
		fmt.Fprintln(stderr, "bouncesink classify:", err)
		return 2
	}
	return status
}

func readInput(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(file)
}

// verdictWriter prints verdict lines as JSON or as an aligned table.
type verdictWriter struct {
	json   *json.Encoder
	table  *tabwriter.Writer
	header bool
}

func newVerdictWriter(w io.Writer, asJSON bool) *verdictWriter {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // diagnostics quote <addresses>
		return &verdictWriter{json: enc}
	}
	return &verdictWriter{table: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (w *verdictWriter) write(l verdictLine) {
	if w.json != nil {
		w.json.Encode(l)
		return
	}
	if !w.header {
		fmt.Fprintln(w.table, "FILE\tRECIPIENT\tCLASS\tREASON\tSTATUS\tCODE\tRULE\tDIAGNOSTIC")
		w.header = true
	}
	rcpt := "-"
	if l.Recipient != nil {
		rcpt = *l.Recipient
	}
	code := "-"
	if l.SMTPCode != 0 {
		code = strconv.Itoa(l.SMTPCode)
	}
	fmt.Fprintf(w.table, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(l.File), cell(rcpt), cell(l.Class),
		cell(l.Reason), cell(l.Status), code, cell(l.Decoder+"/"+l.Rule), cell(l.Diagnostic))
}

func (w *verdictWriter) flush() error {
	if w.table != nil {
		return w.table.Flush()
	}
	return nil
}

// cell makes s fit one table cell: one line, no tabs, not empty.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || s == "/" {
		return "-"
	}
	return s
}
