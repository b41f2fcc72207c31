package httpserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// RateLimiter allows each client at most Limit requests in any sliding
// 60-second window (the existing services' algorithm), tracked in memory per
// process.
type RateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	clients   map[string]*clientLog
	lastSweep time.Time
}

// clientLog holds the times (UnixNano, oldest first) of the client's requests
// within the window.
type clientLog struct{ times []int64 }

// NewRateLimiter returns a limiter of limit requests per minute; nil when
// limit <= 0 (no limit).
func NewRateLimiter(limit int) *RateLimiter {
	if limit <= 0 {
		return nil
	}
	return &RateLimiter{limit: limit, window: time.Minute, now: time.Now, clients: map[string]*clientLog{}}
}

// Allow records a request of client and reports whether it is within the
// limit, with the remaining allowance and the time the oldest request leaves
// the window.
func (l *RateLimiter) Allow(client string) (ok bool, remaining int, reset time.Time) {
	now := l.now()
	cut := now.Add(-l.window).UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.window {
		l.sweep(cut)
		l.lastSweep = now
	}
	c := l.clients[client]
	if c == nil {
		c = &clientLog{}
		l.clients[client] = c
	}
	k := 0
	for k < len(c.times) && c.times[k] <= cut {
		k++
	}
	c.times = c.times[k:]
	if len(c.times) >= l.limit {
		return false, 0, time.Unix(0, c.times[0]).Add(l.window)
	}
	c.times = append(c.times, now.UnixNano())
	return true, l.limit - len(c.times), time.Unix(0, c.times[0]).Add(l.window)
}

// sweep forgets clients with no request in the window (bounded memory).
func (l *RateLimiter) sweep(cut int64) {
	for k, c := range l.clients {
		if len(c.times) == 0 || c.times[len(c.times)-1] <= cut {
			delete(l.clients, k)
		}
	}
}

// ClientKey identifies the client of a request for rate limiting: the TCP
// peer address; when the peer is a private or loopback address (a proxy such
// as an ingress or load balancer in the VPC), the last X-Forwarded-For entry,
// which that proxy appended and the client cannot forge.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !(peer.IsPrivate() || peer.IsLoopback()) {
		return host
	}
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return host
	}
	last := xff[len(xff)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
		return a.String()
	}
	return host
}
