// Package output prints reports as a table on a terminal (coloured only there,
// and never with NO_COLOR set) or as JSON/YAML for machines.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"sigs.k8s.io/yaml"
)

// Format is the value of -o/--output.
type Format string

const (
	Table Format = ""
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// Formats are the accepted -o values, for help text and shell completion.
var Formats = []string{"json", "yaml"}

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Table, JSON, YAML:
		return f, nil
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s (or omit -o for a table)", s, strings.Join(Formats, ", "))
}

// Tabular is a report that can also be shown as a table.
type Tabular interface {
	Header() []string
	Rows() [][]string
}

// Print writes v in format f; the table form comes from v's Tabular methods.
func Print(w io.Writer, f Format, v Tabular) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case YAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return PrintTable(w, v.Header(), v.Rows())
}

// PrintTable renders rows under a bold header, styled only when w is a colour
// terminal (lipgloss detects that, and honours NO_COLOR).
func PrintTable(w io.Writer, header []string, rows [][]string) error {
	r := lipgloss.NewRenderer(w)
	headerStyle := r.NewStyle().Bold(true).PaddingRight(2)
	cellStyle := r.NewStyle().PaddingRight(2)
	t := table.New().
		Border(lipgloss.HiddenBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).
		Headers(header...).
		Rows(rows...).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return headerStyle
			}
			return cellStyle
		})
	_, err := fmt.Fprintln(w, strings.TrimRight(t.Render(), "\n"))
	return err
}
