package boltstore

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/bouncesink/bouncesink/store"
)

// The journal. Record does not wait for a bbolt transaction: it appends
// the message (its compressed raw bytes, its head and what the policy
// needs) to a segment file beside the database, fsyncs that, and answers;
// the messages journaled meanwhile are applied to bbolt later, many to a
// transaction (apply.go). The raw bytes stay in the segment for good: the
// raw bucket holds a reference to them (rawRef), and the retention deletes
// whole segments once no reference into them is left (prune.go).
//
// A bbolt commit rewrites every page it touches, and the branch pages
// above them, so one per group of 15-20 messages wrote 6-8 times the
// compressed messages' size; a segment is written once, in order, and
// the bbolt transactions that follow carry hundreds of messages each.
//
// A segment is named by the sequence number of its first frame (16 hex
// digits, ".seg") and starts with segMagic and the store's id, so that a
// directory of another store's segments is never applied to this one.
// Then frames, each
//
//	length (4 bytes BE) | CRC-32C of the payload (4 bytes BE) | payload
//
// whose payload starts with a kind byte and the frame's sequence number;
// see encodeFrame. A frame cut short by a crash (never acknowledged) fails
// its length or checksum, and Open truncates the last segment there.

const (
	segMagic          = "BSJ1"
	segHeaderLen      = len(segMagic) + 8
	segMaxSizeDefault = 64 << 20 // a new segment starts past this size
	// or once its first message was received this long before the one
	// being written, so that the retention, which deletes whole segments,
	// keeps at most a day's raw messages past their time.
	segMaxAge     = 24 * time.Hour
	frameHeadLen  = 8
	maxFrameLen   = 256 << 20
	frameMessage  = 1 // a message to record
	frameDupNote  = 2 // a repeat of a message: counts on the message
	rawRef        = 3 // a bucketRaw value that refers to a frame: see rawPointer
	rawPointerLen = 1 + 8 + 8 + 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segMaxSize is segMaxSizeDefault but in tests.
var segMaxSize int64 = segMaxSizeDefault

// The journal's state in bucketMeta.
var (
	keyJournalID      = []byte("journal_id")      // the store's id, in every segment's header
	keyJournalApplied = []byte("journal_applied") // the last frame applied: seq, segment, end offset
)

// frame is one journaled frame, decoded.
type frame struct {
	kind byte
	seq  uint64
	in   recordIn // for a message: raw is its rawPointer
	// for a duplicate note: in.id and in.at
	seg uint64 // the segment it is in
	end int64  // the offset after it
}

// frameBody sets *b to what a message frame keeps compressed: the length
// of the head (4 bytes BE), the head, and the raw bytes.
func frameBody(b *[]byte, head, raw []byte) *[]byte {
	*b = binary.BigEndian.AppendUint32((*b)[:0], uint32(len(head)))
	*b = append(*b, head...)
	*b = append(*b, raw...)
	return b
}

// bodyScratch holds the buffers frameBody fills, which live only until
// they are compressed.
var bodyScratch = sync.Pool{New: func() any { return new([]byte) }}

// putScratch gives b back to bodyScratch, unless a large message made it
// too large to keep.
func putScratch(b *[]byte) {
	if cap(*b) <= 256<<10 {
		bodyScratch.Put(b)
	}
}

// decodeBody returns the head and the raw bytes of a compressed frameBody.
func decodeBody(c []byte) (head, raw []byte, err error) {
	var b []byte
	switch {
	case len(c) > 0 && c[0] == rawStored:
		b = c[1:]
	case len(c) > 0 && c[0] == rawS2:
		n, err := s2.DecodedLen(c[1:])
		if err != nil || n > maxFrameLen {
			return nil, nil, fmt.Errorf("frame body: length %d: %v", n, err)
		}
		if b, err = s2.Decode(nil, c[1:]); err != nil {
			return nil, nil, fmt.Errorf("frame body: %w", err)
		}
	default:
		return nil, nil, errors.New("frame body: unknown encoding")
	}
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
		return nil, nil, errors.New("frame body: too short for its head")
	}
	hl := int(binary.BigEndian.Uint32(b))
	return b[4 : 4+hl], b[4+hl:], nil
}

// encodeFrame appends the frame of a message (kind frameMessage; body is
// its compressed frameBody) or of a duplicate note to buf.
func encodeFrame(buf []byte, kind byte, seq uint64, m recordIn, body []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeadLen)...)
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, m.id)
	buf = binary.BigEndian.AppendUint64(buf, uint64(m.at.UnixNano()))
	buf = binary.BigEndian.AppendUint64(buf, uint64(unixOrZero(m.now)))
	if kind == frameMessage {
		buf = binary.BigEndian.AppendUint64(buf, uint64(m.rawSize))
		buf = append(buf, byte(len(m.digest)))
		buf = append(buf, m.digest...)
		buf = append(buf, body...)
	}
	payload := buf[start+frameHeadLen:]
	binary.BigEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, crcTable))
	return buf
}

// frameFixed is the payload of a frame before its variable parts.
const frameFixed = 1 + 8 + 8 + 8 + 8

// decodeFrame decodes a frame's payload; for a message, ref is the
// rawPointer its raw bytes get.
func decodeFrame(p []byte, seg uint64, off int64) (frame, error) {
	if len(p) < frameFixed {
		return frame{}, errors.New("frame too short")
	}
	f := frame{kind: p[0], seq: binary.BigEndian.Uint64(p[1:])}
	f.in.id = binary.BigEndian.Uint64(p[9:])
	f.in.at = time.Unix(0, int64(binary.BigEndian.Uint64(p[17:]))).UTC()
	if n := int64(binary.BigEndian.Uint64(p[25:])); n != 0 {
		f.in.now = time.Unix(0, n).UTC()
	}
	switch f.kind {
	case frameDupNote:
		return f, nil
	case frameMessage:
	default:
		return frame{}, fmt.Errorf("frame kind %d unknown", f.kind)
	}
	head, _, digest, err := splitFrame(p)
	if err != nil {
		return frame{}, err
	}
	f.in.rawSize = int(binary.BigEndian.Uint64(p[frameFixed:]))
	f.in.digest = bytes.Clone(digest)
	f.in.head = bytes.Clone(head)
	if f.in.targets, err = headTargets(f.in.id, f.in.head); err != nil {
		return frame{}, err
	}
	f.in.raw = rawPointer(seg, off, len(p)+frameHeadLen)
	return f, nil
}

// splitFrame returns the head, the raw bytes and the digest of a message
// frame's payload.
func splitFrame(p []byte) (head, raw, digest []byte, err error) {
	n := frameFixed
	if len(p) < n+9 || p[0] != frameMessage {
		return nil, nil, nil, errors.New("not a message frame")
	}
	dl := int(p[n+8])
	n += 9
	if len(p) < n+dl+1 {
		return nil, nil, nil, errors.New("message frame too short for its digest")
	}
	digest = p[n : n+dl]
	head, raw, err = decodeBody(p[n+dl:])
	return head, raw, digest, err
}

// isRawRef reports whether a bucketRaw value is a rawPointer, not the
// raw bytes themselves (as files written before the journal keep them).
func isRawRef(v []byte) bool { return len(v) == rawPointerLen && v[0] == rawRef }

// rawPointer is the bucketRaw value of the raw bytes that end the frame
// of frameLen bytes at offset off of segment seg.
func rawPointer(seg uint64, off int64, frameLen int) []byte {
	v := make([]byte, 0, rawPointerLen)
	v = append(v, rawRef)
	v = binary.BigEndian.AppendUint64(v, seg)
	v = binary.BigEndian.AppendUint64(v, uint64(off))
	v = binary.BigEndian.AppendUint32(v, uint32(frameLen))
	return v
}

// journal is the segment files of one store and the writer's position.
type journal struct {
	dir string
	id  []byte // the store's id

	// The writer's state, used by the one goroutine writing a group at a
	// time (journalWriter).
	f       *os.File
	seg     uint64 // the current segment's name
	size    int64  // its length
	firstAt int64  // when its first message was received (Unix ns); 0: none yet
	nextSeq uint64
}

func segName(seq uint64) string { return fmt.Sprintf("%016x.seg", seq) }

// segments lists the segment names in dir, in order.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 16 {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		list = append(list, n)
	}
	slices.Sort(list)
	return list, nil
}

// newStoreID returns a random store id.
func newStoreID() []byte {
	id := make([]byte, 8)
	rand.Read(id)
	return id
}

// readSegment calls fn with every whole frame of segment seg from offset
// from (0: the first), and returns the offset after the last whole frame
// and whether the file ends there. A segment of another store is an error.
func (j *journal) readSegment(seg uint64, from int64, fn func(payload []byte, off int64) error) (end int64, clean bool, err error) {
	f, err := os.Open(filepath.Join(j.dir, segName(seg)))
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	head := make([]byte, segHeaderLen)
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, false, fmt.Errorf("segment %s: header: %w", segName(seg), err)
	}
	if string(head[:len(segMagic)]) != segMagic || !bytes.Equal(head[len(segMagic):], j.id) {
		return 0, false, fmt.Errorf("segment %s in %s: %w", segName(seg), j.dir, errForeignSegment)
	}
	off := max(from, int64(segHeaderLen))
	r := io.NewSectionReader(f, off, fi.Size()-off)
	br := bufio.NewReaderSize(r, 1<<20)
	hdr := make([]byte, frameHeadLen)
	var payload []byte
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return off, off == fi.Size(), nil
		}
		n := int(binary.BigEndian.Uint32(hdr))
		if n < frameFixed || n > maxFrameLen || off+int64(frameHeadLen+n) > fi.Size() {
			return off, false, nil
		}
		payload = slices.Grow(payload[:0], n)[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, false, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			return off, false, nil
		}
		if err := fn(payload, off); err != nil {
			return off, false, err
		}
		off += int64(frameHeadLen + n)
	}
}

// errSegmentGone: a raw message's segment file is not there (deleted by
// hand, or a store restored without its directory). Its messages read as
// pruned.
var errSegmentGone = errors.New("the segment file is gone")

// errJournalBroken: the segment's end is no longer known good, and the
// store journals nothing more until it is reopened.
var errJournalBroken = errors.New("the journal failed and needs the store reopened")

var errForeignSegment = errors.New("the segment belongs to another store (move the directory away)")

// errStop ends a readSegment early.
var errStop = errors.New("stop")

// firstReceived returns when the first message of segment seg was
// received (Unix ns), or 0.
func (j *journal) firstReceived(seg uint64) int64 {
	var at int64
	j.readSegment(seg, 0, func(p []byte, off int64) error {
		if len(p) >= frameFixed {
			at = int64(binary.BigEndian.Uint64(p[17:]))
		}
		return errStop
	})
	return at
}

// readRaw returns the raw bytes a rawPointer refers to, after checking
// its frame's checksum.
func (j *journal) readRaw(v []byte) ([]byte, error) {
	if len(v) != rawPointerLen {
		return nil, fmt.Errorf("raw message reference of %d bytes", len(v))
	}
	seg := binary.BigEndian.Uint64(v[1:])
	off := int64(binary.BigEndian.Uint64(v[9:]))
	n := int(binary.BigEndian.Uint32(v[17:]))
	if n < frameHeadLen+frameFixed || n > maxFrameLen+frameHeadLen {
		return nil, fmt.Errorf("raw message reference to a frame of %d bytes", n)
	}
	f, err := os.Open(filepath.Join(j.dir, segName(seg)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("raw message segment %s: %w", segName(seg), errSegmentGone)
	}
	if err != nil {
		return nil, fmt.Errorf("raw message segment: %w", err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("raw message in segment %s at %d: %w", segName(seg), off, err)
	}
	payload := buf[frameHeadLen:]
	if int(binary.BigEndian.Uint32(buf)) != len(payload) || crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(buf[4:]) {
		return nil, fmt.Errorf("raw message in segment %s at %d: %w: checksum", segName(seg), off, ErrDamaged)
	}
	_, raw, _, err := splitFrame(payload)
	if err != nil {
		return nil, fmt.Errorf("raw message in segment %s at %d: %w", segName(seg), off, err)
	}
	return raw, nil
}

// openSegment makes seg the segment the writer appends to, creating it
// (and the directory) if needed; size is its valid length, past which a
// crash's torn frame is cut off.
func (j *journal) openSegment(seg uint64, size int64) error {
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(j.dir, segName(seg))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if size, err = j.prepare(f, size); err != nil {
		f.Close()
		return err
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.seg, j.size, j.firstAt = f, seg, size, 0
	if size > int64(segHeaderLen) {
		j.firstAt = j.firstReceived(seg)
	}
	return nil
}

// prepare gives a new segment file its header, cuts an old one at size,
// and syncs it and its directory; it returns the segment's length.
func (j *journal) prepare(f *os.File, size int64) (int64, error) {
	if size < int64(segHeaderLen) {
		if _, err := f.WriteAt(append([]byte(segMagic), j.id...), 0); err != nil {
			return 0, err
		}
		size = int64(segHeaderLen)
	}
	if err := f.Truncate(size); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return size, syncDir(j.dir)
}

// append writes a group's frames at the end of the current segment and
// makes them durable, rolling to a new segment first when the current
// one is full. On failure it cuts the segment back to where it was.
func (j *journal) append(frames []byte, firstSeq uint64, at time.Time) (seg uint64, off int64, err error) {
	if j.size >= segMaxSize || (j.firstAt != 0 && at.UnixNano()-j.firstAt >= int64(segMaxAge)) {
		if err := j.openSegment(firstSeq, 0); err != nil {
			return 0, 0, fmt.Errorf("journal: new segment: %w", err)
		}
	}
	off = j.size
	if _, err := j.f.WriteAt(frames, off); err != nil {
		if terr := j.f.Truncate(off); terr != nil {
			return 0, 0, fmt.Errorf("journal: write: %w; cutting it back: %w: %w", err, errJournalBroken, terr)
		}
		return 0, 0, fmt.Errorf("journal: write: %w", err)
	}
	// After a failed fsync the kernel may have dropped the pages it could
	// not write, and a later fsync succeed without them: stop here.
	if err := fdatasync(j.f); err != nil {
		return 0, 0, fmt.Errorf("journal: sync: %w: %w", errJournalBroken, err)
	}
	j.size += int64(len(frames))
	if j.firstAt == 0 {
		j.firstAt = at.UnixNano()
	}
	return j.seg, off, nil
}

// close closes the current segment.
func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// journalPos is where the applied frames end: the last one's sequence
// number, its segment, and the offset after it.
type journalPos struct {
	seq, seg uint64
	off      int64
}

func (p journalPos) bytes() []byte {
	b := binary.BigEndian.AppendUint64(nil, p.seq)
	b = binary.BigEndian.AppendUint64(b, p.seg)
	return binary.BigEndian.AppendUint64(b, uint64(p.off))
}

func parseJournalPos(v []byte) journalPos {
	if len(v) != 24 {
		return journalPos{}
	}
	return journalPos{
		seq: binary.BigEndian.Uint64(v),
		seg: binary.BigEndian.Uint64(v[8:]),
		off: int64(binary.BigEndian.Uint64(v[16:])),
	}
}

// headTargets returns the observations of a message head whose recipient
// normalises, as prepareHead did when the message was recorded.
func headTargets(id uint64, head []byte) ([]target, error) {
	rec, err := decodeHead(id, head)
	if err != nil {
		return nil, err
	}
	obs := make([]store.Observation, len(rec.Observations))
	for i, o := range rec.Observations {
		obs[i] = store.Observation(o)
	}
	return targetsOf(obs), nil
}
