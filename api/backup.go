package api

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// backup streams a consistent copy of the whole store, GET /v1/backup
// (admin role): with the bbolt engine, its database file as of one read
// transaction, taken while the server goes on (store.Backuper). An engine
// that cannot (PostgreSQL: back it up with pg_dump) answers 501.
func (a *api) backup(w http.ResponseWriter, r *http.Request) {
	b, ok := a.store.(store.Backuper)
	if !ok {
		writeError(w, http.StatusNotImplemented,
			"this store engine is backed up with its database's own tools (PostgreSQL: pg_dump), not through bouncesink")
		return
	}
	rc := http.NewResponseController(w)
	err := b.Backup(r.Context(), func(size int64) io.Writer {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="bouncesink-%s.db"`,
			time.Now().UTC().Format("20060102-150405")))
		return deadlineWriter{w: w, rc: rc}
	})
	if err != nil {
		// Before the first byte a JSON error; after it, the response is cut
		// short of its Content-Length, which the client sees as a failure.
		a.log.Warn("backup failed", "err", err)
		if w.Header().Get("Content-Length") == "" {
			a.storeError(w, r, err)
		}
	}
}

// deadlineWriter gives each write of a long response the server's whole
// write timeout (meant for one response) anew.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	return d.w.Write(p)
}
