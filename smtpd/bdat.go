package smtpd

import (
	"reflect"
	"unsafe"

	"github.com/emersion/go-smtp"
)

// The result of an aborted BDAT transaction
//
// go-smtp runs Session.Data of a BDAT transaction in a goroutine of its
// own, which sends Data's result on the connection's dataResult channel,
// reading that field after Data returns. When the transaction ends
// without its LAST chunk (a chunk refused for its size, RSET, a new
// EHLO), go-smtp resets it and never receives that result; the next BDAT
// transaction then puts a new channel in the field, possibly while the
// old goroutine is still about to read it: a data race (go-smtp v0.25.1
// and v0.26.0), which may send the old transaction's failure on the new
// channel, where it would be taken for the reply to the new message.
//
// So the connection receives that result itself: Reset notes the channel
// of a transaction whose Data goroutine go-smtp will not hear from, and
// before the next command is read (conn.SetReadDeadline, on the
// connection's goroutine, as go-smtp's own accesses to the field) the
// result is received from it. Data of an aborted transaction always
// returns at once (its pipe is closed), so the wait is short. If a go-smtp
// upgrade moved the field, nothing is done and TestBDATAfterAbortedBDAT
// may fail under the race detector.

// dataResultFieldOK reports whether smtp.Conn has the dataResult field.
var dataResultFieldOK = func() bool {
	f, ok := reflect.TypeFor[smtp.Conn]().FieldByName("dataResult")
	return ok && f.Type == reflect.TypeFor[chan error]()
}()

// dataResult returns c's dataResult channel, or nil. Call it on the
// connection's goroutine only.
func dataResult(c *smtp.Conn) chan error {
	if !dataResultFieldOK || c == nil {
		return nil
	}
	f := reflect.ValueOf(c).Elem().FieldByName("dataResult")
	return *(*chan error)(unsafe.Pointer(f.UnsafeAddr()))
}

// bdatReset runs when go-smtp resets a transaction (on the connection's
// goroutine): if the transaction was a BDAT one whose Data goroutine
// go-smtp did not hear from, its result is to be received before the
// next command.
func (c *conn) bdatReset(sc *smtp.Conn) {
	ch := dataResult(sc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch == nil || ch == c.resultSeen {
		return // no BDAT since the last look
	}
	c.resultSeen = ch
	if !c.bdatRead {
		c.unheard = ch // reset before its LAST chunk: go-smtp will not receive
	}
	c.bdatRead = false
}

// bdatDone notes that a BDAT transaction's Data read its message to the
// end: go-smtp, at the LAST chunk, receives its result.
func (c *conn) bdatDone() {
	c.mu.Lock()
	c.bdatRead = true
	c.mu.Unlock()
}

// hearAbortedBDAT receives the result of an aborted BDAT transaction's
// Data, if one is due. It runs on the connection's goroutine before a
// command is read, holding no lock Data may take.
func (c *conn) hearAbortedBDAT() {
	c.mu.Lock()
	ch := c.unheard
	c.unheard = nil
	c.mu.Unlock()
	if ch != nil {
		<-ch
	}
}
