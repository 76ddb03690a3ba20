package main

import (
	"log/slog"
	"time"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/store"
)

// newSink builds the ingestion pipeline from the configuration. serve and
// reclassify share it, so a stored message is judged on replay exactly as
// it would be on arrival.
func newSink(cfg Config, w store.Writer, now func() time.Time, log *slog.Logger) (*ingest.Sink, error) {
	signer, err := cfg.signer()
	if err != nil {
		return nil, err
	}
	return &ingest.Sink{Store: w, Now: now, VERPSeparator: cfg.SMTP.VERPSeparator, Logger: log, Signer: signer}, nil
}
