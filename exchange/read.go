package exchange

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The sources Reader recognises by the header row of a CSV file (see
// README, "Export and import", for the exact columns); a CSV file without
// a header whose first line is an address and BOUNCE or COMPLAINT is SES's
// import file. A JSONL file is SourceBouncesink, or SourceSES when its
// first object has an emailAddress.
const (
	SourceBouncesink = "bouncesink"
	SourceSES        = "ses"
	SourceSendGrid   = "sendgrid"
	SourceMailgun    = "mailgun"
	SourcePostmark   = "postmark"
)

// Row is one suppression read from a file.
type Row struct {
	Line    int    // where the row starts, counting from 1 (the header is line 1 of a CSV)
	Address string // as written; the store normalises and checks it
	Kind    string // which list or reason, as the file says: "bounce", "complaint", "hardbounce", "hard"...
	// Detail is the detail column of bouncesink's own files (the
	// suppression's Detail, as exported); empty for other sources.
	Detail string
	Since  time.Time // when the provider suppressed it; zero if the file does not say
	// Err says why the row cannot be imported (a missing address, a
	// malformed time or line). The other fields may be empty then.
	Err error
}

// Reader reads the rows of a suppression list file.
type Reader struct {
	source string
	next   func() (Row, error)
}

// MaxRecord bounds one JSONL line or CSV record (a quoted CSV field may
// span lines: the bound is on the whole record). A longer one ends the
// file with an error, so a hostile file cannot make the reader buffer
// more than about this much.
const MaxRecord = 1 << 20

// ErrRecordTooLong is wrapped by the error of a file with a record over
// MaxRecord.
var ErrRecordTooLong = fmt.Errorf("record longer than %d bytes", MaxRecord)

// NewReader reads the header of a file of format CSV or JSONL ("" looks at
// the first byte: '{' means JSONL) and returns a Reader for its rows.
func NewReader(r io.Reader, format string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if format == "" {
		format = CSV
		if b, err := peekNonSpace(br); err == nil && b == '{' {
			format = JSONL
		}
	}
	switch format {
	case JSONL:
		return newJSONLReader(br), nil
	case CSV:
		return newCSVReader(br)
	}
	return nil, fmt.Errorf("exchange: unknown format %q, want csv or jsonl", format)
}

// Source names the format the header showed: one of the Source constants.
func (r *Reader) Source() string { return r.source }

// Next returns the next row, or io.EOF after the last. A row that cannot
// be imported comes back with Err set; an error from Next itself (reading
// failed, or a record is over MaxRecord) ends the file.
func (r *Reader) Next() (Row, error) { return r.next() }

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for n := 1; n <= 4096; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return 0, err
		}
		c := b[n-1]
		if c == 0xEF || c == 0xBB || c == 0xBF { // a UTF-8 byte order mark
			continue
		}
		if !unicode.IsSpace(rune(c)) {
			return c, nil
		}
	}
	return 0, errors.New("only spaces")
}

// newJSONLReader reads our own export, one object per line with address,
// reason, detail and since; or, when its first object has an
// "emailAddress", Amazon SES's suppression list as JSON lines
// (emailAddress, reason BOUNCE or COMPLAINT, and lastUpdateTime when it
// says: SES's import format, and what its ListSuppressedDestinations
// returns per address; the names match without case).
func newJSONLReader(br *bufio.Reader) *Reader {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxRecord)
	line := 0
	r := &Reader{source: SourceBouncesink}
	// The first non-empty line, read ahead to tell the source.
	var first []byte
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		if len(text) > 0 {
			first = append([]byte(nil), text...)
			break
		}
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(first, &probe) == nil {
		for k := range probe {
			if strings.EqualFold(k, "emailAddress") {
				r.source = SourceSES
			}
		}
	}
	firstLine := line
	r.next = func() (Row, error) {
		for first != nil || sc.Scan() {
			text, at := first, firstLine
			if text != nil {
				first = nil
			} else {
				line++
				text, at = bytes.TrimSpace(sc.Bytes()), line
			}
			if len(text) == 0 {
				continue
			}
			var rec struct {
				Address        string `json:"address"`
				Reason         string `json:"reason"`
				Detail         string `json:"detail"`
				Since          string `json:"since"`
				EmailAddress   string `json:"emailAddress"`
				LastUpdateTime any    `json:"lastUpdateTime"`
			}
			row := Row{Line: at}
			if err := json.Unmarshal(text, &rec); err != nil {
				row.Err = fmt.Errorf("not a JSON object: %v", err)
				return row, nil
			}
			if r.source == SourceSES {
				row.Address, row.Kind = strings.TrimSpace(rec.EmailAddress), strings.ToLower(strings.TrimSpace(rec.Reason))
				row.Since, row.Err = parseTimeValue(rec.LastUpdateTime)
				if row.Err == nil && row.Address == "" {
					row.Err = errors.New(`no "emailAddress"`)
				}
				return row, nil
			}
			row.Address, row.Kind, row.Detail = strings.TrimSpace(rec.Address), strings.ToLower(rec.Reason), rec.Detail
			row.Since, row.Err = parseTime(rec.Since)
			if row.Err == nil && row.Address == "" {
				row.Err = errors.New(`no "address"`)
			}
			return row, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = ErrRecordTooLong
			}
			return Row{}, fmt.Errorf("exchange: line %d: %w", line+1, err)
		}
		return Row{}, io.EOF
	}
	return r
}

// parseTimeValue reads a JSON time: a string as parseTime does, or a
// number of Unix seconds (the AWS CLI's lastUpdateTime).
func parseTimeValue(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case string:
		return parseTime(x)
	case float64:
		if x > 0 && x < 1e11 {
			sec := int64(x)
			return time.Unix(sec, int64((x-float64(sec))*1e9)).UTC().Round(time.Millisecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %v not understood", v)
}

// layout says where a CSV source keeps what a Row needs.
type layout struct {
	source                    string
	address, kind, detail, at int // column indexes; -1 when absent
	fixedKind                 string
}

func newCSVReader(br *bufio.Reader) (*Reader, error) {
	// encoding/csv has no bound of its own on a record: a quoted field
	// runs on over any number of lines, held in memory.
	lim := &recordLimit{r: br}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("exchange: empty file, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("exchange: header: %w", err)
	}
	header = append([]string(nil), header...)
	header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	// SES's suppression list import file has no header: its first line is
	// already a row, address and BOUNCE or COMPLAINT.
	var pending *Row
	if headerlessSES(header) {
		l := layout{source: SourceSES, address: 0, kind: 1, detail: -1, at: -1}
		row := l.row(1, header, 2)
		pending = &row
		read := 1
		return &Reader{source: SourceSES, next: func() (Row, error) {
			if pending != nil {
				row := *pending
				pending = nil
				return row, nil
			}
			return nextCSV(cr, lim, l, 2, &read)
		}}, nil
	}
	l, err := detect(header)
	if err != nil {
		return nil, err
	}
	read := 1 // the lines read so far
	return &Reader{source: l.source, next: func() (Row, error) { return nextCSV(cr, lim, l, len(header), &read) }}, nil
}

// headerlessSES reports whether the first record of a CSV file is a row of
// SES's header-less import file: an address, then BOUNCE or COMPLAINT.
func headerlessSES(rec []string) bool {
	if len(rec) != 2 || !strings.Contains(rec[0], "@") {
		return false
	}
	kind := strings.ToUpper(strings.TrimSpace(rec[1]))
	return kind == "BOUNCE" || kind == "COMPLAINT"
}

// nextCSV reads the next record of a CSV file laid out as l, with columns
// fields; read is the last line read so far.
func nextCSV(cr *csv.Reader, lim *recordLimit, l layout, columns int, read *int) (Row, error) {
	lim.n = 0
	rec, err := cr.Read()
	if err == io.EOF {
		return Row{}, io.EOF
	}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		*read = perr.Line
		return Row{Line: perr.StartLine, Err: errors.New(perr.Err.Error())}, nil
	}
	if err != nil {
		// FieldPos knows no record here.
		return Row{}, fmt.Errorf("exchange: the record after line %d: %w", *read, err)
	}
	line, _ := cr.FieldPos(0)
	*read, _ = cr.FieldPos(len(rec) - 1)
	return l.row(line, rec, columns), nil
}

// recordLimit fails a read once more than MaxRecord bytes (and the csv
// reader's own buffer) were read since n was last reset, at the start of
// a record.
type recordLimit struct {
	r io.Reader
	n int
}

// recordSlack is what the csv reader may read ahead of the record it
// returns: its bufio.Reader's buffer.
const recordSlack = 64 << 10

func (l *recordLimit) Read(p []byte) (int, error) {
	if l.n > MaxRecord+recordSlack {
		return 0, ErrRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func (l layout) row(line int, rec []string, columns int) Row {
	row := Row{Line: line}
	if len(rec) != columns {
		row.Err = fmt.Errorf("%d fields, the header has %d", len(rec), columns)
		return row
	}
	if l.source == SourceBouncesink {
		for i := range rec {
			rec[i] = unescapeCell(rec[i])
		}
	}
	row.Address = strings.TrimSpace(rec[l.address])
	row.Kind = l.fixedKind
	if l.kind >= 0 {
		row.Kind = strings.ToLower(strings.TrimSpace(rec[l.kind]))
	}
	if l.detail >= 0 {
		row.Detail = rec[l.detail]
	}
	if l.at >= 0 {
		row.Since, row.Err = parseTime(rec[l.at])
	}
	if row.Err == nil && row.Address == "" {
		row.Err = errors.New("no address")
	}
	return row
}

// detect tells the source of a CSV file from its header row. Column names
// compare without case, spaces or punctuation: "Email Address",
// "EmailAddress" and "email_address" are one name.
func detect(header []string) (layout, error) {
	col := map[string]int{}
	for i, h := range header {
		col[squash(h)] = i
	}
	has := func(name string) bool { _, ok := col[name]; return ok }
	idx := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	switch {
	case has("address") && has("reason") && has("since"):
		return layout{source: SourceBouncesink, address: col["address"], kind: col["reason"], detail: idx("detail"), at: col["since"]}, nil
	case has("suppressionreason") && idx("emailaddress", "recipient", "email") >= 0:
		return layout{source: SourcePostmark, address: idx("emailaddress", "recipient", "email"),
			kind: col["suppressionreason"], detail: -1, at: idx("createdat")}, nil
	case has("emailaddress") && has("reason"):
		return layout{source: SourceSES, address: col["emailaddress"], kind: col["reason"], detail: -1,
			at: idx("lastupdatetime", "lastupdatetimestamp")}, nil
	case has("address") && has("createdat"):
		l := layout{source: SourceMailgun, address: col["address"], kind: -1, detail: -1, at: col["createdat"], fixedKind: "complaint"}
		switch {
		case has("code") || has("error"):
			l.fixedKind = "bounce"
		case has("tag") || has("tags"):
			l.fixedKind = "unsubscribe"
		}
		return l, nil
	case has("email") && has("created"):
		l := layout{source: SourceSendGrid, address: col["email"], kind: -1, detail: -1, at: col["created"], fixedKind: "unsubscribe"}
		switch {
		case has("status"):
			l.fixedKind = "bounce"
		case has("ip"):
			l.fixedKind = "spam_report"
		case has("reason"):
			l.fixedKind = "block"
		}
		return l, nil
	}
	return layout{}, fmt.Errorf("exchange: header %q is not one of bouncesink, SES, SendGrid, Mailgun or Postmark exports",
		strings.Join(header, ","))
}

func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// timeLayouts are the timestamps the providers' exports use.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	time.RFC1123,  // Mailgun: "Fri, 21 Oct 2011 11:02:55 UTC"
	time.RFC1123Z, // "Fri, 21 Oct 2011 11:02:55 +0000"
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2006-01-02",
	"01/02/2006 15:04:05",
	"01/02/2006",
}

// parseTime reads a timestamp in any of timeLayouts, or Unix seconds
// (SendGrid's API), as UTC when it names no zone. Empty is zero.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1e11 {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q not understood", s)
}
