package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/exchange"
)

// cmdImport sends a suppression list file to a running server's POST
// /v1/import (the database is locked while the server runs), showing the
// upload's progress on stderr. Exit status: 0 when every row was imported
// or already suppressed, 1 when rows were rejected, 2 on an error.
func cmdImport(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink import [--source NAME] [--format csv|jsonl] [--api URL] FILE\n"+
			"Imports a bouncesink export, the CSV export of Amazon SES, SendGrid, Mailgun or\n"+
			"Postmark (told apart by the header row), or SES's suppression list as a header-less\n"+
			"address,REASON CSV or JSON lines; \"-\" reads stdin.\n"+
			"exit status: 0 if every row was imported or already suppressed, 1 if rows were rejected, 2 on error")
		fs.PrintDefaults()
	}
	source := fs.String("source", "", "source `name` recorded in each suppression's detail (default: the detected format)")
	format := fs.String("format", "", "`csv` or jsonl (default: from the file name, else the first byte)")
	apiURL := fs.String("api", defaultAPI, "base `URL` of a running server's HTTP API")
	token := fs.String("token", "", "bearer `token` of an admin (default $BOUNCESINK_TOKEN)")
	quiet := fs.Bool("quiet", false, "no progress")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	name := fs.Arg(0)
	if *format == "" {
		switch {
		case strings.HasSuffix(name, ".csv"):
			*format = exchange.CSV
		case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"):
			*format = exchange.JSONL
		}
	}
	var (
		body io.Reader = stdin
		size int64     = -1
	)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "bouncesink import:", err)
			return 2
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		body = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A file under a MiB goes in a blink: no progress for it.
	bar := &uploadProgress{r: body, total: size, w: stderr, quiet: *quiet || (size >= 0 && size < 1<<20)}
	res, err := postImport(ctx, *apiURL, tokenOr(*token), *format, *source, bar)
	bar.done()
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink import:", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d imported, %d already suppressed, %d rejected\n",
		res.Source, res.Rows, res.Imported, res.AlreadySuppressed, res.RejectedCount)
	for _, r := range res.Rejected {
		fmt.Fprintf(stdout, "  line %d: %s\n", r.Line, r.Error)
	}
	if n := res.RejectedCount - len(res.Rejected); n > 0 {
		fmt.Fprintf(stdout, "  (%d more rejected rows not listed)\n", n)
	}
	if res.RejectedCount > 0 {
		return 1
	}
	return 0
}

func postImport(ctx context.Context, base, token, format, source string, body io.Reader) (api.ImportResult, error) {
	var res api.ImportResult
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	if source != "" {
		q.Set("source", source)
	}
	u := strings.TrimRight(base, "/") + "/v1/import"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return res, err
	}
	// The server wants a list's media type; octet-stream lets it tell
	// the format from the first byte.
	req.Header.Set("Content-Type", "application/octet-stream")
	if format != "" {
		req.Header.Set("Content-Type", exchange.ContentType(format))
	}
	resp, data, err := askAPI(req, token)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(data, &res); err != nil || resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			err = fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
			if res.Rows > 0 {
				err = fmt.Errorf("%w (rows before it were imported: %d)", err, res.Imported)
			}
			return res, err
		}
		return res, fmt.Errorf("server answered %s", resp.Status)
	}
	return res, nil
}

// uploadProgress reads the file being sent and shows how much of it has
// gone, at most five times a second. The server imports as it reads, so
// what has gone is about what is imported.
type uploadProgress struct {
	r     io.Reader
	total int64 // -1 when unknown (stdin)
	w     io.Writer
	quiet bool
	sent  int64
	last  time.Time
	shown bool
}

func (p *uploadProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	if !p.quiet && (time.Since(p.last) >= 200*time.Millisecond || err == io.EOF) {
		p.last = time.Now()
		p.shown = true
		if p.total > 0 {
			frac := float64(p.sent) / float64(p.total)
			bar := strings.Repeat("#", int(frac*30)) + strings.Repeat(".", 30-int(frac*30))
			fmt.Fprintf(p.w, "\rimport [%s] %s of %s (%.0f%%)", bar, mib(p.sent), mib(p.total), 100*frac)
		} else {
			fmt.Fprintf(p.w, "\rimport: %s", mib(p.sent))
		}
	}
	return n, err
}

func (p *uploadProgress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
