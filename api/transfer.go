package api

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/exchange"
	"github.com/bouncesink/bouncesink/store"
)

// DefaultMaxImportBytes bounds a POST /v1/import body: a million rows of
// a provider's CSV export are about 100 MiB.
const DefaultMaxImportBytes = 1 << 30

// exportPage is how many suppressions an export reads per store read: one
// short read transaction each, so that a slow client holds none open.
const exportPage = 1000

// export answers GET /v1/export?format=csv|jsonl: every suppression in
// address order, streamed. Pages are read one after the other, so
// suppressions changed during a long export may or may not be in it.
func (a *api) export(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = exchange.CSV
	}
	if format != exchange.CSV && format != exchange.JSONL {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format=%q: want csv or jsonl", format))
		return
	}
	// The first page before the header: a failing store still gets a JSON 500.
	page, err := st.Suppressions(r.Context(), "", exportPage)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", exchange.ContentType(format))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="bouncesink-suppressions-%s.%s"`,
		time.Now().UTC().Format("20060102"), format))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	out, _ := exchange.NewWriter(w, format) // the format is valid
	rc := http.NewResponseController(w)
	for len(page) > 0 {
		// The server's write timeout is for a whole response; an export
		// of millions of rows gets it anew for each page.
		rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		for _, s := range page {
			if err := out.Write(s); err != nil {
				return // the client left
			}
		}
		if err := out.Flush(); err != nil {
			return
		}
		if len(page) < exportPage {
			return
		}
		if page, err = st.Suppressions(r.Context(), page[len(page)-1].Address, exportPage); err != nil {
			// Too late for a status: cut the response short, so the
			// client sees a broken transfer rather than a short list.
			a.log.Error("api: export failed midway", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// ImportRejected is a row POST /v1/import could not import.
type ImportRejected struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ImportResult is the body of POST /v1/import.
type ImportResult struct {
	Source            string           `json:"source"` // the detected format, or ?source=
	Rows              int              `json:"rows"`
	Imported          int              `json:"imported"`
	AlreadySuppressed int              `json:"already_suppressed"` // left as they were
	RejectedCount     int              `json:"rejected_count"`
	Rejected          []ImportRejected `json:"rejected"` // the first MaxRejectedListed
	Error             string           `json:"error,omitempty"`
}

// MaxRejectedListed is how many rejected rows an import lists by line.
const MaxRejectedListed = 1000

// importChunk is how many rows go to the store in one transaction.
const importChunk = 1000

// importList answers POST /v1/import: a suppression list file in the body
// (CSV or JSONL, from ?format=, the Content-Type, or the first byte),
// imported with reason "import" and detail "SOURCE:KIND" (SOURCE is
// ?source= or the detected format; KIND the file's reason or list). The
// body is read a chunk at a time; rows imported before an error stay.
func (a *api) importList(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	format, err := importFormat(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	body := http.MaxBytesReader(w, r.Body, a.maxImport)
	rd, err := exchange.NewReader(body, format)
	if err != nil {
		writeError(w, bodyStatus(err), strings.TrimPrefix(err.Error(), "exchange: "))
		return
	}
	res := ImportResult{Source: rd.Source(), Rejected: []ImportRejected{}}
	if s := r.URL.Query().Get("source"); s != "" {
		res.Source = s
	}
	actor := ActorFrom(r.Context())
	rc := http.NewResponseController(w)
	reject := func(line int, msg string) {
		res.RejectedCount++
		if len(res.Rejected) < MaxRejectedListed {
			res.Rejected = append(res.Rejected, ImportRejected{Line: line, Error: msg})
		}
	}
	var (
		chunk []store.ManualSuppression
		lines []int
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		results, err := st.SuppressMany(r.Context(), actor, chunk)
		if err != nil {
			return err
		}
		for i, sr := range results {
			switch {
			case sr.Err != nil:
				reject(lines[i], "invalid address")
			case sr.Added:
				res.Imported++
			default:
				res.AlreadySuppressed++
			}
		}
		chunk, lines = chunk[:0], lines[:0]
		rc.SetReadDeadline(time.Now().Add(ReadTimeout))
		rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		return nil
	}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				a.storeError(w, r, ferr)
				return
			}
			res.Error = strings.TrimPrefix(err.Error(), "exchange: ")
			writeJSON(w, bodyStatus(err), res)
			return
		}
		res.Rows++
		if row.Err != nil {
			reject(row.Line, row.Err.Error())
			continue
		}
		kind := row.Kind
		if kind == "" {
			kind = "suppressed"
		}
		chunk = append(chunk, store.ManualSuppression{
			Address: row.Address, Reason: "import", Detail: res.Source + ":" + kind, Since: row.Since,
			Note: fmt.Sprintf("imported from %s, line %d", res.Source, row.Line),
		})
		lines = append(lines, row.Line)
		if len(chunk) == importChunk {
			if err := flush(); err != nil {
				a.storeError(w, r, err)
				return
			}
		}
	}
	if err := flush(); err != nil {
		a.storeError(w, r, err)
		return
	}
	// The store rejects a chunk's addresses after the reader rejected
	// later rows: put them back in file order.
	slices.SortStableFunc(res.Rejected, func(a, b ImportRejected) int { return cmp.Compare(a.Line, b.Line) })
	writeJSON(w, http.StatusOK, res)
}

// importFormat is the format named by ?format= or the Content-Type, ""
// to look at the body.
func importFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		if f != exchange.CSV && f != exchange.JSONL {
			return "", fmt.Errorf("format=%q: want csv or jsonl", f)
		}
		return f, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/csv", "application/csv":
		return exchange.CSV, nil
	case "application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/json-lines":
		return exchange.JSONL, nil
	}
	return "", nil
}

// bodyStatus is 413 for a body over the limit, 400 for anything else wrong with it.
func bodyStatus(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
