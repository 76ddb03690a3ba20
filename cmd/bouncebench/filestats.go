package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// segmentBytes returns how many files the bbolt engine's journal directory
// beside the database at path holds, and their bytes.
func segmentBytes(path string) (files int, size int64) {
	ents, _ := os.ReadDir(path + ".raw")
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			files++
			size += fi.Size()
		}
	}
	return files, size
}

// reportFile prints how a store's file is used: its size, the pages
// allocated to each top-level bucket, how full they are, and the free
// pages. It opens the file read-only; no server may hold it.
func reportFile(w io.Writer, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	// The store keeps no freelist on disk: PreLoadFreelist finds the free
	// pages by walking the file, as a server's open does.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(w, "file %s: %.1f MB\n", path, float64(fi.Size())/1e6)
	if n, size := segmentBytes(path); n > 0 {
		fmt.Fprintf(w, "journal segments %s.raw: %d files, %.1f MB (the raw messages, kept there)\n", path, n, float64(size)/1e6)
	}
	return db.View(func(tx *bolt.Tx) error {
		page := tx.DB().Info().PageSize
		type row struct {
			name          string
			alloc, inuse  int
			keys, overflw int
		}
		var rows []row
		total := 0
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			r := row{name: string(name), keys: st.KeyN, overflw: st.LeafOverflowN,
				alloc: st.BranchAlloc + st.LeafAlloc, inuse: st.BranchInuse + st.LeafInuse + st.InlineBucketInuse}
			total += r.alloc
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(rows, func(a, b row) int { return b.alloc - a.alloc })
		fmt.Fprintf(w, "  %-14s %10s %8s %12s\n", "bucket", "MB", "full", "keys")
		for _, r := range rows {
			full := 0.0
			if r.alloc > 0 {
				full = float64(r.inuse) / float64(r.alloc)
			}
			fmt.Fprintf(w, "  %-14s %10.1f %7.0f%% %12d\n", r.name, float64(r.alloc)/1e6, 100*full, r.keys)
		}
		st := tx.DB().Stats()
		free := (st.FreePageN + st.PendingPageN) * page
		fmt.Fprintf(w, "  buckets %.1f MB; free pages %.1f MB (reused by later writes); not yet used (bbolt grows the file 16 MB at a time) %.1f MB\n",
			float64(total)/1e6, float64(free)/1e6, float64(fi.Size()-int64(tx.Size()))/1e6)
		return nil
	})
}
