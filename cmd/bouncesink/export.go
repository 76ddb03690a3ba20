package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bouncesink/bouncesink/exchange"
	"github.com/bouncesink/bouncesink/store"
)

// cmdExport writes the whole suppression list to stdout (or --output): by
// default from a running server's GET /v1/export, with --db straight from
// a database file that no server holds.
func cmdExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink export [--format csv|jsonl] [--api URL | --db PATH] [--output FILE]\n"+
			"Writes every suppression (address,reason,detail,since) to stdout or FILE.")
		fs.PrintDefaults()
	}
	format := fs.String("format", exchange.CSV, "`csv` or jsonl")
	apiURL := fs.String("api", defaultAPI, "base `URL` of a running server's HTTP API")
	dbPath := fs.String("db", "", "read this database `file` instead of asking a server (stop the server first)")
	token := fs.String("token", "", "bearer `token` for the API (default $BOUNCESINK_TOKEN)")
	output := fs.String("output", "", "write to `FILE` instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*format != exchange.CSV && *format != exchange.JSONL) {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := stdout
	var file *os.File
	if *output != "" {
		var err error
		if file, err = createPrivate(*output); err != nil {
			fmt.Fprintln(stderr, "bouncesink export:", err)
			return 1
		}
		out = file
	}
	var err error
	if *dbPath != "" {
		err = exportDB(ctx, *dbPath, *format, out)
	} else {
		err = exportAPI(ctx, *apiURL, tokenOr(*token), *format, out)
	}
	if file != nil {
		err = errors.Join(err, file.Close())
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink export:", err)
		return 1
	}
	return 0
}

// createPrivate creates (or truncates) path readable by its owner only:
// a suppression list is personal data. A file that was there keeps its
// owner but loses the other permissions.
func createPrivate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// defaultAPI is where the CLI finds a server started with the defaults.
const defaultAPI = "http://127.0.0.1:8025"

// tokenOr returns flag, or $BOUNCESINK_TOKEN when flag is empty.
func tokenOr(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("BOUNCESINK_TOKEN")
}

func exportDB(ctx context.Context, path, format string, out io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := openStore(StoreConfig{Path: path}, store.Policy{})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w; while a server runs, export with --api instead", err)
		}
		return err
	}
	defer db.Close()
	w, err := exchange.NewWriter(out, format)
	if err != nil {
		return err
	}
	after := ""
	for {
		page, err := db.Suppressions(ctx, after, store.MaxHistory)
		if err != nil {
			return err
		}
		for _, s := range page {
			if err := w.Write(s); err != nil {
				return err
			}
		}
		if len(page) < store.MaxHistory {
			return w.Flush()
		}
		after = page[len(page)-1].Address
	}
}

func exportAPI(ctx context.Context, base, token, format string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/export?format="+format, nil)
	if err != nil {
		return err
	}
	resp, err := doAPI(req, token)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("reading the export: %w", err)
	}
	return nil
}

// doAPI sends req with the token and returns the response if it is a
// 200, else an error with the server's message.
func doAPI(req *http.Request, token string) (*http.Response, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, apiError(resp)
}

// askAPI sends req with the bearer token, if any, and reads the answer,
// up to 16 MiB, whatever its status.
func askAPI(req *http.Request, token string) (*http.Response, []byte, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp, data, nil
}

// apiError describes a failed answer, with the server's {"error": ...}.
func apiError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("server answered %s", resp.Status)
}
