package exchange

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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
		{"bouncesink.csv", SourceBouncesink, 2, Row{Line: 2, Address: "alice@example.org", Kind: "hard", Since: time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC)}},
		{"bouncesink.jsonl", SourceBouncesink, 2, Row{Line: 1, Address: "alice@example.org", Kind: "hard", Since: time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC)}},
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
			if r.Err != nil || r.Address != list[i].Address || r.Kind != list[i].Reason || !r.Since.Equal(list[i].Since) {
				t.Errorf("%s: row %d = %+v, want %+v", format, i, r, list[i])
			}
		}
	}
}
