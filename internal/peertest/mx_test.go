package peertest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// caseDomain is the recipient domain of cases[i].
func caseDomain(i int) string { return fmt.Sprintf("c%02d.example.org", i+1) }

// caseIP is the loopback address of the MX of cases[i]'s domain: each
// case has a host of its own.
func caseIP(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

// listDomain is the domain of the mixed list: its MX refuses or accepts
// each address by its local part (see listReply), so one message to three
// of its addresses gets one bounce that names two.
const (
	listDomain = "list.example.org"
	listIP     = "127.0.2.1"
)

// listReply is what the list domain's MX answers at RCPT TO: an address
// whose local part ends in "-unknown" does not exist (seed 003:44), one
// ending in "-full" is over quota (seed 002:407); nil accepts the address.
func listReply(addr string) *smtp.SMTPError {
	local, _, _ := strings.Cut(addr, "@")
	switch {
	case strings.HasSuffix(local, "-unknown"):
		return parseReply("550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown in virtual alias table")
	case strings.HasSuffix(local, "-full"):
		return parseReply("552 5.2.2 The email account that you tried to reach is over quota.")
	}
	return nil
}

// route is one destination of the MTAs' routing tables: a recipient
// domain and the loopback address of its MX.
type route struct{ domain, ip string }

// mxRoutes lists every domain the fake MX serves.
func mxRoutes() []route {
	var rs []route
	for i := range cases {
		rs = append(rs, route{caseDomain(i), caseIP(i)})
	}
	return append(rs, route{listDomain, listIP})
}

// parseReply turns "550 5.1.1 text" (the enhanced code optional) into the
// error go-smtp writes as that very reply.
func parseReply(reply string) *smtp.SMTPError {
	code, err := strconv.Atoi(reply[:3])
	if err != nil {
		panic(fmt.Sprintf("reply %q has no code", reply))
	}
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: reply[4:]}
	if first, rest, ok := strings.Cut(e.Message, " "); ok {
		var ec smtp.EnhancedCode
		if n, _ := fmt.Sscanf(first, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); n == 3 && ec[0] == code/100 {
			e.EnhancedCode, e.Message = ec, rest
		}
	}
	return e
}

// fakeMX is the recipients' mail servers: one go-smtp server listening on
// a loopback address per case (all on one port) that answers each
// recipient with its case's reply, and keeps the messages it accepts.
type fakeMX struct {
	port string

	mu        sync.Mutex
	delivered map[string][]byte // by recipient
}

func startMX(t *testing.T) *fakeMX {
	t.Helper()
	mx := &fakeMX{delivered: map[string][]byte{}}
	srv := smtp.NewServer(mx)
	srv.Domain = "mx.example.org"
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	ls := listenAll(t, mxRoutes())
	_, mx.port, _ = net.SplitHostPort(ls[0].Addr().String())
	done := make(chan error, len(ls))
	for _, l := range ls {
		go func() { done <- srv.Serve(l) }()
	}
	t.Cleanup(func() {
		srv.Close()
		for range ls {
			if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				t.Errorf("fake MX: %v", err)
			}
		}
	})
	return mx
}

// listenAll listens on every route's address, all on one port that the
// kernel picks for the first and that is free on the others.
func listenAll(t *testing.T, rs []route) []net.Listener {
	t.Helper()
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", rs[0].ip+":0")
		if err != nil {
			t.Fatalf("fake MX: %v (loopback addresses beyond 127.0.0.1 are needed)", err)
		}
		ls := []net.Listener{first}
		_, port, _ := net.SplitHostPort(first.Addr().String())
		for _, r := range rs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(r.ip, port))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == len(rs) {
			return ls
		}
		for _, l := range ls {
			l.Close()
		}
	}
	t.Fatalf("fake MX: found no port free on all of %d loopback addresses", len(rs))
	return nil
}

// message returns what the MX accepted for rcpt, nil if nothing.
func (mx *fakeMX) message(rcpt string) []byte {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.delivered[rcpt]
}

// caseOf returns the index in cases of rcpt's domain, -1 for another.
func caseOf(rcpt string) int {
	_, domain, _ := strings.Cut(rcpt, "@")
	for i := range cases {
		if strings.EqualFold(domain, caseDomain(i)) {
			return i
		}
	}
	return -1
}

func (mx *fakeMX) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mxSession{mx: mx, conn: c}, nil
}

type mxSession struct {
	mx    *fakeMX
	conn  *smtp.Conn
	rcpts []string
}

// refuse returns the error for reply; for a 421 or 521, which say the
// server closes the connection, it writes the reply itself and closes its
// side of the connection, as a real server does (go-smtp would go on
// answering commands). Only its side: the client may have pipelined more
// commands, and closing with them unread would send a reset that can
// overtake the reply. go-smtp reads on until the client hangs up, and its
// answers go nowhere.
func (s *mxSession) refuse(reply string) error {
	e := parseReply(reply)
	if e.Code == 421 || e.Code == 521 {
		c := s.conn.Conn()
		fmt.Fprintf(c, "%s\r\n", reply)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		} else {
			c.Close()
		}
	}
	return e
}

func (s *mxSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *mxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if i := caseOf(to); i >= 0 && cases[i].stage == atRCPT {
		return s.refuse(cases[i].text(to))
	}
	if strings.HasSuffix(strings.ToLower(to), "@"+listDomain) {
		if e := listReply(to); e != nil {
			return e
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *mxSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, rcpt := range s.rcpts {
		if i := caseOf(rcpt); i >= 0 && cases[i].stage == atDATA {
			return s.refuse(cases[i].text(rcpt))
		}
	}
	s.mx.mu.Lock()
	defer s.mx.mu.Unlock()
	for _, rcpt := range s.rcpts {
		s.mx.delivered[rcpt] = data
	}
	return nil
}

func (s *mxSession) Reset()        { s.rcpts = nil }
func (s *mxSession) Logout() error { return nil }
