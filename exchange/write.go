// Package exchange reads and writes suppression lists as files: bouncesink's
// own export (CSV or JSON Lines) and the CSV exports of the suppression
// lists of Amazon SES, SendGrid, Mailgun and Postmark. It only converts:
// the store decides what a row does, and the api streams the files.
package exchange

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// The formats of bouncesink's own files.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// ContentType is the media type of a file of format.
func ContentType(format string) string {
	if format == JSONL {
		return "application/jsonl; charset=utf-8"
	}
	return "text/csv; charset=utf-8"
}

// Header is the header row of bouncesink's CSV export.
var Header = []string{"address", "reason", "detail", "since"}

// exportRecord is one line of the JSONL export.
type exportRecord struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail"`
	Since   time.Time `json:"since"`
}

// Writer writes suppressions in one of bouncesink's formats. The CSV
// format starts with Header; both end each suppression with a newline.
type Writer struct {
	csv  *csv.Writer
	json *json.Encoder
}

// NewWriter returns a Writer of format (CSV or JSONL) to w. The caller
// calls Flush at the end.
func NewWriter(w io.Writer, format string) (*Writer, error) {
	switch format {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(Header); err != nil {
			return nil, err
		}
		return &Writer{csv: cw}, nil
	case JSONL:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &Writer{json: enc}, nil
	}
	return nil, fmt.Errorf("exchange: unknown format %q, want csv or jsonl", format)
}

// Write writes one suppression. In CSV, a cell that a spreadsheet would
// read as a formula (it starts with = + - @, a tab or a carriage return)
// gets a ' in front, as OWASP advises against CSV injection: addresses
// and details come from bounces anyone can send. A cell that starts with
// ' gets one more, so that the Reader, which drops one leading ' from
// every cell of our own CSV, gives back exactly what was written.
func (w *Writer) Write(s store.Suppression) error {
	if w.csv != nil {
		return w.csv.Write([]string{escapeCell(s.Address), escapeCell(s.Reason), escapeCell(s.Detail),
			s.Since.UTC().Format(time.RFC3339Nano)})
	}
	return w.json.Encode(exportRecord{Address: s.Address, Reason: s.Reason, Detail: s.Detail, Since: s.Since.UTC()})
}

// escapeCell neutralises a CSV cell a spreadsheet would run as a formula.
func escapeCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r'", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// unescapeCell undoes escapeCell.
func unescapeCell(s string) string { return strings.TrimPrefix(s, "'") }

// Flush writes what the Writer buffers and reports any error it met.
func (w *Writer) Flush() error {
	if w.csv != nil {
		w.csv.Flush()
		return w.csv.Error()
	}
	return nil
}
