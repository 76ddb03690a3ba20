package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/api"
)

// cmdLift asks a running server to lift every suppression a filter
// selects (POST /v1/suppressions/lift), or, with --dry-run, to count and
// sample them. Exit status: 0 when done, 2 on an error.
func cmdLift(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lift", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink lift --note TEXT [--dry-run] [FILTER FLAGS] [--api URL] [--token TOKEN]\n"+
			"Lifts every suppression the filter selects (at least one filter flag), each with its own\n"+
			"audit entry and webhook; --dry-run counts them and shows the first 20 instead.\n"+
			"exit status: 0 when done, 2 on an error")
		fs.PrintDefaults()
	}
	var f api.LiftFilterJSON
	fs.StringVar(&f.Reason, "reason", "", "the suppression's `reason`: hard, soft, complaint, manual or import")
	fs.StringVar(&f.Class, "class", "", "the `class` of the address's latest verdict")
	fs.StringVar(&f.Domain, "domain", "", "the recipient `domain`")
	fs.StringVar(&f.Since, "since", "", "suppressed at or after `TIME` (RFC 3339 or 2006-01-02)")
	fs.StringVar(&f.Until, "until", "", "suppressed at or before `TIME`")
	fs.StringVar(&f.Q, "q", "", "a `substring` of the address")
	fs.StringVar(&f.Source, "source", "", "who suppressed it: `policy`, manual or import")
	fs.StringVar(&f.Detail, "detail", "", "the suppression's `detail`, exactly (user_unknown, ses:bounce)")
	fs.StringVar(&f.Decoder, "decoder", "", "the `decoder` of the verdict that decided")
	fs.StringVar(&f.Rule, "rule", "", "the `rule` of the verdict that decided")
	note := fs.String("note", "", "why, kept with every lifted address (required)")
	dryRun := fs.Bool("dry-run", false, "count and sample what would be lifted; change nothing")
	apiURL := fs.String("api", defaultAPI, "base `URL` of a running server's HTTP API")
	token := fs.String("token", "", "bearer `token` of an admin (default $BOUNCESINK_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || strings.TrimSpace(*note) == "" {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := postLift(ctx, *apiURL, tokenOr(*token), api.BulkLiftRequest{Filter: f, Note: *note, DryRun: *dryRun})
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink lift:", err)
		return 2
	}
	if res.DryRun {
		fmt.Fprintf(stdout, "dry run: %d suppressions match (made up to %s); nothing lifted\n", res.Matched, res.Cutoff.Format(time.RFC3339))
	} else {
		fmt.Fprintf(stdout, "lifted %d of %d matching suppressions\n", res.Lifted, res.Matched)
	}
	if len(res.Sample) > 0 {
		fmt.Fprintf(stdout, "the first %d:\n", len(res.Sample))
	}
	for _, s := range res.Sample {
		line := fmt.Sprintf("  %s  %s %s  since %s", s.Address, s.Reason, s.Detail, s.Since.Format(time.RFC3339))
		if s.Decoder != "" {
			line += fmt.Sprintf("  (%s %s)", s.Decoder, s.Rule)
		}
		fmt.Fprintln(stdout, line)
	}
	return 0
}

func postLift(ctx context.Context, base, token string, body api.BulkLiftRequest) (api.BulkLiftResponse, error) {
	var res api.BulkLiftResponse
	b, err := json.Marshal(body)
	if err != nil {
		return res, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v1/suppressions/lift", bytes.NewReader(b))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, data, err := askAPI(req, token)
	if err != nil {
		return res, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error  string `json:"error"`
			Lifted int    `json:"lifted"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			if e.Lifted > 0 {
				return res, fmt.Errorf("server answered %s: %s (lifted before it stopped: %d)", resp.Status, e.Error, e.Lifted)
			}
			return res, fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
		}
		return res, fmt.Errorf("server answered %s", resp.Status)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("reading the answer: %w", err)
	}
	return res, nil
}
