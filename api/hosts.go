package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// AllowHosts answers only the requests whose Host header names a
// loopback address (localhost, 127.0.0.0/8, [::1]) or one of hosts (names
// or addresses, without a port; compared without case); any other gets
// 421 Misdirected Request with a JSON error. With no tokens configured
// the API and the admin page are open on loopback, and a web page the
// browser loaded from elsewhere can rebind its own host name to 127.0.0.1
// (DNS rebinding) and then read them as its own origin: such a request
// still carries that page's host name, which this refuses.
func AllowHosts(hosts []string, next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[normalHost(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if !loopbackHost(host) && !allowed[host] {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
				"Host %q is not served here: use a loopback address, or list the name in http.allowed_hosts", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly is the host of a Host header, without port or brackets, lower case.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return normalHost(hostport)
}

func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// loopbackHost reports whether host names this machine's loopback.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
