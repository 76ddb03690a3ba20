package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dumpJSON reads a whole store as JSON lines, counters summed by key, so
// that two stores compare whatever their engine.
func dumpJSON(t *testing.T, sc StoreConfig) []string {
	t.Helper()
	db, err := openStore(sc, store.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lines []string
	counters := map[string]int64{}
	err = db.Dump(context.Background(), func(it store.Item) error {
		if c := it.Counter; c != nil {
			counters[fmt.Sprintf("%v/%d/%c/%s/%s", c.Hourly, c.Period, c.Kind, c.A, c.B)] += c.N
			return nil
		}
		if r := it.Recipient; r != nil && len(r.HardTimes)+len(r.SoftTimes) == 0 {
			r.HardTimes, r.SoftTimes = nil, nil
		}
		b, err := json.Marshal(it)
		lines = append(lines, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(counters)
	return append(lines, string(b))
}

// A store goes from bbolt to PostgreSQL and back unchanged; migrate
// refuses to fill a store that is not empty, unless told to resume.
func TestMigrateRoundTrip(t *testing.T) {
	pgtest.Shared(t) // skips without PostgreSQL, before any work
	dir := t.TempDir()
	from := filepath.Join(dir, "from.db")
	clock := time.Now().UTC().Truncate(time.Hour)
	db, err := boltstore.Open(from, boltstore.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 120 {
		class := []string{"hard", "soft", "complaint", "block", "autoreply", "delivered"}[i%6]
		_, err := db.Record(ctx, store.Message{Received: clock.Add(-time.Duration(i) * time.Hour), EnvelopeFrom: "",
			EnvelopeTo: []string{"bounces@example.com"}, Raw: bytes.Repeat([]byte(fmt.Sprintf("bounce %d\r\n", i)), 20),
			Observations: []store.Observation{{Recipient: fmt.Sprintf("user%d@example.%d.org", i%40, i%3), Class: class, Reason: class + "-r"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Suppress(ctx, "asked@example.com", "phone", "ticket 7")
	db.Lift(ctx, "user0@example.0.org", "vouched")
	db.SuppressMany(ctx, "import", []store.ManualSuppression{{Address: "old@example.net", Reason: "import", Detail: "ses", Since: clock.Add(-1000 * time.Hour)}})
	db.Close()

	dsn := pgtest.Database(t)
	back := filepath.Join(dir, "back.db")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(append([]string{"migrate"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("--from", "bbolt:"+from, "--to", "postgres:"+dsn)
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, "120 messages") {
		t.Fatalf("migrate to postgres: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := run("--from", "bbolt:"+from, "--to", "postgres:"+dsn); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("migrate into a filled store: exit %d, %s", code, errs)
	}
	if code, out, errs := run("--from", "bbolt:"+from, "--to", "postgres:"+dsn, "--resume", "--quiet"); code != 0 || errs != "" {
		t.Errorf("migrate --resume: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := run("--from", "postgres:"+dsn, "--to", "bbolt:"+back); code != 0 {
		t.Fatalf("migrate back to bbolt: exit %d\n%s\n%s", code, out, errs)
	}
	want := dumpJSON(t, StoreConfig{Engine: engineBolt, Path: from})
	if len(want) < 400 { // 120 messages, 43 recipients, 123 events, audit entries, suppressions
		t.Fatalf("the source dumps only %d items", len(want))
	}
	for name, sc := range map[string]StoreConfig{"postgres": {Engine: enginePostgres, DSN: dsn}, "bbolt again": {Engine: engineBolt, Path: back}} {
		if got := dumpJSON(t, sc); !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("%s: item %d\n got %s\nwant %s", name, i, got[i], want[i])
					break
				}
			}
			t.Errorf("%s: %d items, want %d", name, len(got), len(want))
		}
	}
	if code, _, _ := run("--from", "nowhere:x", "--to", "bbolt:"+back); code != 2 {
		t.Errorf("a bad store spec: exit %d, want 2", code)
	}
	if code, _, errs := run("--from", "bbolt:"+filepath.Join(dir, "missing.db"), "--to", "bbolt:"+filepath.Join(dir, "x.db")); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("a missing source: exit %d, %s", code, errs)
	}
}
