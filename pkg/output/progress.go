package output

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"golang.org/x/term"
)

// Progress shows the state of each awaited object: on a terminal as a block of
// lines redrawn in place, otherwise as one plain line per change (for logs and CI).
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	live   bool
	order  []string
	state  map[string]progressLine
	drawn  int
	width  int // of the terminal: a wrapped line would break the redraw's cursor arithmetic
	done   lipgloss.Style
	wait   lipgloss.Style
	failed lipgloss.Style
}

type progressLine struct {
	done bool
	msg  string
}

// NewProgress writes to w, live only if w is a terminal.
func NewProgress(w io.Writer) *Progress {
	live, width := false, 0
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		live = true
		if width, _, _ = term.GetSize(int(f.Fd())); width <= 0 {
			width = 80
		}
	}
	r := lipgloss.NewRenderer(w)
	return &Progress{
		w: w, live: live, width: width, state: map[string]progressLine{},
		done:   r.NewStyle().Foreground(lipgloss.Color("2")),
		wait:   r.NewStyle().Foreground(lipgloss.Color("3")),
		failed: r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
	}
}

// Update records the state of one object and shows it.
func (p *Progress) Update(key string, done bool, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, seen := p.state[key]
	if !seen {
		p.order = append(p.order, key)
	}
	if seen && old.done == done && old.msg == msg {
		return
	}
	p.state[key] = progressLine{done, msg}
	if !p.live {
		mark := "..."
		if done {
			mark = "ok"
		}
		fmt.Fprintf(p.w, "%-4s %s: %s\n", mark, key, msg)
		return
	}
	p.redraw()
}

func (p *Progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
	}
	for _, key := range p.order {
		l := p.state[key]
		mark := p.wait.Render("…")
		switch {
		case l.done:
			mark = p.done.Render("✓")
		case strings.HasPrefix(l.msg, "FAILED:"):
			mark = p.failed.Render("✗")
		}
		fmt.Fprintf(p.w, "%s %s\n", mark, truncate(key+"  "+l.msg, p.width-3))
	}
	p.drawn = len(p.order)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if n <= 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
