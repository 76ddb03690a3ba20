package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// BenchmarkConcurrentLargeChecks posts 8 check lists of 30 MB at once,
// the load that took the server to 1.27 GB, and reports the peak Go heap
// (HeapInuse, sampled every 5 ms) as peak-heap-MiB. The lists: distinct
// addresses none suppressed (a send list), one suppressed address over
// and over, and "" over and over (answers many times the list):
//
//	go test ./api -run '^$' -bench ConcurrentLargeChecks -benchtime 3x
func BenchmarkConcurrentLargeChecks(b *testing.B) {
	shapes := []struct {
		name string
		item func(i int) string
	}{
		{"distinct", func(i int) string { return fmt.Sprintf(`"Someone.%08d@Example.org"`, i) }},
		{"suppressed", func(int) string { return `"alice@example.org"` }},
		{"empty", func(int) string { return `""` }},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			var body bytes.Buffer
			body.WriteString(`{"addresses": [`)
			for i := 0; body.Len() < 30<<20; i++ {
				if i > 0 {
					body.WriteString(",")
				}
				body.WriteString(sh.item(i))
			}
			body.WriteString("]}")
			concurrentChecks(b, body.Bytes())
		})
	}
}

func concurrentChecks(b *testing.B, list []byte) {
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "bouncesink.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SuppressMany(context.Background(), "bench", []store.ManualSuppression{{Address: "alice@example.org"}}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(db, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	runtime.GC()

	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	codes := map[int]int{}
	var mu sync.Mutex
	for b.Loop() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				resp, err := http.Post(srv.URL+"/v1/check", "application/json", bytes.NewReader(list))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.Logf("answers: %v (list of %.1f MiB)", codes, float64(len(list))/(1<<20))
}
