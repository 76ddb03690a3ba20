package boltstore

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The compact records (recipients, events, message heads; see codec.go)
// are built from a few primitives: unsigned varints, length-prefixed
// strings and times. A record is a format byte followed by its fields in
// a fixed order. A field added later goes at the end, and its decoder reads
// it only if bytes remain (reader.more), so that records written before it
// read as its zero value; decoders ignore bytes after the fields they know.

var errShort = errors.New("record cut short")

// A time is 8 bytes, its Unix nanoseconds big-endian, 0 for the zero time
// (the instant 1970-01-01T00:00:00Z reads back as the zero time). Times
// UnixNano cannot represent (before 1678 or after 2261) are refused rather
// than stored wrong. Readers may peek at a time at a fixed offset without
// decoding the record: the pruner reads receipt times that way.
var errTimeRange = errors.New("time outside the years 1678 to 2261")

func appendTime(b []byte, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return binary.BigEndian.AppendUint64(b, 0), nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return b, errTimeRange
	}
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())), nil
}

func fixedTime(v []byte) time.Time {
	n := int64(binary.BigEndian.Uint64(v))
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// unixOrZero is t in Unix ns, 0 for the zero time, as a stored time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// A time near another, base (its unixOrZero), is a uvarint: 0 for the zero
// time, else one more than its distance from base, zigzag-encoded. A
// recipient's times are mostly its last bounce's or close to it: one
// byte or a few rather than 8.
func appendTimeFrom(b []byte, t time.Time, base int64) ([]byte, error) {
	if t.IsZero() {
		return append(b, 0), nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return b, errTimeRange
	}
	d := t.UnixNano() - base // wraps; so does the reader's sum
	z := uint64(d<<1) ^ uint64(d>>63)
	if z == math.MaxUint64 {
		return b, errTimeRange
	}
	return binary.AppendUvarint(b, z+1), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes the primitives, remembering the first error; after an
// error every read returns a zero value.
type reader struct {
	b   []byte
	err error
}

// more reports whether fields remain to read and no error occurred.
func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[k:]
	return n
}

// count reads a count of items each taking at least min bytes, refusing
// one larger than the bytes left could hold (a damaged record must not
// allocate gigabytes).
func (r *reader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		if r.err == nil {
			r.err = errShort
		}
		return 0
	}
	return int(n)
}

func (r *reader) varint() int {
	if r.err != nil {
		return 0
	}
	n, k := binary.Varint(r.b)
	if k <= 0 || n < math.MinInt32 || n > math.MaxInt32 {
		r.err = errShort
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *reader) int() int {
	n := r.uvarint()
	if n > math.MaxInt32 {
		if r.err == nil {
			r.err = errors.New("count out of range")
		}
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) timeFrom(base int64) time.Time {
	z := r.uvarint()
	if z == 0 {
		return time.Time{}
	}
	z--
	n := base + (int64(z>>1) ^ -int64(z&1))
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (r *reader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	if len(r.b) < 8 {
		r.err = errShort
		return time.Time{}
	}
	t := fixedTime(r.b)
	r.b = r.b[8:]
	return t
}
