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
	for {
		// The server's write timeout is for a whole response; an export
		// of millions of rows gets it anew for each page.
		rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		for _, s := range page {
			if err := out.Write(s); err != nil {
				return // the client left
			}
		}
		// Even an empty list: a CSV file starts with its header row.
		if err := out.Flush(); err != nil || len(page) < exportPage {
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
// (CSV or JSONL, from ?format=, the Content-Type, or the first byte). A
// provider's list is imported with reason "import" and detail
// "SOURCE:KIND" (SOURCE is ?source= or the detected format; KIND the
// file's reason or list); bouncesink's own export is restored as it was
// (reason, detail and since), so that export and import make a backup of
// the list. The body is read a chunk at a time; rows imported before an
// error stay.
func (a *api) importList(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	format, status, err := importFormat(r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	// The server's timeouts are for a whole request; an upload of a
	// million rows gets them anew for each chunk, from the first on.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(ReadTimeout))
	rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
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
	restore := rd.Source() == exchange.SourceBouncesink
	actor := ActorFrom(r.Context())
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
		m := store.ManualSuppression{Address: row.Address, Since: row.Since,
			Note: fmt.Sprintf("imported from %s, line %d", res.Source, row.Line)}
		if restore {
			if !slices.Contains(SuppressionReasons, row.Kind) {
				reject(row.Line, fmt.Sprintf("reason %q: want one of %s", row.Kind, strings.Join(SuppressionReasons, ", ")))
				continue
			}
			m.Reason, m.Detail = row.Kind, row.Detail
		} else {
			m.Reason, m.Detail = "import", res.Source+":"+cmp.Or(row.Kind, "suppressed")
		}
		chunk = append(chunk, m)
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

// SuppressionReasons are the reasons a suppression can have, and so the
// reasons an import of bouncesink's own export restores.
var SuppressionReasons = []string{"hard", "soft", "complaint", "manual", "import"}

// importFormat is the format named by ?format= or the Content-Type, ""
// to look at the body. The Content-Type must name a list (CSV, JSONL, or
// application/octet-stream to let the body tell): a browser sends a form
// or text/plain to another site without asking it first (CORS), so
// refusing those refuses every cross-site import that a page could make
// without the server's consent, whatever the browser says of its origin.
// A wrong one is answered 415, a bad ?format= 400.
func importFormat(r *http.Request) (string, int, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := ""
	switch mt {
	case "text/csv", "application/csv":
		format = exchange.CSV
	case "application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/json-lines":
		format = exchange.JSONL
	case "application/octet-stream":
	default:
		return "", http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q: want text/csv or application/jsonl "+
			"(or application/octet-stream, and the first byte tells: { is JSONL)", r.Header.Get("Content-Type"))
	}
	if f := r.URL.Query().Get("format"); f != "" {
		if f != exchange.CSV && f != exchange.JSONL {
			return "", http.StatusBadRequest, fmt.Errorf("format=%q: want csv or jsonl", f)
		}
		format = f
	}
	return format, 0, nil
}

// bodyStatus is 413 for a body over the limit, 400 for anything else wrong with it.
func bodyStatus(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
