package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// These tests talk HTTP to the real handler over a real store.

const (
	aliceToken = "c2e9a4f7d1b0836e5a9c2f4d7e1b08a3" // 128 bits, as openssl rand -hex 16 makes
	robotToken = "5f0c7a1e9b3d48f2a6c1e07d93b4f5a2"
)

// clock is a settable time for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testServer struct {
	*httptest.Server
	db    *boltstore.DB
	clock *clock
}

func newServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	c := &clock{t: t0}
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "bouncesink.db"), boltstore.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth([]Token{{Name: "alice", Role: RoleAdmin, Value: aliceToken}, {Name: "robot", Role: RoleRead, Value: robotToken}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Auth = auth
	opts.Logger = testlog.New(t)
	srv := httptest.NewServer(NewHandler(db, opts))
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &testServer{Server: srv, db: db, clock: c}
}

// call makes one request with token and returns the status and body.
func (s *testServer) call(t *testing.T, method, path, token, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// json makes a request and decodes the answer, failing unless it has status want.
func (s *testServer) json(t *testing.T, method, path, token, body string, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	status, data := s.call(t, method, path, token, "application/json", rd)
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
}

func (s *testServer) record(t *testing.T, addr, class string, at time.Time) uint64 {
	t.Helper()
	id, err := s.db.Record(context.Background(), store.Message{
		Received: at, Raw: []byte("Subject: bounce\r\n\r\n" + addr + "\r\n"),
		Observations: []store.Observation{{Recipient: addr, Class: class, Reason: class + "_reason", Status: "5.1.1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestManualSuppressAndLiftOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	var sup store.Suppression
	s.json(t, "PUT", "/v1/suppressions/Dave@Example.com", aliceToken, `{"reason": "asked by phone", "note": "ticket 42"}`, 201, &sup)
	if sup.Address != "dave@example.com" || sup.Reason != "manual" || sup.Detail != "asked by phone" || !sup.Since.Equal(t0) {
		t.Errorf("PUT = %+v", sup)
	}
	// Again: the first suppression stands.
	s.json(t, "PUT", "/v1/suppressions/dave@example.com", aliceToken, `{"reason": "other"}`, 200, &sup)
	if sup.Detail != "asked by phone" {
		t.Errorf("second PUT = %+v, want the first kept", sup)
	}
	s.json(t, "PUT", "/v1/suppressions/eve@example.com", robotToken, "", 403, nil)
	s.json(t, "PUT", "/v1/suppressions/eve@example.com", "", "", 401, nil)
	s.json(t, "PUT", "/v1/suppressions/eve@example.com", aliceToken, `{"reason": 1}`, 400, nil)
	s.json(t, "PUT", "/v1/suppressions/not-an-address", aliceToken, "", 400, nil)
	s.json(t, "GET", "/v1/suppressions/dave@example.com", robotToken, "", 200, nil)

	s.clock.Set(t0.Add(time.Hour))
	var lifted liftResponse
	s.json(t, "DELETE", "/v1/suppressions/dave@example.com?note=customer+re-subscribed", aliceToken, "", 200, &lifted)
	if lifted.Lifted == nil || lifted.Lifted.Detail != "asked by phone" {
		t.Errorf("DELETE = %+v", lifted)
	}
	s.json(t, "GET", "/v1/suppressions/dave@example.com", robotToken, "", 404, nil)
	s.json(t, "DELETE", "/v1/suppressions/dave@example.com", aliceToken, `{"note": "again"}`, 200, &lifted)
	if lifted.Lifted != nil {
		t.Errorf("second DELETE lifted %+v, want null", lifted.Lifted)
	}
	s.json(t, "DELETE", "/v1/suppressions/stranger@example.com", aliceToken, "", 404, nil)

	var audit auditResponse
	s.json(t, "GET", "/v1/audit?address=DAVE@example.com", robotToken, "", 200, &audit)
	if len(audit.Entries) != 3 {
		t.Fatalf("audit = %+v, want suppress, lift, lift", audit.Entries)
	}
	sup1, lift1 := audit.Entries[2], audit.Entries[1]
	if sup1.Action != "suppress" || sup1.Actor != "alice" || sup1.Note != "ticket 42" || sup1.Before != nil || sup1.After == nil {
		t.Errorf("suppress entry %+v", sup1)
	}
	if lift1.Action != "lift" || lift1.Actor != "alice" || lift1.Note != "customer re-subscribed" ||
		lift1.Before == nil || lift1.After != nil || !lift1.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("lift entry %+v", lift1)
	}
}

// A policy suppression is audited with the message that tipped it; a lift
// resets the counters, so the next hard bounce starts from zero, and keeps
// the history.
func TestPolicyAuditAndLiftResetsOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	s.record(t, "erin@example.com", "hard", t0)
	id := s.record(t, "erin@example.com", "hard", t0.Add(time.Hour))
	s.json(t, "GET", "/v1/suppressions/erin@example.com", robotToken, "", 200, nil)

	var audit auditResponse
	s.json(t, "GET", "/v1/audit?actor=policy", robotToken, "", 200, &audit)
	if len(audit.Entries) != 1 {
		t.Fatalf("policy audit = %+v", audit.Entries)
	}
	if e := audit.Entries[0]; e.Address != "erin@example.com" || e.MessageID != id || e.Verdict == nil ||
		e.Verdict.Class != "hard" || e.After == nil || e.After.Reason != "hard" {
		t.Errorf("policy entry %+v", e)
	}

	s.clock.Set(t0.Add(2 * time.Hour))
	s.json(t, "DELETE", "/v1/suppressions/erin@example.com", aliceToken, `{"note": "mailbox fixed"}`, 200, nil)
	s.record(t, "erin@example.com", "hard", t0.Add(3*time.Hour))
	s.json(t, "GET", "/v1/suppressions/erin@example.com", robotToken, "", 404, nil)
	s.record(t, "erin@example.com", "hard", t0.Add(4*time.Hour))
	s.json(t, "GET", "/v1/suppressions/erin@example.com", robotToken, "", 200, nil)

	var rec recipientResponse
	s.json(t, "GET", "/v1/recipients/erin@example.com", robotToken, "", 200, &rec)
	if len(rec.Events) != 5 || rec.Events[2].Reason != "lift" || rec.Recipient.Counts["hard"] != 4 {
		t.Errorf("history after lift: %d events, counts %v", len(rec.Events), rec.Recipient.Counts)
	}
	s.json(t, "GET", "/v1/audit?address=erin@example.com", robotToken, "", 200, &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	if want := []string{"policy:suppress", "alice:lift", "policy:suppress"}; !slices.Equal(actions, want) {
		t.Errorf("audit newest first %v, want %v", actions, want)
	}
}

// Paging through GET /v1/suppressions while suppressions are added lists
// every address suppressed before the first page exactly once.
func TestListPagesWhileInsertingOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	var want []string // newest first
	for i := range 30 {
		s.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		addr := fmt.Sprintf("user%02d@example.com", i)
		s.json(t, "PUT", "/v1/suppressions/"+addr, aliceToken, "", 201, nil)
		want = append([]string{addr}, want...)
	}
	var got []string
	path := "/v1/suppressions?limit=4"
	for page := 0; page < 20; page++ {
		var list listResponse
		s.json(t, "GET", path, robotToken, "", 200, &list)
		for _, l := range list.Suppressions {
			got = append(got, l.Address)
		}
		// New suppressions between pages, one of them in the same second
		// as the newest one already listed.
		s.clock.Set(t0.Add(time.Duration(29+page) * time.Minute))
		s.json(t, "PUT", fmt.Sprintf("/v1/suppressions/new%02d@example.com", page), aliceToken, "", 201, nil)
		if list.Next == "" {
			break
		}
		path = "/v1/suppressions?limit=4&cursor=" + url.QueryEscape(list.Next)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages listed\n%v\nwant\n%v", got, want)
	}
}

func TestListFiltersOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	s.record(t, "hard@a.example", "hard", t0.Add(-48*time.Hour))
	s.record(t, "hard@a.example", "hard", t0.Add(-47*time.Hour))
	s.record(t, "hard@a.example", "block", t0.Add(-46*time.Hour))
	s.record(t, "spam@b.example", "complaint", t0.Add(-24*time.Hour))
	s.json(t, "PUT", "/v1/suppressions/manual@a.example", aliceToken, "", 201, nil)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"manual@a.example", "spam@b.example", "hard@a.example"}},
		{"reason=complaint", []string{"spam@b.example"}},
		{"class=block", []string{"hard@a.example"}},
		{"domain=a.example", []string{"manual@a.example", "hard@a.example"}},
		{"q=SPAM", []string{"spam@b.example"}},
		{"since=2026-02-28T00:00:00Z", []string{"manual@a.example", "spam@b.example"}},
		{"until=2026-02-28", []string{"hard@a.example"}},
		{"reason=soft", nil},
	}
	for _, tt := range tests {
		var list listResponse
		s.json(t, "GET", "/v1/suppressions?"+tt.query, robotToken, "", 200, &list)
		var got []string
		for _, l := range list.Suppressions {
			got = append(got, l.Address)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
		}
	}
	for _, bad := range []string{"cursor=nonsense!", "limit=0", "limit=5000", "since=yesterday"} {
		s.json(t, "GET", "/v1/suppressions?"+bad, robotToken, "", 400, nil)
	}
}

func TestEventsFeedOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	var ev eventsResponse
	s.json(t, "GET", "/v1/events", robotToken, "", 200, &ev)
	if len(ev.Events) != 0 || ev.Next != 0 {
		t.Errorf("empty feed = %+v", ev)
	}
	s.json(t, "PUT", "/v1/suppressions/a@example.com", aliceToken, "", 201, nil)
	s.json(t, "PUT", "/v1/suppressions/b@example.com", aliceToken, "", 201, nil)
	s.json(t, "GET", "/v1/events?after=0&limit=1", robotToken, "", 200, &ev)
	if len(ev.Events) != 1 || ev.Events[0].Address != "a@example.com" || ev.Next != ev.Events[0].Seq {
		t.Fatalf("first page = %+v", ev)
	}
	s.json(t, "GET", fmt.Sprintf("/v1/events?after=%d", ev.Next), robotToken, "", 200, &ev)
	if len(ev.Events) != 1 || ev.Events[0].Address != "b@example.com" {
		t.Fatalf("second page = %+v", ev)
	}
	last := ev.Next

	// A long poll returns the next change as soon as it is committed.
	got := make(chan eventsResponse, 1)
	go func() {
		var ev eventsResponse
		status, data := s.call(t, "GET", fmt.Sprintf("/v1/events?after=%d&wait=30s", last), robotToken, "", nil)
		if status == 200 {
			json.Unmarshal(data, &ev)
		}
		got <- ev
	}()
	s.json(t, "DELETE", "/v1/suppressions/a@example.com", aliceToken, "", 200, nil)
	if ev := <-got; len(ev.Events) != 1 || ev.Events[0].Action != "lift" || ev.Events[0].Actor != "alice" {
		t.Errorf("long poll = %+v", ev)
	}
	s.json(t, "GET", "/v1/events?wait=2m", robotToken, "", 400, nil)
}

func TestStatsOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	now := t0.Add(30 * time.Minute)
	s.clock.Set(now)
	for i := range 3 {
		s.record(t, fmt.Sprintf("u%d@blocked.example", i), "block", now.Add(-time.Duration(i+1)*time.Hour))
	}
	s.record(t, "x@other.example", "block", now.Add(-time.Hour))
	s.record(t, "x@other.example", "hard", now.Add(-2*time.Hour))
	s.record(t, "x@other.example", "hard", now.Add(-3*24*time.Hour))
	s.record(t, "y@other.example", "soft", now.Add(-10*24*time.Hour))
	var st struct {
		Suppressed int                    `json:"suppressed"`
		Windows    []store.WindowActivity `json:"windows"`
		Daily      []store.DayActivity    `json:"daily"`
		TopBlock   []store.DomainCount    `json:"top_block_domains"`
	}
	s.json(t, "GET", "/v1/stats?days=14&top=5", robotToken, "", 200, &st)
	if len(st.Windows) != 3 {
		t.Fatalf("windows %+v", st.Windows)
	}
	day, week, month := st.Windows[0], st.Windows[1], st.Windows[2]
	if day.Window != "24h" || day.Total != 5 || day.ByClass["block"] != 4 || day.ByClass["hard"] != 1 || day.ByReason["hard"]["hard_reason"] != 1 {
		t.Errorf("24h window %+v", day)
	}
	if week.Total != 6 || month.Total != 7 || month.Domains != 2 {
		t.Errorf("7d total %d, 30d total %d over %d domains; want 6, 7, 2", week.Total, month.Total, month.Domains)
	}
	if len(st.TopBlock) != 2 || st.TopBlock[0].Domain != "blocked.example" || st.TopBlock[0].ByClass["block"] != 3 {
		t.Errorf("top block domains %+v", st.TopBlock)
	}
	if len(st.Daily) != 14 || st.Daily[13].Day != "2026-03-01" || st.Daily[13].Total != 5 || st.Daily[10].ByClass["hard"] != 1 {
		t.Errorf("daily %+v", st.Daily)
	}
	if st.Suppressed != 1 {
		t.Errorf("suppressed %d, want 1 (x@other.example: two hard bounces)", st.Suppressed)
	}
	s.json(t, "GET", "/v1/stats?days=0", robotToken, "", 400, nil)
}

func TestExportImportRoundTripOverHTTP(t *testing.T) {
	src := newServer(t, Options{})
	// An empty list is still a CSV file with its header row.
	if status, data := src.call(t, "GET", "/v1/export?format=csv", robotToken, "", nil); status != 200 || string(data) != "address,reason,detail,since\n" {
		t.Errorf("CSV export of an empty list = %d %q, want the header row", status, data)
	}
	src.record(t, "hard@example.com", "hard", t0.Add(-time.Hour))
	src.record(t, "hard@example.com", "hard", t0)
	src.json(t, "PUT", "/v1/suppressions/manual@example.com", aliceToken, `{"reason": "asked"}`, 201, nil)
	src.json(t, "PUT", "/v1/suppressions/quote@example.com", aliceToken, `{"reason": "said \"stop, now\""}`, 201, nil)
	src.json(t, "PUT", "/v1/suppressions/formula@example.com", aliceToken, `{"reason": "=1+2"}`, 201, nil)
	// A suppression imported from a provider, with a time of its own.
	status, body := src.call(t, "POST", "/v1/import", aliceToken, "text/csv",
		strings.NewReader("EmailAddress,Reason,LastUpdateTime\nses@example.com,BOUNCE,2025-11-03T08:15:30.123456789Z\n"))
	if status != 200 {
		t.Fatalf("SES import = %d %s", status, body)
	}

	status, csvData := src.call(t, "GET", "/v1/export?format=csv", robotToken, "", nil)
	wantCSV := "address,reason,detail,since\n" +
		"formula@example.com,manual,'=1+2,2026-03-01T12:00:00Z\n" +
		"hard@example.com,hard,hard_reason,2026-03-01T12:00:00Z\n" +
		"manual@example.com,manual,asked,2026-03-01T12:00:00Z\n" +
		"quote@example.com,manual,\"said \"\"stop, now\"\"\",2026-03-01T12:00:00Z\n" +
		"ses@example.com,import,ses:bounce,2025-11-03T08:15:30.123456789Z\n"
	if status != 200 || string(csvData) != wantCSV {
		t.Errorf("CSV export = %d\n%s\nwant\n%s", status, csvData, wantCSV)
	}
	status, jsonl := src.call(t, "GET", "/v1/export?format=jsonl", robotToken, "", nil)
	if lines := strings.Split(strings.TrimSpace(string(jsonl)), "\n"); status != 200 || len(lines) != 5 ||
		lines[1] != `{"address":"hard@example.com","reason":"hard","detail":"hard_reason","since":"2026-03-01T12:00:00Z"}` {
		t.Errorf("JSONL export = %d %s", status, jsonl)
	}
	src.json(t, "GET", "/v1/export?format=xml", robotToken, "", 400, nil)
	var want listResponse
	src.json(t, "GET", "/v1/suppressions", robotToken, "", 200, &want)

	// Our own export, imported into an empty server, restores every
	// suppression exactly: reason, detail and since (a backup).
	for _, tt := range []struct {
		name, contentType string
		body              []byte
	}{{"csv", "text/csv", csvData}, {"jsonl", "application/jsonl", jsonl}, {"detected", "application/octet-stream", jsonl}} {
		t.Run(tt.name, func(t *testing.T) {
			dst := newServer(t, Options{})
			status, data := dst.call(t, "POST", "/v1/import", aliceToken, tt.contentType, bytes.NewReader(tt.body))
			var res ImportResult
			json.Unmarshal(data, &res)
			if status != 200 || res.Source != "bouncesink" || res.Rows != 5 || res.Imported != 5 {
				t.Errorf("import = %d %s", status, data)
			}
			var got listResponse
			dst.json(t, "GET", "/v1/suppressions", robotToken, "", 200, &got)
			if len(got.Suppressions) != len(want.Suppressions) {
				t.Fatalf("restored %d suppressions, want %d", len(got.Suppressions), len(want.Suppressions))
			}
			for i, g := range got.Suppressions {
				if w := want.Suppressions[i].Suppression; g.Suppression != w || !g.Since.Equal(w.Since) {
					t.Errorf("restored %+v, want %+v", g.Suppression, w)
				}
			}
			var audit auditResponse
			dst.json(t, "GET", "/v1/audit?address=hard@example.com", robotToken, "", 200, &audit)
			if len(audit.Entries) != 1 || audit.Entries[0].Actor != "alice" || !strings.Contains(audit.Entries[0].Note, "line ") {
				t.Errorf("import audit %+v", audit.Entries)
			}
		})
	}
	src.json(t, "POST", "/v1/import", robotToken, "", 403, nil)
}

// An import must name a list's media type: the content types a page on
// another site can send without the server's consent are refused, so a
// cross-site form or fetch cannot change the list.
func TestImportNeedsAListContentType(t *testing.T) {
	s := newServer(t, Options{})
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		status, body := s.call(t, "POST", "/v1/import?format=csv", aliceToken, ct,
			strings.NewReader("address,reason,detail,since\nvictim@example.org,manual,x,\n"))
		if status != http.StatusUnsupportedMediaType || !bytes.Contains(body, []byte("text/csv")) {
			t.Errorf("import with Content-Type %q = %d %s, want 415", ct, status, body)
		}
	}
	s.json(t, "GET", "/v1/suppressions/victim@example.org", robotToken, "", 404, nil)
}

// A restored row must carry a reason a suppression can have.
func TestImportOwnFormatRejectsUnknownReason(t *testing.T) {
	s := newServer(t, Options{})
	status, body := s.call(t, "POST", "/v1/import", aliceToken, "text/csv",
		strings.NewReader("address,reason,detail,since\nok@example.org,complaint,abuse,\nodd@example.org,weird,x,\n"))
	var res ImportResult
	if err := json.Unmarshal(body, &res); err != nil || status != 200 || res.Imported != 1 || res.RejectedCount != 1 ||
		res.Rejected[0].Line != 3 || !strings.Contains(res.Rejected[0].Error, `reason "weird"`) {
		t.Errorf("import = %d %s; want ok imported, line 3 rejected for its reason", status, body)
	}
}

// Each provider's export imports with its source and reason in the detail
// and its time as the suppression's since.
func TestImportProviderFilesOverHTTP(t *testing.T) {
	tests := []struct {
		file, source string
		imported     int
		addr, detail string
		since        time.Time
	}{
		{"ses.csv", "ses", 2, "complainer@ses.example", "ses:complaint", time.Date(2025, 11, 4, 10, 0, 0, 0, time.UTC)},
		{"ses-import.csv", "ses", 3, "complainer-import@ses.example", "ses:complaint", t0}, // no times: now
		{"ses-suppressed.jsonl", "ses", 3, "cli@ses.example", "ses:bounce", time.Unix(1762157730, 0)},
		{"sendgrid-bounces.csv", "sendgrid", 2, "gone@sendgrid.example", "sendgrid:bounce", time.Date(2025, 11, 5, 12, 0, 0, 0, time.UTC)},
		{"sendgrid-spam-reports.csv", "sendgrid", 1, "spammed@sendgrid.example", "sendgrid:spam_report", time.Unix(1730707200, 0)},
		{"mailgun-bounces.csv", "mailgun", 1, "bounced@mailgun.example", "mailgun:bounce", time.Date(2025, 11, 3, 8, 15, 30, 0, time.UTC)},
		{"mailgun-complaints.csv", "mailgun", 1, "complainer@mailgun.example", "mailgun:complaint", time.Date(2025, 11, 4, 10, 0, 0, 0, time.UTC)},
		{"postmark.csv", "postmark", 3, "manual@postmark.example", "postmark:manualsuppression", time.Date(2025, 11, 5, 10, 0, 0, 0, time.UTC)},
	}
	s := newServer(t, Options{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "import", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ct := "text/csv"
			if strings.HasSuffix(tt.file, ".jsonl") {
				ct = "application/jsonl"
			}
			status, body := s.call(t, "POST", "/v1/import", aliceToken, ct, bytes.NewReader(data))
			var res ImportResult
			if err := json.Unmarshal(body, &res); err != nil || status != 200 {
				t.Fatalf("import = %d %s", status, body)
			}
			if res.Source != tt.source || res.Imported != tt.imported || res.RejectedCount != 0 {
				t.Errorf("import = %+v, want source %s, %d imported", res, tt.source, tt.imported)
			}
			var sup store.Suppression
			s.json(t, "GET", "/v1/suppressions/"+tt.addr, robotToken, "", 200, &sup)
			if sup.Reason != "import" || sup.Detail != tt.detail || !sup.Since.Equal(tt.since) {
				t.Errorf("%s = %+v, want detail %s since %s", tt.addr, sup, tt.detail, tt.since)
			}
		})
	}
}

func TestImportRejectsOverHTTP(t *testing.T) {
	s := newServer(t, Options{MaxImportBytes: 4096})
	data, err := os.ReadFile("../testdata/import/rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	status, body := s.call(t, "POST", "/v1/import?source=legacy-esp", aliceToken, "application/octet-stream", bytes.NewReader(data))
	var res ImportResult
	if err := json.Unmarshal(body, &res); err != nil || status != 200 {
		t.Fatalf("import = %d %s", status, body)
	}
	var lines []int
	for _, r := range res.Rejected {
		lines = append(lines, r.Line)
	}
	slices.Sort(lines)
	if res.Imported != 2 || res.AlreadySuppressed != 1 || res.RejectedCount != 5 || !slices.Equal(lines, []int{3, 4, 5, 6, 7}) {
		t.Errorf("import = %+v; want 2 imported, 1 already, lines 3-7 rejected", res)
	}
	var sup store.Suppression
	s.json(t, "GET", "/v1/suppressions/last@ses.example", robotToken, "", 200, &sup)
	if sup.Detail != "legacy-esp:complaint" {
		t.Errorf("detail %q, want the source given", sup.Detail)
	}

	status, body = s.call(t, "POST", "/v1/import", aliceToken, "text/csv", strings.NewReader("mail,when\na@b.example,now\n"))
	if status != 400 || !bytes.Contains(body, []byte("not one of")) {
		t.Errorf("unknown header = %d %s", status, body)
	}
	big := "EmailAddress,Reason\n" + strings.Repeat("someone@example.com,BOUNCE\n", 200)
	status, body = s.call(t, "POST", "/v1/import", aliceToken, "text/csv", strings.NewReader(big))
	if err := json.Unmarshal(body, &res); err != nil || status != 413 || res.Rows == 0 {
		t.Errorf("too large = %d %s; want 413 with the rows read so far", status, body)
	}
}

// Over a store that only reads, the admin endpoints say so.
func TestAdminEndpointsNeedAnAdminStore(t *testing.T) {
	h := handler(t, newFake(), Options{})
	for _, path := range []string{"/v1/suppressions", "/v1/stats", "/v1/audit", "/v1/events", "/v1/export"} {
		if rec := do(t, h, "GET", path, "", nil); rec.Code != 501 {
			t.Errorf("GET %s over a read-only store = %d, want 501", path, rec.Code)
		}
	}
}

// A recipient's history pages back through /v1/recipients/{address}/events.
func TestHistoryOverHTTP(t *testing.T) {
	s := newServer(t, Options{})
	for i := range 5 {
		s.record(t, "alice@example.org", "soft", t0.Add(time.Duration(i)*time.Minute))
	}
	var seqs []uint64
	cursor := ""
	for range 3 {
		var page historyResponse
		s.json(t, "GET", "/v1/recipients/alice@example.org/events?limit=2&cursor="+cursor, robotToken, "", 200, &page)
		for _, e := range page.Events {
			seqs = append(seqs, e.Seq)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(seqs) != 5 || !slices.IsSortedFunc(seqs, func(a, b uint64) int { return cmp.Compare(b, a) }) {
		t.Errorf("paged history %v, want 5 events newest first", seqs)
	}
	s.json(t, "GET", "/v1/recipients/alice@example.org/events?cursor=x", robotToken, "", 400, nil)
	s.json(t, "GET", "/v1/recipients/alice@example.org/events", "", "", 401, nil)
}
