package packaging

import (
	"fmt"
	"strings"

	"github.com/community-edge/edge/gateway/internal/config"
)

// Edit changes one key of a YAML file found by its dotted path (for example
// "broker.external.password"), keeping every comment of the file.
type Edit struct {
	Key string
	// Value replaces the key's value; the lines of a block value (a list or map below the key)
	// are commented out, so "[]" turns an example list into an empty one that still shows the
	// example. A key found only commented out ("# key: …") is uncommented.
	Value string
	// Drop comments the key out with its block instead.
	Drop bool
}

// Derivation says how a package's configuration file is made from an example configuration.
type Derivation struct {
	Header string // comment lines put before the example's text
	Edits  []Edit
}

// Gateway is how /etc/community-gateway/gateway.yaml is made from configs/gateway.example.yaml:
// the example's sample devices, cameras and API token are kept as comments, secrets referenced
// from the environment become empty values, and data lives under /var/lib/community-gateway.
func Gateway() Derivation {
	return Derivation{
		Header: "# Installed by the community-gateway package from configs/gateway.example.yaml.\n" +
			"# dpkg keeps your edits on upgrade. After an edit: gateway check-config && systemctl restart community-gateway\n",
		Edits: []Edit{
			{Key: "data_dir", Value: "/var/lib/community-gateway"},
			{Key: "alink.models_dir", Value: "/etc/community-gateway/alink"},
			{Key: "broker.external.password", Value: `""`},
			{Key: "http.api_tokens", Value: "[]"},
			{Key: "influx.token", Value: `""`},
			{Key: "cameras", Value: "[]"},
			{Key: "devices", Value: "[]"},
		},
	}
}

// Cloud is how /etc/community-cloud/cloud.yaml is made from configs/cloud.example.yaml: one
// SQLite file under /var/lib/community-cloud instead of PostgreSQL.
func Cloud() Derivation {
	return Derivation{
		Header: "# Installed by the community-cloud package from configs/cloud.example.yaml.\n" +
			"# dpkg keeps your edits on upgrade. After an edit: cloud check-config && systemctl restart community-cloud\n",
		Edits: []Edit{
			{Key: "database.driver", Value: "sqlite"},
			{Key: "database.dsn_env", Drop: true},
			{Key: "database.path", Value: "/var/lib/community-cloud/cloud.db"},
		},
	}
}

// Derive applies the derivation to the example's text. It fails when a key is missing and when
// a ${VAR} reference is left outside comments, so a new secret in the example cannot slip
// into a package's default configuration unnoticed.
func (d Derivation) Derive(example []byte) ([]byte, error) {
	lines := strings.Split(string(example), "\n")
	var problems []string
	for _, e := range d.Edits {
		if err := apply(lines, e); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for i, l := range lines {
		if code, _ := splitComment(l); strings.Contains(code, "${") {
			problems = append(problems, fmt.Sprintf("line %d: environment reference left in %q", i+1, strings.TrimSpace(code)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("packaging: %s", strings.Join(problems, "; "))
	}
	return []byte(d.Header + strings.Join(lines, "\n")), nil
}

// apply makes one edit in place.
func apply(lines []string, e Edit) error {
	path := strings.Split(e.Key, ".")
	i, commented := find(lines, path)
	if i < 0 {
		return fmt.Errorf("%s: key not found", e.Key)
	}
	ind := indent(lines[i])
	if commented {
		if e.Drop {
			return nil
		}
		rest := strings.TrimSpace(lines[i])[1:]
		lines[i] = lines[i][:ind] + strings.TrimLeft(rest, " ")
	}
	// the block's lines are commented out at the block's own indentation, so they line up
	end, at := blockEnd(lines, i), -1
	for j := i + 1; j < end; j++ {
		if code, _ := splitComment(lines[j]); strings.TrimSpace(code) != "" && (at < 0 || indent(lines[j]) < at) {
			at = indent(lines[j])
		}
	}
	for j := i + 1; j < end; j++ {
		if code, _ := splitComment(lines[j]); strings.TrimSpace(code) != "" {
			lines[j] = lines[j][:at] + "# " + lines[j][at:]
		}
	}
	if e.Drop {
		lines[i] = lines[i][:ind] + "# " + lines[i][ind:]
		return nil
	}
	code, comment := splitComment(lines[i])
	name := path[len(path)-1]
	repl := code[:ind] + name + ": " + e.Value
	if comment != "" {
		// keep the comment in its column when the new value fits before it
		pad := len(lines[i]) - len(comment) - len(repl)
		if pad < 2 {
			pad = 2
		}
		repl += strings.Repeat(" ", pad) + comment
	}
	lines[i] = repl
	return nil
}

// find returns the line of the key at path, and whether only a commented-out "# key:" line of
// the last element was found.
func find(lines []string, path []string) (int, bool) {
	lo, hi, parent := 0, len(lines), -1
	for depth, name := range path {
		found, child, commented := -1, -1, -1
		for i := lo; i < hi && found < 0; i++ {
			code, comment := splitComment(lines[i])
			ind := indent(lines[i])
			if strings.TrimSpace(code) == "" {
				if c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#")); depth == len(path)-1 && commented < 0 &&
					(child < 0 || ind == child) && ind > parent && strings.HasPrefix(c, name+":") {
					commented = i
				}
				continue
			}
			if ind <= parent {
				break
			}
			if child < 0 {
				child = ind
			}
			if ind == child && strings.HasPrefix(code[ind:], name+":") {
				found = i
			}
		}
		if found < 0 {
			if commented >= 0 {
				return commented, true
			}
			return -1, false
		}
		lo, hi, parent = found+1, blockEnd(lines, found), child
	}
	return lo - 1, false
}

// blockEnd is the first line after i, not blank or a comment, that is indented no deeper than i.
func blockEnd(lines []string, i int) int {
	ind := indent(lines[i])
	for j := i + 1; j < len(lines); j++ {
		if code, _ := splitComment(lines[j]); strings.TrimSpace(code) != "" && indent(lines[j]) <= ind {
			return j
		}
	}
	return len(lines)
}

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// splitComment splits a YAML line before its comment (config.SplitComment), without the
// blanks between the two.
func splitComment(l string) (code, comment string) {
	c, m := config.SplitComment([]byte(l))
	if m == nil {
		return l, ""
	}
	return strings.TrimRight(string(c), " \t"), string(m)
}
