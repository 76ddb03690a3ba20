package exchange

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

func readAll(t *testing.T, r io.Reader, format string) (string, []Row) {
	t.Helper()
	rd, err := NewReader(r, format)
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Source(), rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

// Each provider's export is recognised from its header, and its first row
// read with the provider's reason and time.
func TestProviderFiles(t *testing.T) {
	tests := []struct {
		file, source string
		rows         int
		first        Row
	}{
		{"ses.csv", SourceSES, 2, Row{Line: 2, Address: "bounced@ses.example", Kind: "bounce", Since: time.Date(2025, 11, 3, 8, 15, 30, 0, time.UTC)}},
		{"sendgrid-bounces.csv", SourceSendGrid, 2, Row{Line: 2, Address: "bounced@sendgrid.example", Kind: "bounce", Since: time.Unix(1730620800, 0).UTC()}},
		{"sendgrid-spam-reports.csv", SourceSendGrid, 1, Row{Line: 2, Address: "spammed@sendgrid.example", Kind: "spam_report", Since: time.Unix(1730707200, 0).UTC()}},
		{"mailgun-bounces.csv", SourceMailgun, 1, Row{Line: 2, Address: "bounced@mailgun.example", Kind: "bounce", Since: time.Date(2025, 11, 3, 8, 15, 30, 0, time.UTC)}},
		{"mailgun-complaints.csv", SourceMailgun, 1, Row{Line: 2, Address: "complainer@mailgun.example", Kind: "complaint", Since: time.Date(2025, 11, 4, 10, 0, 0, 0, time.UTC)}},
		{"postmark.csv", SourcePostmark, 3, Row{Line: 2, Address: "hard@postmark.example", Kind: "hardbounce", Since: time.Date(2025, 11, 3, 13, 15, 30, 0, time.UTC)}},
		{"bouncesink.csv", SourceBouncesink, 2, Row{Line: 2, Address: "alice@example.org", Kind: "hard", Detail: "user_unknown", Since: time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC)}},
		{"bouncesink.jsonl", SourceBouncesink, 2, Row{Line: 1, Address: "alice@example.org", Kind: "hard", Detail: "user_unknown", Since: time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC)}},
		{"ses-import.csv", SourceSES, 3, Row{Line: 1, Address: "bounced-import@ses.example", Kind: "bounce"}},
		{"ses-suppressed.jsonl", SourceSES, 3, Row{Line: 1, Address: "bounced-json@ses.example", Kind: "bounce", Since: time.Date(2025, 11, 3, 8, 15, 30, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "import", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			source, rows := readAll(t, f, "")
			if source != tt.source || len(rows) != tt.rows {
				t.Fatalf("source %q with %d rows, want %q with %d", source, len(rows), tt.source, tt.rows)
			}
			if rows[0] != tt.first {
				t.Errorf("first row %+v, want %+v", rows[0], tt.first)
			}
			for _, r := range rows {
				if r.Err != nil {
					t.Errorf("line %d: %v", r.Line, r.Err)
				}
			}
		})
	}
}

// SES's own formats: the header-less import CSV (every line a row, the
// reason in any case) and JSON lines, with lastUpdateTime as a string or
// as the AWS CLI's Unix seconds, and the field names in either case.
func TestSESFormats(t *testing.T) {
	_, rows := readAll(t, strings.NewReader("a@ses.example,BOUNCE\r\nb@ses.example,complaint\r\n"), "")
	if len(rows) != 2 || rows[1] != (Row{Line: 2, Address: "b@ses.example", Kind: "complaint"}) {
		t.Errorf("header-less CSV rows %+v", rows)
	}
	_, rows = readAll(t, strings.NewReader(`{"EmailAddress":"cli@ses.example","Reason":"BOUNCE","LastUpdateTime":1762157730.0}`+"\n"+
		`{"emailAddress":"","reason":"BOUNCE"}`+"\n"+`{"emailAddress":"x@ses.example","reason":"BOUNCE","lastUpdateTime":true}`), JSONL)
	if len(rows) != 3 || rows[0] != (Row{Line: 1, Address: "cli@ses.example", Kind: "bounce", Since: time.Unix(1762157730, 0).UTC()}) ||
		rows[1].Err == nil || rows[2].Err == nil {
		t.Errorf("JSON lines rows %+v", rows)
	}
	// A CSV whose first line is two fields but not an SES row is still
	// told by its header, or refused.
	if _, err := NewReader(strings.NewReader("address,flag\na@x.example,yes\n"), CSV); err == nil {
		t.Error("a two-column file that is neither SES's nor a known export was accepted")
	}
}

func TestRejectedRowsKeepTheirLine(t *testing.T) {
	f, err := os.Open("../testdata/import/rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, rows := readAll(t, f, CSV)
	bad := map[int]string{}
	for _, r := range rows {
		if r.Err != nil {
			bad[r.Line] = r.Err.Error()
		}
	}
	want := map[int]string{4: "no address", 5: "not understood", 6: "2 fields"}
	for line, msg := range want {
		if !strings.Contains(bad[line], msg) {
			t.Errorf("line %d: error %q, want one containing %q", line, bad[line], msg)
		}
	}
	if len(bad) != len(want) {
		t.Errorf("rejected %v, want lines 4, 5 and 6", bad)
	}
	if last := rows[len(rows)-1]; last.Line != 10 || last.Address != "last@ses.example" {
		t.Errorf("last row %+v, want line 10 after a two-line record", last)
	}
}

func TestUnknownHeader(t *testing.T) {
	if _, err := NewReader(strings.NewReader("mail,when\na@b.example,now\n"), CSV); err == nil {
		t.Error("an unknown header was accepted")
	}
	if _, err := NewReader(strings.NewReader(""), CSV); err == nil {
		t.Error("an empty file was accepted")
	}
}

// What the Writer writes, the Reader reads back.
func TestRoundTrip(t *testing.T) {
	list := []store.Suppression{
		{Address: "a@example.org", Reason: "hard", Detail: "user_unknown, \"quoted\"", Since: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Address: "b@example.org", Reason: "manual", Since: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)},
	}
	for _, format := range []string{CSV, JSONL} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, format)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if err := w.Write(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		source, rows := readAll(t, &buf, "")
		if source != SourceBouncesink || len(rows) != 2 {
			t.Fatalf("%s: read back %q %+v", format, source, rows)
		}
		for i, r := range rows {
			if r.Err != nil || r.Address != list[i].Address || r.Kind != list[i].Reason || r.Detail != list[i].Detail ||
				!r.Since.Equal(list[i].Since) {
				t.Errorf("%s: row %d = %+v, want %+v", format, i, r, list[i])
			}
		}
	}
}

// A cell a spreadsheet would run as a formula is written with a ' in
// front, and our own reader gives back exactly what was exported.
func TestFormulaCellsNeutralised(t *testing.T) {
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	list := []store.Suppression{
		{Address: "=1+2@example.org", Reason: "hard", Detail: "=HYPERLINK(\"http://evil.example\")", Since: since},
		{Address: "+1@example.org", Reason: "manual", Detail: "-2+3", Since: since},
		{Address: "-x@example.org", Reason: "manual", Detail: "@SUM(A1)", Since: since},
		{Address: "@x@example.org", Reason: "manual", Detail: "\tTAB", Since: since},
		{Address: "'quoted@example.org", Reason: "manual", Detail: "\rCR", Since: since},
		{Address: "''twice@example.org", Reason: "manual", Detail: "'=not a formula", Since: since},
		{Address: "plain@example.org", Reason: "manual", Detail: "a=b", Since: since},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, CSV)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// What a spreadsheet sees: no cell starts with a formula character.
	cr := csv.NewReader(bytes.NewReader(buf.Bytes()))
	cells, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range cells[1:] {
		for _, c := range rec {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("cell %q starts with a formula character", c)
			}
		}
	}
	if cells[7][0] != "plain@example.org" || cells[7][2] != "a=b" {
		t.Errorf("a harmless row was changed: %q", cells[7])
	}
	_, rows := readAll(t, bytes.NewReader(buf.Bytes()), "")
	for i, r := range rows {
		if r.Err != nil || r.Address != list[i].Address || r.Kind != list[i].Reason || r.Detail != list[i].Detail {
			t.Errorf("row %d read back as %+v, want %+v", i, r, list[i])
		}
	}
}

// endless is a reader of n bytes of b, made as they are read.
type endless struct {
	b byte
	n int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), e.n)
	for i := range p[:k] {
		p[i] = e.b
	}
	e.n -= k
	return k, nil
}

// A CSV record longer than MaxRecord (here one quoted field of 64 MiB)
// ends the file with an error, having buffered about MaxRecord and no
// more, as a JSONL line does.
func TestRecordOverLimit(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		body         io.Reader
	}{
		{"csv quoted field", CSV, io.MultiReader(strings.NewReader("address,reason,detail,since\nok@example.org,manual,x,\n\""), &endless{'a', 64 << 20})},
		{"csv unquoted line", CSV, io.MultiReader(strings.NewReader("EmailAddress,Reason\n"), &endless{'a', 64 << 20})},
		{"jsonl", JSONL, io.MultiReader(strings.NewReader(`{"address": "ok@example.org"}`+"\n"+`{"address": "`), &endless{'a', 64 << 20})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rd, err := NewReader(tt.body, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for {
				if _, last = rd.Next(); last != nil {
					break
				}
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(last, ErrRecordTooLong) {
				t.Errorf("reading a 64 MiB record ended with %v, want ErrRecordTooLong", last)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("reading a 64 MiB record allocated %d MiB, want about the %d MiB limit", alloc>>20, MaxRecord>>20)
			}
		})
	}
}
